with paid_orders as (
    select * from {{ ref('int_paid_orders') }}
),

customer_orders as (
    select * from {{ ref('int_customer_orders') }}
),

-- Per country (the customer's) and month of the order.
monthly as (
    select
        customer_orders.country,
        paid_orders.order_month,
        count(*) as orders,
        count(distinct paid_orders.customer_id) as paying_customers,
        count(distinct paid_orders.customer_id) filter (
            where customer_orders.cohort_month = paid_orders.order_month
        ) as new_customers,
        sum(paid_orders.gross_amount) as gross_revenue,
        sum(paid_orders.net_amount) as net_revenue
    from paid_orders
    inner join customer_orders on paid_orders.customer_id = customer_orders.customer_id
    group by
        customer_orders.country,
        paid_orders.order_month
),

final as (
    select
        monthly.country,
        monthly.order_month,
        monthly.orders,
        monthly.paying_customers,
        monthly.new_customers,
        {{ money('monthly.gross_revenue') }} as gross_revenue,
        {{ money('monthly.net_revenue') }} as net_revenue,
        {{ money_average(safe_divide('monthly.gross_revenue', 'monthly.orders')) }} as average_order_value,
        {{ safe_divide('cast(monthly.net_revenue as double)', 'sum(monthly.net_revenue) over (partition by monthly.order_month)') }}
            as revenue_share,
        {{ money('previous_month.net_revenue') }} as net_revenue_previous_month,
        -- Against the calendar month before: a country without an order then has no growth rate.
        {{ safe_divide('cast(monthly.net_revenue as double)', 'previous_month.net_revenue') }} - 1 as net_revenue_growth
    from monthly
    left join monthly as previous_month
        on monthly.country = previous_month.country
        and monthly.order_month - interval 1 month = previous_month.order_month
)

select * from final
