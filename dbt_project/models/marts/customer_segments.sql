with customers as (
    select * from {{ ref('customer_rfm') }}
),

-- Every configured segment, in rule order, so that an empty segment still has its row.
segments as (
    select * from {{ rfm_segment_values() }}
),

by_segment as (
    select
        segment,
        count(*) as customers,
        {{ money('sum(historical_ltv)') }} as revenue,
        {{ money_average('avg(historical_ltv)') }} as average_ltv,
        avg(recency_days) as average_recency_days,
        avg(frequency) as average_frequency
    from customers
    group by segment
),

totals as (
    select
        count(*) as customers,
        sum(historical_ltv) as revenue
    from customers
),

final as (
    select
        segments.segment,
        segments.segment_order,
        coalesce(by_segment.customers, 0) as customers,
        -- Shares of nothing (no customers, no revenue) and averages over an empty segment are
        -- undefined: null, not 0.
        {{ safe_divide('coalesce(by_segment.customers, 0)', 'totals.customers') }} as customer_share,
        coalesce(by_segment.revenue, 0) as revenue,
        {{ safe_divide('coalesce(by_segment.revenue, 0)', 'totals.revenue') }} as revenue_share,
        by_segment.average_ltv,
        by_segment.average_recency_days,
        by_segment.average_frequency,
        segments.suggested_action
    from segments
    cross join totals
    left join by_segment on segments.segment = by_segment.segment
)

select * from final
