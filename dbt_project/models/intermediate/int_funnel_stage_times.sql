{#- Incremental as int_funnel_days: a build after the first counts again only the days macro
    funnel_changed_days finds changed, and replaces their rows, so that funnel_stages reads a
    histogram of a few thousand rows a day instead of the 70 million session stages at 10 million
    transactions. On Spark, a table rebuilt each time, as funnel_sessions. -#}
{{ config(**replacing_rows_by('session_date', 'sessions')) }}
with sessions as (
    select * from {{ ref('funnel_sessions') }}
),

session_stages as (
    select * from {{ ref('funnel_session_stages') }}
),

{%- if is_incremental() %}

-- Every session entered the first stage: the day's first-stage rows count its sessions.
changed_days as (
    {{ funnel_changed_days('sessions', 'case when stage_order = 1 then sessions end') }}
),

{%- endif %}

day_stages as (
    {{ rows_to_compute('session_stages', 'changed_days', 'session_date') }}
),

-- The sessions of a day that entered a stage, by their time to the next stage (whole seconds, as
-- minutes; null without an event at both stages): the times are few distinct values, so the
-- histogram stays small and its counts add up over any days.
final as (
    select
        session_date,
        stage_order,
        minutes_to_next_stage,
        count(*) as sessions,
        (select max(_build_number) from sessions) as _funnel_build_number
    from day_stages
    group by
        session_date,
        stage_order,
        minutes_to_next_stage
)

-- A changed day left without sessions gets a row without them, which clears its stored rows.
{{ final_with_cleared_keys('final', 'changed_days', 'session_date') }}
