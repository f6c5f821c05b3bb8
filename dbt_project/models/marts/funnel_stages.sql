with stage_times as (
    select * from {{ ref('int_funnel_stage_times') }}
),

stages as (
    select * from {{ ordered_values(var('funnel_stages'), 'stage') }}
),

entries as (
    select
        stage_order,
        cast(sum(sessions) as bigint) as entered
    from stage_times
    group by stage_order
),

-- The times to the next stage as a histogram, a row per stage and distinct time (the daily
-- histograms of int_funnel_stage_times added up): the times are whole seconds, so a few thousand
-- rows stand for the tens of millions of sessions at 10 million transactions, and the exact
-- quantiles follow from the running counts without holding every time in memory (quantile_cont
-- over them ran out of a 1 GB memory limit beside the other models).
times as (
    select
        stage_order,
        minutes_to_next_stage as minutes,
        cast(sum(sessions) as bigint) as sessions
    from stage_times
    where minutes_to_next_stage is not null
    group by
        stage_order,
        minutes_to_next_stage
),

running_counts as (
    select
        stage_order,
        minutes,
        sum(sessions) over (partition by stage_order order by minutes) as sessions_up_to,
        sum(sessions) over (partition by stage_order) as timed_sessions
    from times
),

-- quantile_cont's definition: quantile p of n sorted times lies at the 0-based position
-- h = (n - 1) × p, between the times at floor(h) and floor(h) + 1, interpolated linearly.
positions as (
    select distinct
        running_counts.stage_order,
        quantiles.quantile,
        (running_counts.timed_sessions - 1) * quantiles.quantile as position
    from running_counts
    cross join (values (0.5), (0.9)) as quantiles(quantile)
),

-- The time at position k is the smallest one with more than k times up to and including it.
bracketing_times as (
    select
        positions.stage_order,
        positions.quantile,
        positions.position - floor(positions.position) as fraction,
        min(running_counts.minutes) filter (where running_counts.sessions_up_to > floor(positions.position))
            as lower_minutes,
        min(running_counts.minutes) filter (where running_counts.sessions_up_to > floor(positions.position) + 1)
            as upper_minutes
    from positions
    inner join running_counts on positions.stage_order = running_counts.stage_order
    group by
        positions.stage_order,
        positions.quantile,
        positions.position
),

quantiles as (
    select
        stage_order,
        -- At the last position there is no time above: the quantile is the last time itself.
        any_value(lower_minutes + fraction * (coalesce(upper_minutes, lower_minutes) - lower_minutes))
            filter (where quantile = 0.5) as median_minutes_to_next_stage,
        any_value(lower_minutes + fraction * (coalesce(upper_minutes, lower_minutes) - lower_minutes))
            filter (where quantile = 0.9) as p90_minutes_to_next_stage
    from bracketing_times
    group by stage_order
),

counted as (
    select
        stages.stage,
        stages.stage_order,
        coalesce(entries.entered, 0) as entered,
        quantiles.median_minutes_to_next_stage,
        quantiles.p90_minutes_to_next_stage
    from stages
    left join entries on stages.stage_order = entries.stage_order
    left join quantiles on stages.stage_order = quantiles.stage_order
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
