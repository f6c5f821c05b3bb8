{%- set last_stage_order = var('funnel_stages') | length -%}
with events as (
    select * from {{ ref('stg_funnel_events') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

stages as (
    select * from {{ ordered_values(var('funnel_stages'), 'stage') }}
),

-- First event of each session at each configured stage, up to the reference date. Events of a
-- stage that is not configured are not part of the funnel.
stage_events as (
    select
        events.session_id,
        stages.stage_order,
        min(events.occurred_at) as reached_at,
        min(events.customer_id) as customer_id
    from events
    inner join stages on events.stage = stages.stage
    cross join bounds
    where events.event_date <= bounds.reference_date
    group by
        events.session_id,
        stages.stage_order
),

sessions as (
    select
        session_id,
        min(customer_id) as customer_id,
        min(reached_at) as started_at,
        max(stage_order) as furthest_stage_order
    from stage_events
    group by session_id
),

-- A session entered every stage up to the furthest it reached: a returning customer who goes on
-- without signing up again passed signup (that row has no reached_at).
entered_stages as (
    select
        sessions.session_id,
        sessions.customer_id,
        sessions.started_at,
        sessions.furthest_stage_order,
        stages.stage_order,
        stages.stage
    from sessions
    inner join stages on stages.stage_order <= sessions.furthest_stage_order
),

final as (
    select
        entered_stages.session_id,
        entered_stages.customer_id,
        cast(entered_stages.started_at as date) as session_date,
        entered_stages.stage,
        entered_stages.stage_order,
        stage_events.reached_at,
        next_stage_events.reached_at as next_stage_reached_at,
        case
            when entered_stages.stage_order < {{ last_stage_order }}
                then entered_stages.furthest_stage_order > entered_stages.stage_order
        end as is_converted,
        date_diff('second', stage_events.reached_at, next_stage_events.reached_at) / 60 as minutes_to_next_stage
    from entered_stages
    left join stage_events
        on entered_stages.session_id = stage_events.session_id
        and entered_stages.stage_order = stage_events.stage_order
    left join stage_events as next_stage_events
        on entered_stages.session_id = next_stage_events.session_id
        and entered_stages.stage_order + 1 = next_stage_events.stage_order
)

select * from final
