with customer_months as (
    select * from {{ ref('int_customer_months') }}
),

-- Per country (the customer's) and month of the order.
monthly as (
    select
        country,
        order_month,
        cast(sum(orders) as bigint) as orders,
        count(distinct customer_id) as paying_customers,
        count(distinct customer_id) filter (where cohort_month = order_month) as new_customers,
        sum(gross_revenue) as gross_revenue,
        sum(net_revenue) as net_revenue
    from customer_months
    group by
        country,
        order_month
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
