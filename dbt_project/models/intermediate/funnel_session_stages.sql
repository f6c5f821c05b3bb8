{#- A view: a row per session and stage is three times the sessions (70 million rows at 10 million
    transactions), which the funnel marts aggregate as they read it rather than store. -#}
{{ config(materialized='view') }}
{%- set funnel_stages = var('funnel_stages') -%}
{%- set last_stage_order = funnel_stages | length -%}
with sessions as (
    select * from {{ ref('funnel_sessions') }}
),

stages as (
    select * from {{ ordered_values(funnel_stages, 'stage') }}
),

-- A session entered every stage up to the furthest it reached: a returning customer who goes on
-- without signing up again passed signup (that row has no reached_at).
final as (
    select
        sessions.session_id,
        sessions.customer_id,
        sessions.session_date,
        stages.stage,
        stages.stage_order,
        case stages.stage_order
            {%- for stage in funnel_stages %}
            when {{ loop.index }} then sessions.{{ stage }}_at
            {%- endfor %}
        end as reached_at,
        case stages.stage_order
            {%- for stage in funnel_stages[1:] %}
            when {{ loop.index }} then sessions.{{ stage }}_at
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
    {{ dbt.datediff('reached_at', 'next_stage_reached_at', 'second') }} / 60 as minutes_to_next_stage
from final
