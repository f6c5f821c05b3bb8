with session_stages as (
    select * from {{ ref('funnel_session_stages') }}
),

stages as (
    select * from {{ ordered_values(var('funnel_stages'), 'stage') }}
),

-- Every stage on every day with a session, so that a stage nobody reached shows 0.
days as (
    select distinct session_date from session_stages
),

by_day_and_stage as (
    select
        session_date,
        stage_order,
        count(*) as entered
    from session_stages
    group by
        session_date,
        stage_order
),

counted as (
    select
        days.session_date,
        stages.stage,
        stages.stage_order,
        coalesce(by_day_and_stage.entered, 0) as entered
    from days
    cross join stages
    left join by_day_and_stage
        on days.session_date = by_day_and_stage.session_date
        and stages.stage_order = by_day_and_stage.stage_order
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
