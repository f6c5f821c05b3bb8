{%- set window_days = var('kpi_window_days') -%}
with costs as (
    select * from {{ ref('stg_costs') }}
),

marketing_spend as (
    select * from {{ ref('stg_marketing_spend') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

-- Operating costs by category and marketing spend as one list of spending.
spending as (
    select
        cost_date as spent_on,
        {{ cost_category('category') }} as category,
        amount
    from costs
    union all
    select
        spend_date as spent_on,
        'marketing' as category,
        amount
    from marketing_spend
),

-- The whole history and the last `kpi_window_days` days (the KPI window), both to the
-- reference date.
periods as (
    select
        'all_time' as period,
        (select min(spent_on) from spending) as period_start,
        reference_date as period_end
    from bounds
    union all
    select
        'last_{{ window_days }}_days' as period,
        reference_date - {{ window_days - 1 }} as period_start,
        reference_date as period_end
    from bounds
),

categories as (
    select * from {{ ordered_values(var('cost_categories') + ['marketing'], 'category') }}
),

amounts as (
    select
        periods.period,
        spending.category,
        {{ money('sum(spending.amount)') }} as amount
    from periods
    inner join spending on spending.spent_on between periods.period_start and periods.period_end
    group by
        periods.period,
        spending.category
),

final as (
    select
        periods.period,
        periods.period_start,
        periods.period_end,
        categories.category,
        categories.category_order,
        coalesce(amounts.amount, 0) as amount,
        -- Null when the period has no spending at all: a share of nothing is undefined.
        {{ safe_divide('coalesce(amounts.amount, 0)', 'sum(amounts.amount) over (partition by periods.period)') }}
            as share
    from periods
    cross join categories
    left join amounts
        on periods.period = amounts.period
        and categories.category = amounts.category
)

select * from final
