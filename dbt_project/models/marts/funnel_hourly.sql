with funnel_days as (
    select * from {{ ref('int_funnel_days') }}
),

-- A bigint, as DuckDB's range() gives (Spark's sequence of ints: ints).
hours as (
    select cast(hour_of_day as bigint) as hour_of_day from {{ series(0, 24, 1, 'hours', 'hour_of_day') }}
),

-- Sessions with an event at the initiated stage (int_funnel_days: the store's hour of their first
-- one, the payment step being the last two stages); a session that entered the last stage completed.
by_hour as (
    select
        initiated_hour as hour_of_day,
        cast(sum(sessions) as bigint) as initiated,
        cast(coalesce(sum(sessions) filter (
            where furthest_stage_order = {{ var('funnel_stages') | length }}
        ), 0) as bigint) as completed
    from funnel_days
    where initiated_hour is not null
    group by initiated_hour
),

final as (
    select
        hours.hour_of_day,
        coalesce(by_hour.initiated, 0) as initiated,
        coalesce(by_hour.completed, 0) as completed,
        {{ safe_divide('by_hour.completed', 'by_hour.initiated') }} as conversion_rate
    from hours
    left join by_hour on hours.hour_of_day = by_hour.hour_of_day
)

select * from final
