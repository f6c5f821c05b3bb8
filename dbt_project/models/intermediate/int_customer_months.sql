{#- A customer's paid orders of a month, summed, with the customer's cohort, channel and country:
    the cohort and breakdown marts (cohort_ltv, cohort_retention, channel_performance,
    country_performance) read a row per customer and month instead of joining every paid order
    with its customer. The orders of a month are split by the shortest LTV horizon (macro
    ltv_horizon_bounds: days since the customer's first order) they fell within, so that each
    horizon's sums are sums of rows.
    Incremental: a row depends on the customer's paid orders, record and first order and on the
    month's gross margin, which are exactly what int_customer_orders' row of the customer is
    recomputed for; a build after the first recomputes the customers whose row int_customer_orders
    rewrote since (macro upstream_changed_keys), and every customer when the horizons changed. On
    Spark, a table rebuilt each time, as funnel_sessions. -#}
{%- set horizons = ltv_horizon_bounds() -%}
{%- set horizon_list = horizons | join(',') -%}
{{ config(**replacing_rows_by('customer_id', 'order_month')) }}
with all_paid_orders as (
    select * from {{ ref('int_paid_orders') }}
),

customer_orders as (
    select * from {{ ref('int_customer_orders') }}
),

monthly_margins as (
    select * from {{ ref('int_monthly_margins') }}
),

{%- if is_incremental() %}

-- Customers int_customer_orders rewrote or removed since the last build; every customer when the
-- horizons are not the stored ones.
affected_customers as (
    {{ upstream_changed_keys('customer_orders', 'customer_id', 'count(distinct customer_id)', '_customers_build_number') }}
    union
    select customer_orders.customer_id
    from customer_orders
    where exists (select 1 from {{ this }} where _ltv_horizons <> {{ sql_string(horizon_list) }})
),

{%- endif %}

paid_orders as (
    {{ rows_to_compute('all_paid_orders', 'affected_customers', 'customer_id') }}
),

-- Each paid order with its customer's cohort and its contribution (net amount × its month's gross
-- margin, to a millionth of a cent, so that the sums are the same on every build).
order_values as (
    select
        paid_orders.customer_id,
        paid_orders.order_month,
        case
            {%- for horizon in horizons %}
            when {{ dbt.datediff('customer_orders.first_order_date', 'paid_orders.order_date', 'day') }} < {{ horizon }}
                then {{ horizon }}
            {%- endfor %}
        end as ltv_horizon_days,
        customer_orders.cohort_month,
        customer_orders.acquisition_channel,
        customer_orders.country,
        paid_orders.order_date = customer_orders.first_order_date as is_first_purchase_day,
        paid_orders.gross_amount,
        paid_orders.net_amount,
        cast(paid_orders.net_amount * monthly_margins.gross_margin as decimal(18, 6)) as contribution
    from paid_orders
    inner join customer_orders on paid_orders.customer_id = customer_orders.customer_id
    left join monthly_margins on paid_orders.order_month = monthly_margins.calendar_month
),

final as (
    select
        customer_id,
        order_month,
        ltv_horizon_days,
        cohort_month,
        acquisition_channel,
        country,
        count(*) as orders,
        sum(gross_amount) as gross_revenue,
        sum(net_amount) as net_revenue,
        sum(net_amount) filter (where is_first_purchase_day) as first_purchase_day_net_revenue,
        sum(contribution) as contribution,
        {{ sql_string(horizon_list) }} as _ltv_horizons,
        (select max(_build_number) from customer_orders) as _customers_build_number
    from order_values
    group by
        customer_id,
        order_month,
        ltv_horizon_days,
        cohort_month,
        acquisition_channel,
        country
)

-- Affected customers left without any paid order get a row without order_month, which removes
-- their stored rows.
{{ final_with_cleared_keys('final', 'affected_customers', 'customer_id') }}
