with funnel_days as (
    select * from {{ ref('int_funnel_days') }}
),

stages as (
    select * from {{ ordered_values(var('funnel_stages'), 'stage') }}
),

-- Sessions by day and the furthest stage they entered (int_funnel_days): a few rows a day, where
-- the sessions themselves are tens of thousands.
by_day_and_furthest_stage as (
    select
        session_date,
        furthest_stage_order,
        sum(sessions) as sessions
    from funnel_days
    group by
        session_date,
        furthest_stage_order
),

days as (
    select distinct session_date from by_day_and_furthest_stage
),

-- A session entered every stage up to its furthest, so a stage's entries are the sessions whose
-- furthest stage is that one or a later one; every stage on every day with a session, so that
-- a stage nobody reached shows 0.
counted as (
    select
        days.session_date,
        stages.stage,
        stages.stage_order,
        cast(coalesce(sum(by_day_and_furthest_stage.sessions), 0) as bigint) as entered
    from days
    cross join stages
    left join by_day_and_furthest_stage
        on days.session_date = by_day_and_furthest_stage.session_date
        and by_day_and_furthest_stage.furthest_stage_order >= stages.stage_order
    group by
        days.session_date,
        stages.stage,
        stages.stage_order
),

final as (
    select
        session_date,
        stage,
        stage_order,
        entered,
        lead(entered) over (partition by session_date order by stage_order) as converted,
        {{ safe_divide('lead(entered) over (partition by session_date order by stage_order)', 'entered') }}
            as conversion_rate
    from counted
)

select * from final
