{%- set horizons = var('ltv_horizons_days') -%}
with customer_months as (
    select * from {{ ref('int_customer_months') }}
),

customer_orders as (
    select * from {{ ref('int_customer_orders') }}
),

monthly_margins as (
    select * from {{ ref('int_monthly_margins') }}
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

cohort_sizes as (
    select
        cohort_month,
        count(*) as cohort_size
    from customer_orders
    group by cohort_month
),

-- A cohort's CAC: the marketing spend of its month over the customers it acquired.
cohorts as (
    select
        cohort_sizes.cohort_month,
        cohort_sizes.cohort_size,
        coalesce(monthly_margins.marketing_spend, 0) as marketing_spend,
        {{ acquisition_cost('coalesce(monthly_margins.marketing_spend, 0)', 'cohort_sizes.cohort_size') }} as cac
    from cohort_sizes
    left join monthly_margins on cohort_sizes.cohort_month = monthly_margins.calendar_month
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

-- The cohorts' net revenue by LTV horizon row of int_customer_months and calendar month: a few
-- thousand rows that the horizons below join instead of every customer's.
cohort_horizon_months as (
    select
        cohort_month,
        ltv_horizon_days,
        order_month,
        sum(net_revenue) as revenue
    from customer_months
    group by
        cohort_month,
        ltv_horizon_days,
        order_month
),

-- Net revenue of the orders within the first `horizon_days` days of each customer (day 0 = the
-- first order's day; int_customer_months' rows of the horizon and the shorter ones), by the
-- calendar month they fell in: an exact decimal sum (in two steps, the same figure).
horizon_months as (
    select
        cohort_horizons.cohort_month,
        cohort_horizons.horizon_days,
        cohort_horizons.cohort_size,
        cohort_horizon_months.order_month,
        sum(cohort_horizon_months.revenue) as revenue
    from cohort_horizons
    inner join cohort_horizon_months
        on cohort_horizons.cohort_month = cohort_horizon_months.cohort_month
        and cohort_horizon_months.ltv_horizon_days <= cohort_horizons.horizon_days
    group by
        cohort_horizons.cohort_month,
        cohort_horizons.horizon_days,
        cohort_horizons.cohort_size,
        cohort_horizon_months.order_month
),

-- A month's contribution = its net revenue × its gross margin (int_monthly_margins: net revenue −
-- costs of revenue, shared pro rata over the month's revenue; null in a month without cost data).
-- The horizon's contribution is known only when every one of its months has cost data; the
-- months are added in calendar order, so that the double sum is the same on every build.
cohort_values as (
    select
        horizon_months.cohort_month,
        horizon_months.horizon_days,
        horizon_months.cohort_size,
        sum(horizon_months.revenue) as revenue,
        case
            when count(monthly_margins.gross_margin) = count(*) then {{ ordered_sum(
                'horizon_months.revenue * monthly_margins.gross_margin', 'horizon_months.order_month'
            ) }}
        end as contribution
    from horizon_months
    left join monthly_margins on horizon_months.order_month = monthly_margins.calendar_month
    group by
        horizon_months.cohort_month,
        horizon_months.horizon_days,
        horizon_months.cohort_size
),

-- Each customer's month of paid orders with its calendar month since the cohort's and that month's
-- gross margin.
payback_orders as (
    select
        customer_months.cohort_month,
        {{ dbt.datediff('customer_months.cohort_month', 'customer_months.order_month', 'month') }} as months_since_first_order,
        customer_months.net_revenue as net_amount,
        monthly_margins.gross_margin
    from customer_months
    left join monthly_margins on customer_months.order_month = monthly_margins.calendar_month
),

-- Payback (macro cohort_payback_months): the first month (0 = the acquisition month) by whose end
-- the cohort's cumulative contribution per customer covers its CAC; null while it has not, or
-- without a CAC.
payback as (
    {{ cohort_payback_months('payback_orders', 'cohorts', ['cohort_month'], 'cohort_size', 'cac') }}
),

final as (
    select
        cohort_values.cohort_month,
        cohort_values.horizon_days,
        cohort_values.cohort_size,
        {{ money_average('cohort_values.revenue / cohort_values.cohort_size') }} as ltv_revenue,
        {{ money_average('cohort_values.contribution / cohort_values.cohort_size') }} as ltv_contribution,
        cohorts.cac,
        -- (contribution / cohort size) / (spend / cohort size), before either is rounded to the cent.
        {{ safe_divide('cohort_values.contribution', 'nullif(cohorts.marketing_spend, 0)') }} as ltv_to_cac,
        payback.payback_months
    from cohort_values
    inner join cohorts on cohort_values.cohort_month = cohorts.cohort_month
    left join payback on cohort_values.cohort_month = payback.cohort_month
)

select * from final
