with customers as (
    select * from {{ ref('customer_rfm') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

counts as (
    select
        count(*) as customers,
        count(*) filter (where is_repeat_customer) as repeat_customers,
        count(*) filter (where is_active) as active_customers,
        count(*) filter (where not is_active) as churned_customers,
        count(*) filter (where churn_risk = 'high') as high_churn_risk_customers,
        {{ money_average('avg(historical_ltv)') }} as average_ltv
    from customers
),

final as (
    select
        bounds.reference_date,
        {{ var('churn_inactivity_days') }} as churn_inactivity_days,
        counts.customers,
        counts.repeat_customers,
        {{ safe_divide('counts.repeat_customers', 'counts.customers') }} as repeat_purchase_rate,
        counts.active_customers,
        counts.churned_customers,
        {{ safe_divide('counts.churned_customers', 'counts.customers') }} as churn_rate,
        counts.high_churn_risk_customers,
        {{ safe_divide('counts.high_churn_risk_customers', 'counts.customers') }} as high_churn_risk_share,
        counts.average_ltv
    from bounds
    cross join counts
)

select * from final
