{#- A customer's purchase days of a month (several paid orders of a day are one purchase), counted
    and summed: what int_customer_orders combines into a customer's row without reading the orders
    again. A row depends on the paid orders of its month only.
    Incremental: a build after the first recomputes the months of the days loaded since the last
    build (raw.load_log) or crossed by a move of the reference date, from those months' paid orders
    alone (macro paid_orders_of_months), and replaces those months' rows; every month when the
    store's time zone changed. On Spark, a table rebuilt each time, as funnel_sessions. -#}
{{ config(**replacing_rows_by('order_month', 'customer_id')) }}
{#- The var a row is computed with: the store's days. -#}
{%- set build_vars = ['store_timezone'] -%}
-- Not materialized: a build reads the changed months' row groups of it, not a copy of every paid order.
with all_paid_orders as {{ cte_hint('not materialized') }} (
    select * from {{ ref('int_paid_orders') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

order_loads as (
    select * from {{ source('raw', 'load_log') }}
    where source_table = 'transactions'
),

{%- if is_incremental() %}

-- What the latest build that wrote rows was built from (macro previous_build): the stored rows end
-- by their last order's day.
previous_build as (
    {{ previous_build('last_purchase_date', settings_changed(build_vars) ~ ' as settings_changed') }}
),

changed_days as (
    {{ changed_order_days('order_loads', 'previous_build', 'bounds') }}
),

-- The months of the changed days; every month, stored or now, when the vars of build_vars changed.
changed_months as (
    select distinct cast(date_trunc('month', changed_day) as date) as order_month
    from changed_days
    union
    select order_month from all_paid_orders where (select settings_changed from previous_build)
    union
    select order_month from {{ this }} where (select settings_changed from previous_build)
),

{%- endif %}

paid_orders as (
    {{ paid_orders_of_months('all_paid_orders', 'changed_months', 'order_month') }}
),

purchase_days as (
    select
        customer_id,
        order_month,
        order_date,
        count(*) as orders,
        sum(gross_amount) as gross_spend,
        sum(net_amount) as net_spend
    from paid_orders
    group by
        customer_id,
        order_month,
        order_date
),

-- The month's first and second purchase days: a customer's repeat purchase is the first purchase
-- day after their first, the second of the first month or the first of a later one.
final as (
    select
        customer_id,
        order_month,
        min(order_date) as first_purchase_date,
        min(order_date) filter (where order_rank = 2) as second_purchase_date,
        max(order_date) as last_purchase_date,
        cast(sum(orders) as bigint) as paid_orders,
        count(*) as purchase_days,
        sum(gross_spend) as gross_spend,
        sum(net_spend) as net_spend,
        sum(net_spend) filter (where order_rank = 1) as first_day_net_spend,
        (select reference_date from bounds) as _reference_date,
        {{ build_settings(build_vars) }} as _settings,
        (select coalesce(max(load_id), 0) from order_loads) as _last_load_id,
        {%- if is_incremental() %}
        (select coalesce(build_number, 0) + 1 from previous_build) as _build_number
        {%- else %}
        1 as _build_number
        {%- endif %}
    from (
        select
            *,
            row_number() over (partition by customer_id, order_month order by order_date) as order_rank
        from purchase_days
    )
    group by
        customer_id,
        order_month
)

-- Changed months left without any paid order get a row without customer_id, which removes their
-- stored rows.
{{ final_with_cleared_keys('final', 'changed_months', 'order_month') }}
