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

-- Quintiles: 5 = most recent, most frequent, highest spend. Customers with equal values share the
-- lowest quintile any of them fell in, so that equal behaviour never scores (and segments)
-- differently: the quintile of the first of them in the ranking, whichever of them is first. Each
-- score is worked out for each distinct value from the customers counted by value (macro
-- first_quintiles), without ranking every customer, and joined back by value (bigint, as above).
recency_scores as (
    {{ first_quintiles('measured', 'recency_days', 'r_score', descending=true) }}
),

frequency_scores as (
    {{ first_quintiles('measured', 'frequency', 'f_score') }}
),

monetary_scores as (
    {{ first_quintiles('measured', 'monetary', 'm_score') }}
),

scored as (
    select
        measured.*,
        recency_scores.r_score,
        frequency_scores.f_score,
        monetary_scores.m_score
    from measured
    inner join recency_scores on measured.recency_days = recency_scores.recency_days
    inner join frequency_scores on measured.frequency = frequency_scores.frequency
    inner join monetary_scores on measured.monetary = monetary_scores.monetary
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
