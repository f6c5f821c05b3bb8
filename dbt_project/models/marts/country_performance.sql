with purchase_months as (
    select * from {{ ref('int_customer_purchase_months') }}
),

customer_orders as (
    select * from {{ ref('int_customer_orders') }}
),

-- A customer's month (int_customer_purchase_months) under the customer's country: one row each, so
-- the month's customer counts count rows, and no grouping by customer is needed.
customer_month_totals as (
    select
        customer_orders.country,
        purchase_months.order_month,
        purchase_months.customer_id,
        purchase_months.order_month = customer_orders.cohort_month as is_new_customer,
        purchase_months.paid_orders as orders,
        purchase_months.gross_spend as gross_revenue,
        purchase_months.net_spend as net_revenue
    from purchase_months
    inner join customer_orders on purchase_months.customer_id = customer_orders.customer_id
),

-- Per country (the customer's) and month of the order.
monthly as (
    select
        country,
        order_month,
        cast(sum(orders) as bigint) as orders,
        count(customer_id) as paying_customers,
        count(customer_id) filter (where is_new_customer) as new_customers,
        sum(gross_revenue) as gross_revenue,
        sum(net_revenue) as net_revenue
    from customer_month_totals
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
