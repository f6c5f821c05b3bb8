-- A day's orders: every transaction of the day, paid or not (int_order_days).
with orders_by_day as (
    select * from {{ ref('int_order_days') }}
),

customer_orders as (
    select * from {{ ref('int_customer_orders') }}
),

calendar as (
    select cast(day as date) as revenue_date
    from {{ series(
        '(select min(order_date) from orders_by_day)',
        reference_date() ~ ' + interval 1 day',
        'interval 1 day',
        'days',
        'day'
    ) }}
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
