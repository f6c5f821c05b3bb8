with transactions as (
    select * from {{ ref('stg_transactions') }}
),

customer_orders as (
    select * from {{ ref('int_customer_orders') }}
),

calendar as (
    select cast(day as date) as revenue_date
    from {{ series(
        '(select min(order_date) from transactions)',
        reference_date() ~ ' + interval 1 day',
        'interval 1 day',
        'days',
        'day'
    ) }}
),

orders_by_day as (
    select
        order_date,
        {{ money('sum(gross_amount)') }} as gross_revenue,
        {{ money('sum(refund_amount)') }} as refunds,
        {{ money('sum(net_amount)') }} as net_revenue,
        count(*) filter (where is_paid) as orders,
        count(*) filter (where is_refunded) as refunded_orders,
        count(*) filter (where is_failed) as failed_orders,
        count(*) as attempted_orders,
        count(*) filter (where is_paid and is_promotion) as promo_orders,
        count(distinct customer_id) filter (where is_paid) as paying_customers
    from transactions
    group by order_date
),

new_customers_by_day as (
    select
        first_order_date as order_date,
        count(*) as new_customers
    from customer_orders
    group by first_order_date
),

daily as (
    select
        calendar.revenue_date,
        coalesce(orders_by_day.gross_revenue, 0) as gross_revenue,
        coalesce(orders_by_day.refunds, 0) as refunds,
        coalesce(orders_by_day.net_revenue, 0) as net_revenue,
        coalesce(orders_by_day.orders, 0) as orders,
        coalesce(orders_by_day.refunded_orders, 0) as refunded_orders,
        coalesce(orders_by_day.failed_orders, 0) as failed_orders,
        coalesce(orders_by_day.attempted_orders, 0) as attempted_orders,
        coalesce(orders_by_day.promo_orders, 0) as promo_orders,
        coalesce(orders_by_day.paying_customers, 0) as paying_customers,
        coalesce(new_customers_by_day.new_customers, 0) as new_customers
    from calendar
    left join orders_by_day on calendar.revenue_date = orders_by_day.order_date
    left join new_customers_by_day on calendar.revenue_date = new_customers_by_day.order_date
),

with_trailing as (
    select
        *,
        {{ money('sum(net_revenue) over (order by revenue_date rows between 6 preceding and current row)') }}
            as net_revenue_7d,
        lag(net_revenue, 7) over (order by revenue_date) as net_revenue_same_weekday_last_week
    from daily
),

final as (
    select
        revenue_date,
        {{ iso_day_of_week('revenue_date') }} as day_of_week,
        gross_revenue,
        refunds,
        net_revenue,
        orders,
        refunded_orders,
        failed_orders,
        attempted_orders,
        paying_customers,
        new_customers,
        {{ money_average(safe_divide('gross_revenue', 'orders')) }} as average_order_value,
        promo_orders,
        {{ safe_divide('promo_orders', 'orders') }} as promo_share,
        net_revenue_7d,
        {{ safe_divide('net_revenue', 'net_revenue_same_weekday_last_week') }} - 1 as growth_vs_same_weekday_last_week,
        {{ safe_divide('net_revenue_7d', 'lag(net_revenue_7d, 7) over (order by revenue_date)') }} - 1 as growth_7d_vs_prior_7d
    from with_trailing
)

select * from final
