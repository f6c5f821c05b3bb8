{#- Incremental: a build after the first aggregates again only the days macro
    funnel_changed_days finds changed, from their sessions, and replaces their rows; the daily and
    hourly funnel marts and kpi_summary read these few rows a day instead of every session. On
    Spark, a table rebuilt each time, as funnel_sessions. -#}
{{ config(**replacing_rows_by('session_date', 'sessions')) }}
{#- The payment step is the last two funnel stages: initiated, then completed. -#}
{%- set initiated_stage = var('funnel_stages')[-2] -%}
-- Not materialized: an incremental build reads two of its columns for every session and its rows of
-- the changed days only, which DuckDB then reads by their row groups.
with sessions as {{ cte_hint('not materialized') }} (
    select * from {{ ref('funnel_sessions') }}
),

{%- if is_incremental() %}

changed_days as (
    {{ funnel_changed_days('sessions', 'sessions') }}
),

{%- endif %}

day_sessions as (
    {{ rows_to_compute('sessions', 'changed_days', 'session_date') }}
),

-- Sessions by day, the furthest stage they entered and the store's hour of their first event at the
-- initiated stage (null without one). Conversion times are summed as whole seconds, exact integers,
-- so that an average over any days is the same on every build.
final as (
    select
        session_date,
        furthest_stage_order,
        cast(extract(hour from {{ store_time(initiated_stage ~ '_at') }}) as bigint) as initiated_hour,
        count(*) as sessions,
        cast(sum(cast(round(conversion_minutes * 60) as bigint)) as bigint) as conversion_seconds,
        count(conversion_minutes) as timed_conversions,
        (select max(_build_number) from sessions) as _funnel_build_number
    from day_sessions
    group by
        session_date,
        furthest_stage_order,
        cast(extract(hour from {{ store_time(initiated_stage ~ '_at') }}) as bigint)
)

-- A changed day left without sessions gets a row without them, which clears its stored rows.
{{ final_with_cleared_keys('final', 'changed_days', 'session_date') }}
