{%- set funnel_stages = var('funnel_stages') -%}
{%- set last_stage_order = funnel_stages | length -%}
with events as (
    select * from {{ ref('stg_funnel_events') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

stages as (
    select * from {{ ordered_values(funnel_stages, 'stage') }}
),

-- One row per session with the first time it reached each configured stage, up to the reference
-- date, in one pass over the events (one column per stage rather than a row per stage, so that
-- the next stage's time needs no self-join). Events of a stage that is not configured are not
-- part of the funnel.
sessions as (
    select
        events.session_id,
        min(events.customer_id) as customer_id,
        min(events.occurred_at) as started_at,
        max(stages.stage_order) as furthest_stage_order,
        {%- for stage in funnel_stages %}
        min(events.occurred_at) filter (where stages.stage_order = {{ loop.index }}) as reached_at_{{ loop.index }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from events
    inner join stages on events.stage = stages.stage
    cross join bounds
    where events.event_date <= bounds.reference_date
    group by events.session_id
),

-- A session entered every stage up to the furthest it reached: a returning customer who goes on
-- without signing up again passed signup (that row has no reached_at).
final as (
    select
        sessions.session_id,
        sessions.customer_id,
        cast(sessions.started_at as date) as session_date,
        stages.stage,
        stages.stage_order,
        case stages.stage_order
            {%- for stage in funnel_stages %}
            when {{ loop.index }} then sessions.reached_at_{{ loop.index }}
            {%- endfor %}
        end as reached_at,
        case stages.stage_order
            {%- for stage in funnel_stages[:-1] %}
            when {{ loop.index }} then sessions.reached_at_{{ loop.index + 1 }}
            {%- endfor %}
        end as next_stage_reached_at,
        case
            when stages.stage_order < {{ last_stage_order }}
                then sessions.furthest_stage_order > stages.stage_order
        end as is_converted
    from sessions
    inner join stages on stages.stage_order <= sessions.furthest_stage_order
)

select
    *,
    date_diff('second', reached_at, next_stage_reached_at) / 60 as minutes_to_next_stage
from final
