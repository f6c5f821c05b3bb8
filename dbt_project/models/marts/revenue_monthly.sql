with transactions as (
    select * from {{ ref('stg_transactions') }}
),

daily as (
    select * from {{ ref('revenue_daily') }}
),

customer_purchase_months as (
    select * from {{ ref('int_customer_purchase_months') }}
),

product_days as (
    select * from {{ ref('int_product_days') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

months as (
    select
        date_trunc('month', revenue_date) as revenue_month,
        count(*) as days_with_data,
        {{ money('sum(gross_revenue)') }} as gross_revenue,
        {{ money('sum(refunds)') }} as refunds,
        {{ money('sum(net_revenue)') }} as net_revenue,
        cast(sum(orders) as bigint) as orders,
        cast(sum(new_customers) as bigint) as new_customers
    from daily
    group by 1
),

-- Customers with a paid order in the month: up to the reference date a row each of
-- int_customer_purchase_months (one per customer and month), counted without grouping by
-- customer; and the reference date's month counts its paid orders after that date too (none when
-- the date is the last day loaded), as revenue_daily's month counts every transaction of its days:
-- the customers of those orders without a row of the month.
month_customers as (
    select
        order_month as revenue_month,
        count(*) as paying_customers
    from customer_purchase_months
    group by order_month
),

late_customers as (
    select
        date_trunc('month', transactions.order_date) as revenue_month,
        count(distinct transactions.customer_id) as paying_customers
    from transactions
    cross join bounds
    where transactions.is_paid
        and transactions.order_date > bounds.reference_date
        -- Read from the UTC times that can fall after the reference date only (the row groups
        -- of the days after it), before their store day is computed.
        and transactions.created_at >= cast(bounds.reference_date + 1 - {{ utc_day_margin() }} as timestamp)
        and not exists (
            select 1
            from customer_purchase_months
            where customer_purchase_months.customer_id = transactions.customer_id
                and customer_purchase_months.order_month = date_trunc('month', transactions.order_date)
        )
    group by 1
),

paying_customers as (
    select
        revenue_month,
        cast(sum(paying_customers) as bigint) as paying_customers
    from (
        select * from month_customers
        union all
        select * from late_customers
    )
    group by revenue_month
),

-- Monthly plans recur in the month they are bought; an annual plan is spread as 1/12 over the
-- month of sale and the eleven after it (the exact sum of the annual sales divided once, then
-- rounded to the cent).
recurring_sales as (
    select
        date_trunc('month', order_date) as sale_month,
        sum(net_revenue) filter (where product in {{ "('" ~ var('monthly_plan_products') | join("', '") ~ "')" }}) as monthly_plan_revenue,
        sum(net_revenue) filter (where product in {{ "('" ~ var('annual_plan_products') | join("', '") ~ "')" }}) as annual_plan_revenue
    from product_days
    group by 1
),

mrr as (
    select
        months.revenue_month,
        {{ money(
            'coalesce(sum(recurring_sales.monthly_plan_revenue) filter (
                where recurring_sales.sale_month = months.revenue_month), 0)
            + coalesce(sum(recurring_sales.annual_plan_revenue), 0) / 12'
        ) }} as mrr
    from months
    left join recurring_sales
        on recurring_sales.sale_month <= months.revenue_month
        and recurring_sales.sale_month > months.revenue_month - interval 12 month
    group by months.revenue_month
),

final as (
    select
        cast(months.revenue_month as date) as revenue_month,
        months.days_with_data,
        months.days_with_data = extract(day from last_day(months.revenue_month)) as is_complete_month,
        months.gross_revenue,
        months.refunds,
        months.net_revenue,
        coalesce(mrr.mrr, 0) as mrr,
        {{ safe_divide('months.net_revenue', 'lag(months.net_revenue) over (order by months.revenue_month)') }} - 1 as growth_rate,
        months.orders,
        coalesce(paying_customers.paying_customers, 0) as paying_customers,
        months.new_customers,
        {{ money_average(safe_divide('months.gross_revenue', 'months.orders')) }} as average_order_value,
        {{ money_average(safe_divide('months.net_revenue', 'paying_customers.paying_customers')) }}
            as revenue_per_customer
    from months
    left join paying_customers on months.revenue_month = paying_customers.revenue_month
    left join mrr on months.revenue_month = mrr.revenue_month
)

select * from final
