with session_stages as (
    select * from {{ ref('funnel_session_stages') }}
),

stages as (
    select * from {{ ordered_values(var('funnel_stages'), 'stage') }}
),

by_stage as (
    select
        stage_order,
        count(*) as entered,
        -- One aggregate for both quantiles: each quantile aggregate buffers the stage's times, and
        -- two of them over the 70 million rows at 10 million transactions exceed a 1 GB memory limit.
        quantile_cont(minutes_to_next_stage, [0.5, 0.9]) as minutes_to_next_stage_quantiles
    from session_stages
    group by stage_order
),

counted as (
    select
        stages.stage,
        stages.stage_order,
        coalesce(by_stage.entered, 0) as entered,
        by_stage.minutes_to_next_stage_quantiles[1] as median_minutes_to_next_stage,
        by_stage.minutes_to_next_stage_quantiles[2] as p90_minutes_to_next_stage
    from stages
    left join by_stage on stages.stage_order = by_stage.stage_order
),

-- Sessions that entered the next stage all entered this one, so the next stage's entries are
-- this stage's conversions (null for the last stage, which has no next).
final as (
    select
        stage,
        stage_order,
        entered,
        lead(entered) over (order by stage_order) as converted,
        {{ safe_divide('lead(entered) over (order by stage_order)', 'entered') }} as conversion_rate,
        1 - {{ safe_divide('lead(entered) over (order by stage_order)', 'entered') }} as drop_off_rate,
        {{ safe_divide('entered', 'first_value(entered) over (order by stage_order)') }} as conversion_from_first_stage,
        median_minutes_to_next_stage,
        p90_minutes_to_next_stage
    from counted
)

select * from final
