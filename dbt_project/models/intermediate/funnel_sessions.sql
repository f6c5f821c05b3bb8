{#- Incremental: after the first build, a build recomputes only the sessions that the loads since
    the last build (raw.load_log) can have changed, from all of their events, and replaces their
    rows; a nightly run at 10 million transactions touches tens of thousands of the 25 million
    sessions instead of regrouping 60 million events. The result is the same as a full build's
    (tests/integration/test_incremental_marts.py): see the CTEs below for what counts as changed.
    On Spark, a table rebuilt from every event each time: plain Parquet tables have no DELETE, and
    a day's partition cannot be overwritten alone when a session's events span days
    (docs/scale-out.md). -#}
{#- Replaced by session and last day: dbt's delete then finds the stored rows by a join on both, which
    skips the row groups of sessions that ended before the affected ones: a night appends its
    sessions after the stored ones, which end before its days. A full build's rows are in no such
    order (the first night's delete after it, or a reload's of one of its days, reads them all);
    sorting them would cost the full build more than it saves (docs/benchmarks.md). -#}
{{ config(**replacing_rows_by(['session_id', 'last_event_date'], 'started_at')) }}
{%- set funnel_stages = var('funnel_stages') -%}
{%- set last_stage_order = funnel_stages | length -%}
{%- set stage_list = funnel_stages | join(',') -%}
{#- The vars besides the stages a session's row is computed with (its days and hours). -#}
{%- set build_vars = ['store_timezone'] -%}
-- Not materialized: an incremental build reads it three times, and a copy of 60 million events
-- would cost more than reading them again.
with events as {{ cte_hint('not materialized') }} (
    select * from {{ ref('stg_funnel_events') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

stages as (
    select * from {{ ordered_values(funnel_stages, 'stage') }}
),

funnel_loads as (
    select * from {{ source('raw', 'load_log') }}
    where source_table = 'funnel_events'
),

{%- if is_incremental() %}

-- What the latest build that wrote rows was built from (macro previous_build): the stored
-- sessions end by their last event's day.
previous_build as (
    {{ previous_build(
        'last_event_date',
        'bool_or(_funnel_stages <> ' ~ sql_string(stage_list) ~ ') or '
            ~ settings_changed(build_vars) ~ ' as definitions_changed'
    ) }}
),

-- Days whose sessions may differ from the stored ones: days loaded since the previous build
-- (also days a reload left empty), days the reference date moved across, and every day when the
-- configured stages or the store's time zone changed.
changed_days as (
    select funnel_loads.partition_date as changed_day
    from funnel_loads
    cross join previous_build
    where funnel_loads.load_id > coalesce(previous_build.last_load_id, 0)
    union
    {{ reference_date_moved_days('previous_build', 'bounds') }}
    union
    select events.event_date as changed_day
    from events
    cross join previous_build
    where previous_build.definitions_changed
),

-- Sessions with an event on a changed day now, read from the UTC times that can fall on the
-- changed days (macro utc_times_of_store_days) before their store day is computed: the row groups
-- of a night's day, not every event.
changed_day_sessions as (
    select distinct events.session_id
    from events
    where {{ utc_times_of_store_days(
            'events.occurred_at',
            '(select min(changed_day) from changed_days)',
            '(select max(changed_day) from changed_days)'
        ) }}
        and events.event_date in (select changed_day from changed_days)
),

-- The stored rows of those sessions (a lookup of their ids among the stored ones: an event on a
-- changed day can reopen a session that ended any day before, so this reads every stored id) and
-- of the stored sessions that had an event on a changed day: a stored session's events lie between
-- its session_date and last_event_date, so only the stored rows whose last_event_date can reach a
-- changed day are read for these (row groups of stored rows that ended before it are skipped).
affected_stored_sessions as materialized (
    select
        stored.session_id,
        stored.session_date,
        stored.last_event_date
    from {{ this }} as stored
    semi join changed_day_sessions on stored.session_id = changed_day_sessions.session_id
    union
    select
        stored.session_id,
        stored.session_date,
        stored.last_event_date
    from {{ this }} as stored
    where stored.last_event_date >= (select min(changed_day) from changed_days)
        and stored.session_date <= (select max(changed_day) from changed_days)
        and exists (
            select 1
            from changed_days
            where changed_days.changed_day between stored.session_date and stored.last_event_date
        )
),

affected_sessions as (
    select session_id from changed_day_sessions
    union
    select session_id from affected_stored_sessions
),

-- The store days the affected sessions' events up to the reference date lie on: the changed days,
-- and the days of their stored rows. An event on another day was there at the previous build, on
-- a day up to its reference date, so it is part of its session's stored row.
affected_days as (
    select
        min(changed_day) as first_day,
        max(changed_day) as last_day
    from changed_days
    union all
    select
        min(session_date) as first_day,
        max(last_event_date) as last_day
    from affected_stored_sessions
),

-- All events of the affected sessions, gathered before anything else is done with them: left to
-- itself, DuckDB filters all 60 million events by the reference date before it joins them to the
-- few sessions, several times slower at scale (docs/benchmarks.md). Only the UTC times of their
-- days are read.
session_events as materialized (
    select events.*
    from events
    semi join affected_sessions on events.session_id = affected_sessions.session_id
    where {{ utc_times_of_store_days(
            'events.occurred_at',
            '(select min(first_day) from affected_days)',
            '(select max(last_day) from affected_days)'
        ) }}
),
{%- else %}

session_events as (
    select * from events
),
{%- endif %}

-- One row per session with the first time it reached each configured stage, up to the reference
-- date, in one pass over the events. Events of a stage that is not configured are not part of
-- the funnel.
sessions as (
    select
        events.session_id,
        min(events.customer_id) as customer_id,
        min(events.occurred_at) as started_at,
        max(events.event_date) as last_event_date,
        max(stages.stage_order) as furthest_stage_order,
        {%- for stage in funnel_stages %}
        min(events.occurred_at) filter (where stages.stage_order = {{ loop.index }}) as {{ stage }}_at
        {{- "," if not loop.last }}
        {%- endfor %}
    from session_events as events
    inner join stages on events.stage = stages.stage
    cross join bounds
    where events.event_date <= bounds.reference_date
    group by events.session_id
),

final as (
    select
        sessions.session_id,
        sessions.customer_id,
        {{ store_date('sessions.started_at') }} as session_date,
        sessions.started_at,
        sessions.last_event_date,
        sessions.furthest_stage_order,
        {%- for stage in funnel_stages %}
        sessions.{{ stage }}_at,
        {%- endfor %}
        -- Converted: the session entered the last stage; its conversion time runs from its
        -- first-stage event to its last-stage event (none when it has no event at either).
        sessions.furthest_stage_order = {{ last_stage_order }} as is_converted,
        {{ dbt.datediff('sessions.' ~ funnel_stages[0] ~ '_at', 'sessions.' ~ funnel_stages[-1] ~ '_at', 'second') }} / 60
            as conversion_minutes,
        bounds.reference_date as _reference_date,
        (select coalesce(max(load_id), 0) from funnel_loads) as _last_load_id,
        {%- if is_incremental() %}
        (select coalesce(build_number, 0) + 1 from previous_build) as _build_number,
        {%- else %}
        1 as _build_number,
        {%- endif %}
        {{ sql_string(stage_list) }} as _funnel_stages,
        {{ build_settings(build_vars) }} as _settings
    from sessions
    cross join bounds
)

-- A stored row whose session now has another last day, or no row at all (a reload took its events
-- away, or the reference date moved back before them), gets a row of its stored key without
-- started_at, which removes it.
{{ final_with_cleared_keys('final', 'affected_stored_sessions', ['session_id', 'last_event_date']) }}
