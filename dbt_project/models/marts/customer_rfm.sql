with customer_orders as (
    select * from {{ ref('int_customer_orders') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

-- Frequency counts paid orders, monetary their net amount (int_customer_orders). Days and quintiles
-- are cast to the contract's bigint: Spark's datediff and ntile give ints.
measured as (
    select
        customer_orders.customer_id,
        customer_orders.first_order_date,
        customer_orders.last_order_date,
        customer_orders.cohort_month,
        customer_orders.is_repeat_customer,
        customer_orders.paid_orders as frequency,
        customer_orders.gross_spend,
        customer_orders.net_spend as monetary,
        cast({{ dbt.datediff('customer_orders.last_order_date', 'bounds.reference_date', 'day') }} as bigint) as recency_days,
        cast({{ dbt.datediff('customer_orders.first_order_date', 'bounds.reference_date', 'day') }} as bigint) as tenure_days,
        -- Between purchase days, so never 0; null for customers who have not come back yet.
        {{ safe_divide(
            dbt.datediff('customer_orders.first_order_date', 'customer_orders.last_order_date', 'day'),
            'customer_orders.purchase_days - 1'
        ) }} as average_days_between_orders
    from customer_orders
    cross join bounds
),

-- Quintiles: 5 = most recent, most frequent, highest spend. customer_id only makes the split of
-- equal values deterministic; the next step gives equal values one score anyway (bigint, as above).
quintiles as (
    select
        *,
        cast(ntile(5) over (order by recency_days desc, customer_id) as bigint) as recency_quintile,
        cast(ntile(5) over (order by frequency, customer_id) as bigint) as frequency_quintile,
        cast(ntile(5) over (order by monetary, customer_id) as bigint) as monetary_quintile
    from measured
),

-- Customers with equal values share the lowest quintile any of them fell in, so that equal
-- behaviour never scores (and segments) differently.
scored as (
    select
        *,
        min(recency_quintile) over (partition by recency_days) as r_score,
        min(frequency_quintile) over (partition by frequency) as f_score,
        min(monetary_quintile) over (partition by monetary) as m_score
    from quintiles
),

prepared as (
    select
        *,
        (f_score + m_score) / 2 as fm_score,
        coalesce(average_days_between_orders, {{ var('churn_risk_default_interval_days') }}) as purchase_interval_days
    from scored
),

final as (
    select
        customer_id,
        first_order_date,
        last_order_date,
        cohort_month,
        recency_days,
        frequency,
        monetary,
        r_score,
        f_score,
        m_score,
        fm_score,
        {{ rfm_segment('r_score', 'fm_score') }} as segment,
        tenure_days,
        gross_spend,
        {{ money_average(safe_divide('gross_spend', 'frequency')) }} as average_order_value,
        monetary as historical_ltv,
        is_repeat_customer,
        average_days_between_orders,
        purchase_interval_days,
        case
            when recency_days <= {{ var('churn_risk_low_multiplier') }} * purchase_interval_days then 'low'
            when recency_days <= {{ var('churn_risk_medium_multiplier') }} * purchase_interval_days then 'medium'
            else 'high'
        end as churn_risk,
        recency_days <= {{ var('churn_inactivity_days') }} as is_active
    from prepared
)

select * from final
