with transactions as (
    select * from {{ ref('stg_transactions') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

-- A purchase is an order whose money was taken (completed, or refunded afterwards), up to the
-- reference date.
paid_orders as (
    select
        transactions.customer_id,
        transactions.order_date,
        transactions.gross_amount,
        transactions.net_amount
    from transactions
    cross join bounds
    where transactions.is_paid
        and transactions.order_date <= bounds.reference_date
),

customer_orders as (
    select
        customer_id,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        count(*) as frequency,
        sum(gross_amount) as gross_spend,
        sum(net_amount) as monetary
    from paid_orders
    group by customer_id
),

measured as (
    select
        customer_orders.*,
        date_diff('day', customer_orders.last_order_date, bounds.reference_date) as recency_days,
        date_diff('day', customer_orders.first_order_date, bounds.reference_date) as tenure_days,
        -- Null for one-time buyers: they have no interval yet.
        {{ safe_divide(
            "date_diff('day', customer_orders.first_order_date, customer_orders.last_order_date)",
            'customer_orders.frequency - 1'
        ) }} as average_days_between_orders
    from customer_orders
    cross join bounds
),

-- Quintiles: 5 = most recent, most frequent, highest spend. customer_id only makes the split of
-- equal values deterministic; the next step gives equal values one score anyway.
quintiles as (
    select
        *,
        ntile(5) over (order by recency_days desc, customer_id) as recency_quintile,
        ntile(5) over (order by frequency, customer_id) as frequency_quintile,
        ntile(5) over (order by monetary, customer_id) as monetary_quintile
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
        -- A same-day repeat purchase gives an interval of 0 days; a day is the shortest interval
        -- that the day-grained recency can be judged against.
        greatest(coalesce(average_days_between_orders, {{ var('churn_risk_default_interval_days') }}), 1)
            as purchase_interval_days
    from scored
),

final as (
    select
        customer_id,
        first_order_date,
        last_order_date,
        cast(date_trunc('month', first_order_date) as date) as cohort_month,
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
        {{ safe_divide('gross_spend', 'frequency') }} as average_order_value,
        monetary as historical_ltv,
        frequency >= 2 as is_repeat_customer,
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
