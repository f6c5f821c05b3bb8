-- The paid orders (int_paid_orders) by customer, product and month.
with customer_product_months as (
    select * from {{ ref('int_customer_product_months') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

-- Every month from a product's first sale to the reference date's month, so that a month without
-- a sale is a row of zeros (a fall of 100 %), not a gap that hides it.
product_months as (
    select
        first_sales.product,
        {{ unnest_months('first_sales.first_month', "date_trunc('month', bounds.reference_date)") }} as order_month
    from (
        select
            product,
            min(order_month) as first_month
        from customer_product_months
        group by product
    ) as first_sales
    cross join bounds
),

-- Per product and month: a row of customer_product_months is one customer of the month.
monthly_sales as (
    select
        product,
        order_month,
        cast(sum(orders) as bigint) as orders,
        cast(sum(refunded_orders) as bigint) as refunded_orders,
        count(*) as customers,
        sum(gross_revenue) as gross_revenue,
        sum(refunds) as refunds,
        sum(net_revenue) as net_revenue
    from customer_product_months
    group by product, order_month
),

-- Distinct customers of a product over the whole history: the one count its months cannot give.
product_customers as (
    select
        product,
        count(distinct customer_id) as customers
    from customer_product_months
    group by product
),

monthly as (
    select
        'month' as grain,
        product_months.product,
        product_months.order_month,
        coalesce(monthly_sales.orders, 0) as orders,
        coalesce(monthly_sales.refunded_orders, 0) as refunded_orders,
        coalesce(monthly_sales.customers, 0) as customers,
        coalesce(monthly_sales.gross_revenue, 0) as gross_revenue,
        coalesce(monthly_sales.refunds, 0) as refunds,
        coalesce(monthly_sales.net_revenue, 0) as net_revenue,
        lag(coalesce(monthly_sales.net_revenue, 0)) over (
            partition by product_months.product
            order by product_months.order_month
        ) as net_revenue_previous_month
    from product_months
    left join monthly_sales
        on product_months.product = monthly_sales.product
        and product_months.order_month = monthly_sales.order_month
),

all_time as (
    select
        'all_time' as grain,
        monthly_sales.product,
        cast(null as date) as order_month,
        cast(sum(monthly_sales.orders) as bigint) as orders,
        cast(sum(monthly_sales.refunded_orders) as bigint) as refunded_orders,
        any_value(product_customers.customers) as customers,
        sum(monthly_sales.gross_revenue) as gross_revenue,
        sum(monthly_sales.refunds) as refunds,
        sum(monthly_sales.net_revenue) as net_revenue,
        cast(null as double) as net_revenue_previous_month
    from monthly_sales
    inner join product_customers on monthly_sales.product = product_customers.product
    group by monthly_sales.product
),

periods as (
    select * from monthly
    union all
    select * from all_time
),

final as (
    select
        grain,
        product,
        order_month,
        orders,
        refunded_orders,
        customers,
        {{ money('gross_revenue') }} as gross_revenue,
        {{ money('refunds') }} as refunds,
        {{ money('net_revenue') }} as net_revenue,
        {{ safe_divide('cast(refunded_orders as double)', 'orders') }} as refund_rate,
        -- Share of the month's (or the whole history's) net revenue of every product.
        {{ safe_divide('cast(net_revenue as double)', 'sum(net_revenue) over (partition by grain, order_month)') }}
            as revenue_share,
        {{ money('net_revenue_previous_month') }} as net_revenue_previous_month,
        {{ safe_divide('cast(net_revenue as double)', 'net_revenue_previous_month') }} - 1 as net_revenue_growth
    from periods
)

select * from final
