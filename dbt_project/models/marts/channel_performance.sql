{#- The horizons of the channel LTV columns (macro channel_ltv_horizons). -#}
{%- set horizons = channel_ltv_horizons() -%}
with customer_months as (
    select * from {{ ref('int_customer_months') }}
),

customer_orders as (
    select * from {{ ref('int_customer_orders') }}
),

marketing_spend as (
    select * from {{ ref('stg_marketing_spend') }}
),

monthly_margins as (
    select * from {{ ref('int_monthly_margins') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

-- New customers of a channel and month: their first paid order (int_customer_orders) fell in it.
cohorts as (
    select
        acquisition_channel as channel,
        cohort_month as acquisition_month,
        count(*) as new_customers
    from customer_orders
    group by
        acquisition_channel,
        cohort_month
),

spend as (
    select
        marketing_spend.channel,
        cast(date_trunc('month', marketing_spend.spend_date) as date) as acquisition_month,
        sum(marketing_spend.amount) as marketing_spend
    from marketing_spend
    cross join bounds
    where marketing_spend.spend_date <= bounds.reference_date
    group by
        marketing_spend.channel,
        cast(date_trunc('month', marketing_spend.spend_date) as date)
),

-- Every channel and month with new customers or spend: spend without a customer is a row too.
acquisitions as (
    select
        channel_months.channel,
        channel_months.acquisition_month,
        coalesce(cohorts.new_customers, 0) as new_customers,
        coalesce(spend.marketing_spend, 0) as marketing_spend,
        -- No marketing spend: no acquisition cost to speak of (null, not a CAC of 0), as in cohort_ltv.
        {{ safe_divide('nullif(spend.marketing_spend, 0)', 'cohorts.new_customers') }} as cac
    from (
        select channel, acquisition_month from cohorts
        union
        select channel, acquisition_month from spend
    ) as channel_months
    left join cohorts
        on channel_months.channel = cohorts.channel
        and channel_months.acquisition_month = cohorts.acquisition_month
    left join spend
        on channel_months.channel = spend.channel
        and channel_months.acquisition_month = spend.acquisition_month
),

-- Each customer's month of paid orders under their channel and cohort, as cohort_ltv counts them
-- (int_customer_months): its contribution is each order's net amount × its month's gross margin.
order_values as (
    select
        customer_months.acquisition_channel as channel,
        customer_months.cohort_month as acquisition_month,
        customer_months.ltv_horizon_days,
        {{ dbt.datediff('customer_months.cohort_month', 'customer_months.order_month', 'month') }} as months_since_first_order,
        customer_months.first_purchase_day_net_revenue,
        customer_months.net_revenue as net_amount,
        monthly_margins.gross_margin,
        customer_months.contribution
    from customer_months
    left join monthly_margins on customer_months.order_month = monthly_margins.calendar_month
),

-- The first purchase day's net revenue, and each horizon's net revenue and contribution (known
-- only when every one of its orders' months has cost data).
cohort_values as (
    select
        channel,
        acquisition_month,
        sum(first_purchase_day_net_revenue) as first_order_revenue,
        {%- for horizon in horizons %}
        sum(net_amount) filter (where ltv_horizon_days <= {{ horizon }}) as revenue_{{ horizon }}d,
        case
            when count(contribution) filter (where ltv_horizon_days <= {{ horizon }})
                = count(*) filter (where ltv_horizon_days <= {{ horizon }})
                then sum(contribution) filter (where ltv_horizon_days <= {{ horizon }})
        end as contribution_{{ horizon }}d
        {{- "," if not loop.last }}
        {%- endfor %}
    from order_values
    group by
        channel,
        acquisition_month
),

-- Payback as in cohort_ltv (macro cohort_payback_months), against the channel's own CAC.
payback as (
    {{ cohort_payback_months('order_values', 'acquisitions', ['channel', 'acquisition_month'], 'new_customers', 'cac') }}
),

final as (
    select
        acquisitions.channel,
        acquisitions.acquisition_month,
        acquisitions.new_customers,
        {{ money('acquisitions.marketing_spend') }} as marketing_spend,
        {{ money_average('acquisitions.cac') }} as cac,
        {{ safe_divide('acquisitions.cac', 'previous_month.cac') }} - 1 as cac_change,
        {{ money('coalesce(cohort_values.first_order_revenue, 0)') }} as first_order_revenue,
        {%- for horizon in horizons %}
        case
            when {{ cohort_is_old_enough('acquisitions.acquisition_month', horizon, 'bounds.reference_date') }}
                then {{ money_average(safe_divide('cohort_values.revenue_' ~ horizon ~ 'd', 'acquisitions.new_customers')) }}
        end as ltv_revenue_{{ horizon }}d,
        case
            when {{ cohort_is_old_enough('acquisitions.acquisition_month', horizon, 'bounds.reference_date') }}
                then {{ money_average(safe_divide('cohort_values.contribution_' ~ horizon ~ 'd', 'acquisitions.new_customers')) }}
        end as ltv_contribution_{{ horizon }}d,
        {%- endfor %}
        case
            when {{ cohort_is_old_enough('acquisitions.acquisition_month', horizons[0], 'bounds.reference_date') }}
                then {{ safe_divide(
                    safe_divide('cohort_values.contribution_' ~ horizons[0] ~ 'd', 'acquisitions.new_customers'),
                    'acquisitions.cac'
                ) }}
        end as ltv_to_cac_{{ horizons[0] }}d,
        payback.payback_months,
        -- Return on ad spend: what the spend brought at once, the new customers' first purchases.
        {{ safe_divide('coalesce(cohort_values.first_order_revenue, 0)', 'acquisitions.marketing_spend') }} as roas
    from acquisitions
    cross join bounds
    left join acquisitions as previous_month
        on acquisitions.channel = previous_month.channel
        and acquisitions.acquisition_month - interval 1 month = previous_month.acquisition_month
    left join cohort_values
        on acquisitions.channel = cohort_values.channel
        and acquisitions.acquisition_month = cohort_values.acquisition_month
    left join payback
        on acquisitions.channel = payback.channel
        and acquisitions.acquisition_month = payback.acquisition_month
)

select * from final
