{%- set horizons = var('ltv_horizons_days') -%}
with paid_orders as (
    select * from {{ ref('int_paid_orders') }}
),

customer_orders as (
    select * from {{ ref('int_customer_orders') }}
),

roi_monthly as (
    select * from {{ ref('roi_monthly') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

horizons as (
    select horizon_days
    from (
        values
        {%- for horizon in horizons %}
        ({{ horizon }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as horizons(horizon_days)
),

cohorts as (
    select
        cohort_month,
        count(*) as cohort_size
    from customer_orders
    group by cohort_month
),

-- A cohort is old enough for a horizon when its last customer (first paid order on the month's
-- last day) has had the whole horizon by the reference date: younger cohorts would look worse
-- only because their customers have had less time.
cohort_horizons as (
    select
        cohorts.cohort_month,
        cohorts.cohort_size,
        horizons.horizon_days
    from cohorts
    cross join horizons
    cross join bounds
    where cast(last_day(cohorts.cohort_month) as date) + horizons.horizon_days - 1 <= bounds.reference_date
),

-- Each paid order of a cohort's customer: the day after the first order it fell on, and its
-- contribution = net amount × the gross margin of its month (roi_monthly: net revenue − costs of
-- revenue, shared pro rata over the month's revenue; null in a month without cost data).
order_values as (
    select
        customer_orders.cohort_month,
        {{ dbt.datediff('customer_orders.first_order_date', 'paid_orders.order_date', 'day') }} as days_since_first_order,
        {{ dbt.datediff('customer_orders.cohort_month', 'paid_orders.order_month', 'month') }} as months_since_first_order,
        paid_orders.net_amount,
        paid_orders.net_amount * roi_monthly.gross_margin as contribution
    from paid_orders
    inner join customer_orders on paid_orders.customer_id = customer_orders.customer_id
    left join roi_monthly on paid_orders.order_month = roi_monthly.roi_month
),

-- Net revenue and contribution of the orders within the first `horizon_days` days of each
-- customer (day 0 = the first order's day). The contribution is known only when every one of
-- those orders' months has cost data.
cohort_values as (
    select
        cohort_horizons.cohort_month,
        cohort_horizons.horizon_days,
        cohort_horizons.cohort_size,
        sum(order_values.net_amount) as revenue,
        case
            when count(order_values.contribution) = count(*) then sum(order_values.contribution)
        end as contribution
    from cohort_horizons
    inner join order_values
        on cohort_horizons.cohort_month = order_values.cohort_month
        and order_values.days_since_first_order < cohort_horizons.horizon_days
    group by
        cohort_horizons.cohort_month,
        cohort_horizons.horizon_days,
        cohort_horizons.cohort_size
),

-- Cumulative contribution per customer of each cohort by calendar month since its first, as far
-- as it is known without a gap in the cost data.
monthly_contribution as (
    select
        cohort_month,
        months_since_first_order,
        sum(contribution) as contribution,
        count(contribution) = count(*) as is_known
    from order_values
    group by
        cohort_month,
        months_since_first_order
),

cumulative_contribution as (
    select
        monthly_contribution.cohort_month,
        monthly_contribution.months_since_first_order,
        sum(monthly_contribution.contribution) over cohort_so_far / cohorts.cohort_size as contribution_per_customer,
        bool_and(monthly_contribution.is_known) over cohort_so_far as is_known
    from monthly_contribution
    inner join cohorts on monthly_contribution.cohort_month = cohorts.cohort_month
    window cohort_so_far as (
        partition by monthly_contribution.cohort_month
        order by monthly_contribution.months_since_first_order
    )
),

-- Payback: the first month (0 = the acquisition month) by whose end the cohort's cumulative
-- contribution per customer covers its CAC; null while it has not, or without a CAC.
payback as (
    select
        cumulative_contribution.cohort_month,
        min(cumulative_contribution.months_since_first_order) filter (
            where cumulative_contribution.is_known
                and cumulative_contribution.contribution_per_customer >= roi_monthly.cac
        ) as payback_months
    from cumulative_contribution
    inner join roi_monthly on cumulative_contribution.cohort_month = roi_monthly.roi_month
    group by cumulative_contribution.cohort_month
),

final as (
    select
        cohort_values.cohort_month,
        cohort_values.horizon_days,
        cohort_values.cohort_size,
        cohort_values.revenue / cohort_values.cohort_size as ltv_revenue,
        cohort_values.contribution / cohort_values.cohort_size as ltv_contribution,
        roi_monthly.cac,
        {{ safe_divide('cohort_values.contribution / cohort_values.cohort_size', 'roi_monthly.cac') }} as ltv_to_cac,
        payback.payback_months
    from cohort_values
    left join roi_monthly on cohort_values.cohort_month = roi_monthly.roi_month
    left join payback on cohort_values.cohort_month = payback.cohort_month
)

select * from final
