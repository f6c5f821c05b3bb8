{%- set categories = var('cost_categories') -%}
with order_days as (
    select * from {{ ref('int_order_days') }}
),

costs as (
    select * from {{ ref('stg_costs') }}
),

marketing_spend as (
    select * from {{ ref('stg_marketing_spend') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

-- The paid orders' net revenue from the daily aggregates (int_order_days, whose net revenue is
-- that of the paid orders: the others' net amount is 0), not from every paid order: exact sums of
-- cents, so the same as int_paid_orders' by month. A month with no paid order has no row, as
-- when it was read from int_paid_orders.
monthly_revenue as (
    select
        cast(date_trunc('month', order_days.order_date) as date) as calendar_month,
        sum(order_days.net_revenue) as net_revenue
    from order_days
    cross join bounds
    where order_days.order_date <= bounds.reference_date
    group by 1
    having sum(order_days.orders) > 0
),

monthly_costs as (
    select
        cast(date_trunc('month', costs.cost_date) as date) as calendar_month,
        {%- for category in categories %}
        sum(costs.amount) filter (where {{ cost_category('costs.category') }} = {{ sql_string(category) }})
            as cost_{{ category }},
        {%- endfor %}
        sum(costs.amount) filter (
            where {{ cost_category('costs.category') }} in {{ sql_string_list(var('cost_of_revenue_categories')) }}
        ) as cost_of_revenue,
        sum(costs.amount) as operating_costs
    from costs
    cross join bounds
    where costs.cost_date <= bounds.reference_date
    group by 1
),

monthly_marketing as (
    select
        cast(date_trunc('month', marketing_spend.spend_date) as date) as calendar_month,
        sum(marketing_spend.amount) as marketing_spend
    from marketing_spend
    cross join bounds
    where marketing_spend.spend_date <= bounds.reference_date
    group by 1
),

monthly as (
    select
        calendar_month,
        {{ money('coalesce(monthly_revenue.net_revenue, 0)') }} as net_revenue,
        {%- for category in categories %}
        {{ money('coalesce(monthly_costs.cost_' ~ category ~ ', 0)') }} as cost_{{ category }},
        {%- endfor %}
        {{ money('coalesce(monthly_costs.cost_of_revenue, 0)') }} as cost_of_revenue,
        {{ money('coalesce(monthly_costs.operating_costs, 0)') }} as operating_costs,
        -- A month without any cost row has unknown costs, not none.
        monthly_costs.operating_costs is not null as has_cost_data,
        {{ money('coalesce(monthly_marketing.marketing_spend, 0)') }} as marketing_spend
    from monthly_revenue
    full outer join monthly_costs using (calendar_month)
    full outer join monthly_marketing using (calendar_month)
),

final as (
    select
        *,
        {{ money('net_revenue - cost_of_revenue') }} as gross_profit,
        -- The share of a month's net revenue left after its costs of revenue: what an order of the
        -- month contributes per unit of net revenue (int_customer_orders, cohort_ltv). Unknown
        -- costs give no margin rather than 100 %.
        {{ safe_divide('net_revenue - cost_of_revenue', 'case when has_cost_data then net_revenue end') }}
            as gross_margin
    from monthly
)

select * from final
