{#- A customer's paid orders of a month, summed, with the customer's cohort, channel and country:
    the marts that split a month by LTV horizon (cohort_ltv, channel_performance) read a row per
    customer and month instead of joining every paid order with its customer. The orders of a
    month are split by the shortest LTV horizon (macro ltv_horizon_bounds: days since the
    customer's first order) they fell within, so that each horizon's sums are sums of rows.
    Incremental: a row of a customer and month depends on the month's paid orders and gross margin
    and on the customer's first order and record. A build after the first recomputes the rows of
    the months whose rows int_customer_purchase_months rewrote or removed since (macro
    upstream_replaced_months) or whose margin is not the stored one, from those months' paid orders
    alone, and every row of the customers whose first order, channel or country
    int_customer_orders changed since; every row when the horizons changed. On Spark, a
    table rebuilt each time, as funnel_sessions. -#}
{%- set horizons = ltv_horizon_bounds() -%}
{%- set horizon_list = horizons | join(',') -%}
{{ config(**replacing_rows_by(['customer_id', 'order_month'], 'orders')) }}
-- Not materialized: a build reads the changed months' row groups of it, not a copy of every paid order.
with all_paid_orders as {{ cte_hint('not materialized') }} (
    select * from {{ ref('int_paid_orders') }}
),

customer_orders as {{ cte_hint('not materialized') }} (
    select * from {{ ref('int_customer_orders') }}
),

monthly_margins as (
    select * from {{ ref('int_monthly_margins') }}
),

purchase_months as {{ cte_hint('not materialized') }} (
    select * from {{ ref('int_customer_purchase_months') }}
),

{%- if is_incremental() %}

-- Months whose paid orders changed (int_customer_purchase_months rewrote or removed their rows
-- since the last build), months whose gross margin is not the one their stored rows were computed
-- with, and every month when the horizons are not the stored ones.
changed_months as (
    {{ upstream_replaced_months('purchase_months', '_purchase_months_build_number') }}
    union
    select stored.order_month
    from (select distinct order_month, _gross_margin from {{ this }}) as stored
    left join monthly_margins on stored.order_month = monthly_margins.calendar_month
    where stored._gross_margin is distinct from monthly_margins.gross_margin
    union
    select purchase_months.order_month
    from purchase_months
    where exists (select 1 from {{ this }} where _ltv_horizons <> {{ sql_string(horizon_list) }})
),

-- The customers int_customer_orders rewrote since the last build (every customer when it was built
-- afresh since: its build numbers start again at 1).
rewritten_customers as (
    select *
    from customer_orders
    where customer_orders._build_number > (select max(_customers_build_number) from {{ this }})
        or (select max(_build_number) from customer_orders) < (select max(_customers_build_number) from {{ this }})
),

-- Of those, the stored customers whose first order, channel or country changed, with their stored
-- rows' months: every row of theirs is computed again. A customer without a stored row has paid
-- orders in changed months only.
changed_customers as (
    select
        stored.customer_id,
        min(stored.order_month) as first_month,
        max(stored.order_month) as last_month
    from {{ this }} as stored
    inner join rewritten_customers on stored.customer_id = rewritten_customers.customer_id
    where stored._first_order_date is distinct from rewritten_customers.first_order_date
        or stored.acquisition_channel is distinct from rewritten_customers.acquisition_channel
        or stored.country is distinct from rewritten_customers.country
    group by stored.customer_id
),

-- The stored customers and months the build replaces.
replaced_rows as (
    select distinct stored.customer_id, stored.order_month
    from {{ this }} as stored
    where stored.order_month in (select order_month from changed_months)
        or stored.customer_id in (select customer_id from changed_customers)
),

-- The months whose paid orders the build reads, as ranges: each changed month, and each changed
-- customer's stored months (first to last).
read_months as (
    select
        order_month as first_month,
        order_month as last_month
    from changed_months
    union all
    select
        first_month,
        last_month
    from changed_customers
),

-- The paid orders of the changed months, and the other months' of the changed customers: those
-- are the orders their stored rows were computed from, so they lie in the stored rows' months.
-- One read of the paid orders, of the UTC times of those months first (macro
-- utc_times_of_store_days), so that the scan skips the other months' row groups: with two reads
-- of the view, DuckDB computed it once for both, from every paid order, before either filter.
paid_orders as (
    select all_paid_orders.*
    from all_paid_orders
    where {{ utc_times_of_store_days(
            'all_paid_orders.created_at',
            '(select min(first_month) from read_months)',
            '(select last_day(max(last_month)) from read_months)'
        ) }}
        and (
            all_paid_orders.order_month in (select order_month from changed_months)
            or all_paid_orders.customer_id in (select customer_id from changed_customers)
        )
),
{%- else %}

paid_orders as (
    select * from all_paid_orders
),
{%- endif %}

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
        customer_orders.first_order_date,
        monthly_margins.gross_margin,
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
        first_order_date as _first_order_date,
        gross_margin as _gross_margin,
        {{ sql_string(horizon_list) }} as _ltv_horizons,
        (select max(_build_number) from customer_orders) as _customers_build_number,
        (select max(_build_number) from purchase_months) as _purchase_months_build_number
    from order_values
    group by
        customer_id,
        order_month,
        ltv_horizon_days,
        cohort_month,
        acquisition_channel,
        country,
        first_order_date,
        gross_margin
)

-- Replaced customers and months left without any paid order get a row without orders, which
-- removes their stored rows.
{{ final_with_cleared_keys('final', 'replaced_rows', ['customer_id', 'order_month']) }}
