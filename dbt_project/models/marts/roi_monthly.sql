{%- set categories = var('cost_categories') -%}
with revenue as (
    select * from {{ ref('revenue_monthly') }}
),

costs as (
    select * from {{ ref('stg_costs') }}
),

marketing_spend as (
    select * from {{ ref('stg_marketing_spend') }}
),

customers as (
    select * from {{ ref('customer_rfm') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

monthly_costs as (
    select
        cast(date_trunc('month', costs.cost_date) as date) as roi_month,
        {%- for category in categories %}
        sum(costs.amount) filter (where {{ cost_category('costs.category') }} = {{ sql_string(category) }})
            as cost_{{ category }},
        {%- endfor %}
        sum(costs.amount) filter (
            where {{ cost_category('costs.category') }} in {{ sql_string_list(var('cost_of_revenue_categories')) }}
        ) as cost_of_revenue,
        sum(costs.amount) as operating_costs,
        count(*) as cost_entries
    from costs
    cross join bounds
    where costs.cost_date <= bounds.reference_date
    group by 1
),

monthly_marketing as (
    select
        cast(date_trunc('month', marketing_spend.spend_date) as date) as roi_month,
        sum(marketing_spend.amount) as marketing_spend
    from marketing_spend
    cross join bounds
    where marketing_spend.spend_date <= bounds.reference_date
    group by 1
),

-- Customers acquired in a month (first paid order) and their lifetime value so far.
acquisitions as (
    select
        cohort_month as roi_month,
        count(*) as new_customers,
        avg(historical_ltv) as average_ltv
    from customers
    group by cohort_month
),

-- Every month from the first with revenue, a cost or marketing spend to the reference month, so
-- that a month with none of them still counts in the cumulative profit.
{%- set first_month %}
        (
            select min(roi_month)
            from (
                select revenue_month as roi_month from revenue
                union all
                select roi_month from monthly_costs
                union all
                select roi_month from monthly_marketing
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
        coalesce(monthly_costs.cost_{{ category }}, 0) as cost_{{ category }},
        {%- endfor %}
        coalesce(monthly_costs.cost_of_revenue, 0) as cost_of_revenue,
        coalesce(monthly_costs.operating_costs, 0) as operating_costs,
        monthly_costs.cost_entries is not null as has_cost_data,
        coalesce(monthly_marketing.marketing_spend, 0) as marketing_spend,
        coalesce(acquisitions.new_customers, 0) as new_customers,
        acquisitions.average_ltv
    from months
    left join revenue on months.roi_month = revenue.revenue_month
    left join monthly_costs on months.roi_month = monthly_costs.roi_month
    left join monthly_marketing on months.roi_month = monthly_marketing.roi_month
    left join acquisitions on months.roi_month = acquisitions.roi_month
),

profits as (
    select
        *,
        net_revenue - cost_of_revenue as gross_profit,
        net_revenue - operating_costs - marketing_spend as net_profit,
        -- No marketing spend: no acquisition cost to speak of (null, not a CAC of 0).
        {{ safe_divide('nullif(marketing_spend, 0)', 'new_customers') }} as cac
    from monthly
),

cumulative as (
    select
        *,
        sum(net_profit) over (order by roi_month) as cumulative_net_profit
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
        -- A month without any cost row has unknown costs, not none: no margin rather than 100 %.
        {{ safe_divide('gross_profit', 'case when has_cost_data then net_revenue end') }} as gross_margin,
        net_profit,
        {{ safe_divide('net_profit', 'case when has_cost_data then net_revenue end') }} as net_margin,
        {{ safe_divide('net_profit', 'operating_costs + marketing_spend') }} as roi,
        new_customers,
        cac,
        average_ltv,
        {{ safe_divide('average_ltv', 'cac') }} as ltv_to_cac,
        cumulative_net_profit,
        min(roi_month) filter (where cumulative_net_profit > 0) over () as break_even_month
    from cumulative
)

select * from final
