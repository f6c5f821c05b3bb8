{%- set categories = var('cost_categories') -%}
{%- set horizon_days = var('headline_ltv_horizon_days') -%}
with revenue as (
    select * from {{ ref('revenue_monthly') }}
),

monthly_margins as (
    select * from {{ ref('int_monthly_margins') }}
),

customer_orders as (
    select * from {{ ref('int_customer_orders') }}
),

cohort_ltv as (
    select * from {{ ref('cohort_ltv') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

-- Customers acquired in a month (first paid order): the month's cohort.
acquisitions as (
    select
        cohort_month as roi_month,
        count(*) as new_customers
    from customer_orders
    group by cohort_month
),

-- The cohort's LTV/CAC at the headline horizon (cohort_ltv, the figure kpi_summary heads with):
-- null while the cohort is younger than the horizon.
cohort_at_horizon as (
    select
        cohort_month as roi_month,
        ltv_contribution,
        ltv_to_cac
    from cohort_ltv
    where horizon_days = {{ horizon_days }}
),

-- Every month from the first with revenue, a cost or marketing spend to the reference month, so
-- that a month with none of them still counts in the cumulative profit.
{%- set first_month %}
        (
            select min(roi_month)
            from (
                select revenue_month as roi_month from revenue
                union all
                select calendar_month as roi_month from monthly_margins
            ) as source_months
        )
{%- endset %}
months as (
    select cast(month_start as date) as roi_month
    from {{ series(
        first_month,
        "(select date_trunc('month', reference_date) from bounds) + interval 1 month",
        'interval 1 month',
        'months',
        'month_start'
    ) }}
),

monthly as (
    select
        months.roi_month,
        coalesce(revenue.gross_revenue, 0) as revenue,
        coalesce(revenue.refunds, 0) as refunds,
        coalesce(revenue.net_revenue, 0) as net_revenue,
        {%- for category in categories %}
        coalesce(monthly_margins.cost_{{ category }}, 0) as cost_{{ category }},
        {%- endfor %}
        coalesce(monthly_margins.cost_of_revenue, 0) as cost_of_revenue,
        coalesce(monthly_margins.operating_costs, 0) as operating_costs,
        coalesce(monthly_margins.has_cost_data, false) as has_cost_data,
        coalesce(monthly_margins.marketing_spend, 0) as marketing_spend,
        coalesce(monthly_margins.gross_profit, 0) as gross_profit,
        monthly_margins.gross_margin,
        coalesce(acquisitions.new_customers, 0) as new_customers,
        cohort_at_horizon.ltv_contribution as cohort_ltv,
        cohort_at_horizon.ltv_to_cac
    from months
    left join revenue on months.roi_month = revenue.revenue_month
    left join monthly_margins on months.roi_month = monthly_margins.calendar_month
    left join acquisitions on months.roi_month = acquisitions.roi_month
    left join cohort_at_horizon on months.roi_month = cohort_at_horizon.roi_month
),

profits as (
    select
        *,
        {{ money('net_revenue - operating_costs - marketing_spend') }} as net_profit,
        {{ acquisition_cost('marketing_spend', 'new_customers') }} as cac
    from monthly
),

cumulative as (
    select
        *,
        {{ money('sum(net_profit) over (order by roi_month)') }} as cumulative_net_profit
    from profits
),

final as (
    select
        roi_month,
        revenue,
        refunds,
        net_revenue,
        {%- for category in categories %}
        cost_{{ category }},
        {%- endfor %}
        cost_of_revenue,
        operating_costs,
        marketing_spend,
        has_cost_data,
        gross_profit,
        gross_margin,
        net_profit,
        -- A month without any cost row has unknown costs, not none: no margin rather than 100 %.
        {{ safe_divide('net_profit', 'case when has_cost_data then net_revenue end') }} as net_margin,
        {{ safe_divide('net_profit', 'operating_costs + marketing_spend') }} as roi,
        new_customers,
        cac,
        {{ horizon_days }} as ltv_horizon_days,
        cohort_ltv,
        ltv_to_cac,
        cumulative_net_profit,
        min(roi_month) filter (where cumulative_net_profit > 0) over () as break_even_month
    from cumulative
)

select * from final
