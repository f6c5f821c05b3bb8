{#- The payment step is the last two funnel stages: initiated, then completed. -#}
{%- set initiated_stage = var('funnel_stages')[-2] -%}
with sessions as (
    select * from {{ ref('funnel_sessions') }}
),

-- Sessions with an event at the initiated stage, by the store's hour of their first one; a session
-- that entered the last stage completed (is_converted).
initiated as (
    select
        extract(hour from {{ store_time(initiated_stage ~ '_at') }}) as hour_of_day,
        is_converted
    from sessions
    where {{ initiated_stage }}_at is not null
),

-- A bigint, as DuckDB's range() gives (Spark's sequence of ints: ints).
hours as (
    select cast(hour_of_day as bigint) as hour_of_day from {{ series(0, 24, 1, 'hours', 'hour_of_day') }}
),

by_hour as (
    select
        hour_of_day,
        count(*) as initiated,
        count(*) filter (where is_converted) as completed
    from initiated
    group by hour_of_day
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
