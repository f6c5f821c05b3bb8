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
        sum(historical_ltv) as revenue,
        avg(historical_ltv) as average_ltv,
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
        coalesce({{ safe_divide('by_segment.customers', 'totals.customers') }}, 0) as customer_share,
        coalesce(by_segment.revenue, 0) as revenue,
        coalesce({{ safe_divide('by_segment.revenue', 'totals.revenue') }}, 0) as revenue_share,
        coalesce(by_segment.average_ltv, 0) as average_ltv,
        coalesce(by_segment.average_recency_days, 0) as average_recency_days,
        coalesce(by_segment.average_frequency, 0) as average_frequency,
        segments.suggested_action
    from segments
    cross join totals
    left join by_segment on segments.segment = by_segment.segment
)

select * from final
