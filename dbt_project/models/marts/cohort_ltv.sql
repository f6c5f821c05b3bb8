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

-- The horizons each cohort is old enough for (macro cohort_is_old_enough).
cohort_horizons as (
    select
        cohorts.cohort_month,
        cohorts.cohort_size,
        horizons.horizon_days
    from cohorts
    cross join horizons
    cross join bounds
    where {{ cohort_is_old_enough('cohorts.cohort_month', 'horizons.horizon_days', 'bounds.reference_date') }}
),

-- Each paid order of a cohort's customer: the day after the first order it fell on, and its
-- contribution = net amount × the gross margin of its month (roi_monthly: net revenue − costs of
-- revenue, shared pro rata over the month's revenue; null in a month without cost data).
order_values as (
    select
        customer_orders.cohort_month,
        date_diff('day', customer_orders.first_order_date, paid_orders.order_date) as days_since_first_order,
        date_diff('month', customer_orders.cohort_month, paid_orders.order_month) as months_since_first_order,
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

-- The cohort's size and the CAC of its month, the base of its payback.
cohort_costs as (
    select
        cohorts.cohort_month,
        cohorts.cohort_size,
        roi_monthly.cac
    from cohorts
    left join roi_monthly on cohorts.cohort_month = roi_monthly.roi_month
),

-- Payback (macro cohort_payback_months): the first month (0 = the acquisition month) by whose end
-- the cohort's cumulative contribution per customer covers its CAC; null while it has not, or
-- without a CAC.
payback as (
    {{ cohort_payback_months('order_values', 'cohort_costs', ['cohort_month'], 'cohort_size', 'cac') }}
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
