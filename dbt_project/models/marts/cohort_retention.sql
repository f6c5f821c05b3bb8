with purchase_months as (
    select * from {{ ref('int_customer_purchase_months') }}
),

-- A customer's cohort is the month of their first paid order.
customer_cohorts as (
    select * from {{ ref('int_customer_orders') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

cohorts as (
    select
        cohort_month,
        count(*) as cohort_size
    from customer_cohorts
    group by cohort_month
),

-- Every month from the cohort's first to the reference month, so that a month in which nobody of
-- the cohort bought shows 0.
cohort_months as (
    select
        cohorts.cohort_month,
        cohorts.cohort_size,
        {{ unnest_range(dbt.datediff('cohorts.cohort_month', 'bounds.reference_date', 'month') ~ ' + 1') }} as months_since_first_order
    from cohorts
    cross join bounds
),

-- A customer's month (int_customer_purchase_months) under the customer's cohort: one row each, so
-- the cohort's month counts rows, and no grouping by customer is needed.
customer_month_revenue as (
    select
        customer_cohorts.cohort_month,
        purchase_months.order_month,
        purchase_months.customer_id,
        purchase_months.net_spend as net_revenue
    from purchase_months
    inner join customer_cohorts on purchase_months.customer_id = customer_cohorts.customer_id
),

activity as (
    select
        cohort_month,
        {{ dbt.datediff('cohort_month', 'order_month', 'month') }} as months_since_first_order,
        count(customer_id) as active_customers,
        {{ money('sum(net_revenue)') }} as revenue
    from customer_month_revenue
    group by
        cohort_month,
        months_since_first_order
),

final as (
    select
        cohort_months.cohort_month,
        cohort_months.months_since_first_order,
        cast({{ dbt.dateadd('month', 'cohort_months.months_since_first_order', 'cohort_months.cohort_month') }} as date) as activity_month,
        cohort_months.cohort_size,
        coalesce(activity.active_customers, 0) as active_customers,
        coalesce(activity.active_customers, 0) / cohort_months.cohort_size as retention_rate,
        coalesce(activity.revenue, 0) as revenue,
        {{ money_average(
            'sum(coalesce(activity.revenue, 0)) over (
                partition by cohort_months.cohort_month
                order by cohort_months.months_since_first_order
            ) / cohort_months.cohort_size'
        ) }} as cumulative_revenue_per_customer
    from cohort_months
    left join activity
        on cohort_months.cohort_month = activity.cohort_month
        and cohort_months.months_since_first_order = activity.months_since_first_order
)

select * from final
