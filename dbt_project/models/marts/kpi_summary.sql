{%- set window_days = var('kpi_window_days') -%}
{#- Every KPI has a value for the last window (`<kpi>`) and the window before (`<kpi>_prior`);
    the totals are the same KPIs over the whole history (`total_<kpi>`). Growth compares a window
    with the one before it, so the prior growth needs a third window, the one before the prior
    (the windows and their customer base: int_kpi_windows). -#}
{%- set period_kpis = [
    'net_revenue', 'gross_revenue', 'orders', 'paying_customers', 'new_customers', 'average_order_value',
    'revenue_per_customer', 'mrr', 'customers', 'average_revenue_per_customer_to_date', 'repeat_rate', 'churn_rate',
    'payment_success_rate', 'sessions', 'conversion_rate', 'average_conversion_minutes', 'marketing_spend',
    'operating_costs', 'cac', 'cost_per_acquisition', 'has_cost_data', 'gross_profit', 'gross_margin',
    'net_profit', 'net_margin', 'roi', 'profit_per_customer'
] -%}
{%- set total_kpis = [
    'gross_revenue', 'net_revenue', 'orders', 'sessions', 'marketing_spend', 'operating_costs', 'net_profit', 'roi'
] -%}
with kpi_windows as (
    select * from {{ ref('int_kpi_windows') }}
),

customer_orders as (
    select * from {{ ref('int_customer_orders') }}
),

order_days as (
    select * from {{ ref('int_order_days') }}
),

costs as (
    select * from {{ ref('stg_costs') }}
),

marketing_spend as (
    select * from {{ ref('stg_marketing_spend') }}
),

funnel_days as (
    select * from {{ ref('int_funnel_days') }}
),

revenue_monthly as (
    select * from {{ ref('revenue_monthly') }}
),

cohort_ltv as (
    select * from {{ ref('cohort_ltv') }}
),

product_performance as (
    select * from {{ ref('product_performance') }}
),

channel_performance as (
    select * from {{ ref('channel_performance') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

-- The windows of int_kpi_windows, and the whole history, all ending by the reference date. MRR is
-- monthly: a period reports the MRR of the reference date's calendar month (to date), the prior
-- one that of the month before.
periods as (
    select
        kpi_windows.period,
        kpi_windows.period_start,
        kpi_windows.period_end,
        case kpi_windows.period
            when 'current' then date_trunc('month', bounds.reference_date)
            when 'prior' then date_trunc('month', bounds.reference_date) - interval 1 month
            when 'before_prior' then date_trunc('month', bounds.reference_date) - interval 2 month
        end as mrr_month
    from kpi_windows
    cross join bounds
    union all
    select
        'all_time' as period,
        {{ earliest_date() }} as period_start,
        reference_date as period_end,
        date_trunc('month', reference_date) as mrr_month
    from bounds
),

-- A period's orders from the daily aggregates of every transaction (int_order_days).
orders_by_period as (
    select
        periods.period,
        {{ money('coalesce(sum(order_days.gross_revenue), 0)') }} as gross_revenue,
        {{ money('coalesce(sum(order_days.net_revenue), 0)') }} as net_revenue,
        cast(coalesce(sum(order_days.orders), 0) as bigint) as orders,
        cast(coalesce(sum(order_days.failed_orders), 0) as bigint) as failed_orders
    from periods
    left join order_days on order_days.order_date between periods.period_start and periods.period_end
    group by periods.period
),

-- One row a period: a window's customer base at its end (int_kpi_windows); the whole history ends
-- with the last window, and its paying customers are the customers of int_customer_orders (a paid
-- order by the reference date).
customers_by_period as (
    select
        period,
        paying_customers,
        customers,
        repeat_customers,
        churned_customers,
        average_revenue_per_customer_to_date
    from kpi_windows
    union all
    select
        'all_time' as period,
        (select count(*) from customer_orders) as paying_customers,
        customers,
        repeat_customers,
        churned_customers,
        average_revenue_per_customer_to_date
    from kpi_windows
    where period = 'current'
),

new_customers_by_period as (
    select
        periods.period,
        count(customer_orders.customer_id) as new_customers
    from periods
    left join customer_orders on customer_orders.first_order_date between periods.period_start and periods.period_end
    group by periods.period
),

costs_by_period as (
    select
        periods.period,
        {{ money('coalesce(sum(costs.amount), 0)') }} as operating_costs,
        count(costs.amount) > 0 as has_cost_data,
        coalesce(
            sum(costs.amount) filter (
                where {{ cost_category('costs.category') }} in {{ sql_string_list(var('cost_of_revenue_categories')) }}
            ),
            0
        ) as cost_of_revenue
    from periods
    left join costs on costs.cost_date between periods.period_start and periods.period_end
    group by periods.period
),

marketing_by_period as (
    select
        periods.period,
        {{ money('coalesce(sum(marketing_spend.amount), 0)') }} as marketing_spend
    from periods
    left join marketing_spend on marketing_spend.spend_date between periods.period_start and periods.period_end
    group by periods.period
),

-- From the daily funnel counts (int_funnel_days). Averaged over whole seconds (exact integer sums):
-- an average of doubles may differ in its last digits from one build to the next, as the threads
-- add them up in another order.
funnel_by_period as (
    select
        periods.period,
        cast(coalesce(sum(funnel_days.sessions), 0) as bigint) as sessions,
        cast(coalesce(sum(funnel_days.sessions) filter (
            where funnel_days.furthest_stage_order = {{ var('funnel_stages') | length }}
        ), 0) as bigint) as converted_sessions,
        {{ safe_divide('sum(funnel_days.conversion_seconds)', 'sum(funnel_days.timed_conversions)') }} / 60
            as average_conversion_minutes
    from periods
    left join funnel_days on funnel_days.session_date between periods.period_start and periods.period_end
    group by periods.period
),

mrr_by_period as (
    select
        periods.period,
        revenue_monthly.mrr
    from periods
    left join revenue_monthly on periods.mrr_month = revenue_monthly.revenue_month
),

period_totals as (
    select
        periods.period,
        orders_by_period.gross_revenue,
        orders_by_period.net_revenue,
        orders_by_period.orders,
        customers_by_period.paying_customers,
        orders_by_period.failed_orders,
        new_customers_by_period.new_customers,
        mrr_by_period.mrr,
        customers_by_period.customers,
        customers_by_period.repeat_customers,
        customers_by_period.churned_customers,
        customers_by_period.average_revenue_per_customer_to_date,
        costs_by_period.operating_costs,
        costs_by_period.has_cost_data,
        costs_by_period.cost_of_revenue,
        marketing_by_period.marketing_spend,
        funnel_by_period.sessions,
        funnel_by_period.converted_sessions,
        funnel_by_period.average_conversion_minutes,
        {{ money('orders_by_period.net_revenue - costs_by_period.cost_of_revenue') }} as gross_profit,
        {{ money(
            'orders_by_period.net_revenue - costs_by_period.operating_costs - marketing_by_period.marketing_spend'
        ) }} as net_profit
    from periods
    inner join orders_by_period on periods.period = orders_by_period.period
    inner join customers_by_period on periods.period = customers_by_period.period
    inner join new_customers_by_period on periods.period = new_customers_by_period.period
    inner join mrr_by_period on periods.period = mrr_by_period.period
    inner join costs_by_period on periods.period = costs_by_period.period
    inner join marketing_by_period on periods.period = marketing_by_period.period
    inner join funnel_by_period on periods.period = funnel_by_period.period
),

kpis as (
    select
        period,
        net_revenue,
        gross_revenue,
        orders,
        paying_customers,
        new_customers,
        {{ money_average(safe_divide('gross_revenue', 'orders')) }} as average_order_value,
        {{ money_average(safe_divide('net_revenue', 'paying_customers')) }} as revenue_per_customer,
        mrr,
        customers,
        average_revenue_per_customer_to_date,
        {{ safe_divide('repeat_customers', 'customers') }} as repeat_rate,
        {{ safe_divide('churned_customers', 'customers') }} as churn_rate,
        {{ safe_divide('orders', 'orders + failed_orders') }} as payment_success_rate,
        sessions,
        {{ safe_divide('converted_sessions', 'sessions') }} as conversion_rate,
        average_conversion_minutes,
        marketing_spend,
        operating_costs,
        -- Without marketing spend (or costs) there is no acquisition cost to speak of: null, not 0;
        -- without any cost row in the window the costs are unknown: no margin rather than 100 %.
        {{ acquisition_cost('marketing_spend', 'new_customers') }} as cac,
        {{ acquisition_cost('marketing_spend + operating_costs', 'new_customers') }} as cost_per_acquisition,
        has_cost_data,
        gross_profit,
        {{ safe_divide('gross_profit', 'case when has_cost_data then net_revenue end') }} as gross_margin,
        net_profit,
        {{ safe_divide('net_profit', 'case when has_cost_data then net_revenue end') }} as net_margin,
        {{ safe_divide('net_profit', 'operating_costs + marketing_spend') }} as roi,
        {{ money_average(safe_divide('net_profit', 'paying_customers')) }} as profit_per_customer
    from period_totals
),

current_period as (
    select * from kpis where period = 'current'
),

prior_period as (
    select * from kpis where period = 'prior'
),

before_prior_period as (
    select * from kpis where period = 'before_prior'
),

all_time as (
    select * from kpis where period = 'all_time'
),

-- LTV/CAC cohort against cohort (cohort_ltv): the latest cohort month old enough for the headline
-- horizon, and the one before it as the prior figure. An average over all customers against the
-- newest customers' CAC would mix populations.
headline_cohorts as (
    select
        cohort_month,
        horizon_days,
        ltv_contribution,
        cac,
        ltv_to_cac,
        row_number() over (order by cohort_month desc) as months_back
    from cohort_ltv
    where horizon_days = {{ var('headline_ltv_horizon_days') }}
),

latest_cohort as (
    select * from headline_cohorts where months_back = 1
),

cohort_before as (
    select * from headline_cohorts where months_back = 2
),

-- The biggest movers of the last complete month (its last day on or before the reference date)
-- against the month before: the product whose net revenue moved the most money either way (among
-- products that sold the month before, so that its change is a rate), and the channel whose CAC
-- changed the most. The insights report them when the change passes ANALYTICS_INSIGHT_MOVER_CHANGE.
mover_month as (
    select cast(date_trunc('month', reference_date + 1) - interval 1 month as date) as month_start
    from bounds
),

product_mover as (
    select
        product_performance.product,
        product_performance.net_revenue_growth
    from product_performance
    inner join mover_month on product_performance.order_month = mover_month.month_start
    where product_performance.grain = 'month'
        and product_performance.net_revenue_growth is not null
    order by
        abs(product_performance.net_revenue - product_performance.net_revenue_previous_month) desc,
        product_performance.product
    limit 1
),

channel_cac_mover as (
    select
        channel_performance.channel,
        channel_performance.cac_change
    from channel_performance
    inner join mover_month on channel_performance.acquisition_month = mover_month.month_start
    where channel_performance.cac_change is not null
    order by
        abs(channel_performance.cac_change) desc,
        channel_performance.channel
    limit 1
),

final as (
    select
        bounds.reference_date,
        {{ window_days }} as window_days,
        {%- for kpi in total_kpis %}
        all_time.{{ kpi }} as total_{{ kpi }},
        {%- endfor %}
        {%- for kpi in period_kpis %}
        current_period.{{ kpi }},
        prior_period.{{ kpi }} as {{ kpi }}_prior,
        {%- endfor %}
        {{ safe_divide('current_period.net_revenue', 'prior_period.net_revenue') }} - 1 as net_revenue_growth,
        {{ safe_divide('prior_period.net_revenue', 'before_prior_period.net_revenue') }} - 1
            as net_revenue_growth_prior,
        {{ var('headline_ltv_horizon_days') }} as ltv_horizon_days,
        latest_cohort.cohort_month as ltv_cohort_month,
        latest_cohort.ltv_contribution as cohort_ltv,
        latest_cohort.cac as cohort_cac,
        latest_cohort.ltv_to_cac,
        cohort_before.ltv_to_cac as ltv_to_cac_prior,
        mover_month.month_start as mover_month,
        product_mover.product as product_mover,
        product_mover.net_revenue_growth as product_mover_growth,
        channel_cac_mover.channel as channel_cac_mover,
        channel_cac_mover.cac_change as channel_cac_mover_change
    from bounds
    cross join current_period
    cross join prior_period
    cross join before_prior_period
    cross join all_time
    left join latest_cohort on true
    left join cohort_before on true
    cross join mover_month
    left join product_mover on true
    left join channel_cac_mover on true
)

select * from final
