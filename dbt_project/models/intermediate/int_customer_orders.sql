{#- A customer's row combines the customer's rows of int_customer_purchase_months (their purchase
    days of each month, counted and summed) and the months' gross margins; it reads no order.
    Incremental: a build after the first recomputes only the customers whose row the loads since
    the last build (raw.load_log), a move of the reference date or a change of the customer's record
    can have changed, from all of their months, and replaces their rows; a nightly run recomputes
    the customers of the current month instead of every customer. The result is the same as a full
    build's (tests/integration/test_incremental_marts.py). On Spark, a table rebuilt each time, as
    funnel_sessions. -#}
{{ config(**replacing_rows_by('customer_id', 'first_order_date')) }}
{#- The vars a customer's row is computed with: the store's days, and the costs of revenue behind
    the months' margins. -#}
{%- set build_vars = ['store_timezone', 'cost_of_revenue_categories'] -%}
-- Not materialized: each read of it is one scan of a few of its columns.
with all_purchase_months as {{ cte_hint('not materialized') }} (
    select * from {{ ref('int_customer_purchase_months') }}
),

customers as (
    select * from {{ ref('stg_customers') }}
),

monthly_margins as (
    select * from {{ ref('int_monthly_margins') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

-- The loads a customer's row depends on: their paid orders, and the costs behind a month's margin.
order_loads as (
    select * from {{ source('raw', 'load_log') }}
    where source_table in ('transactions', 'costs')
),

{%- if is_incremental() %}

-- What the latest build that wrote rows was built from (macro previous_build): the stored
-- customers end by their last order's day.
previous_build as (
    {{ previous_build('last_order_date', settings_changed(build_vars) ~ ' as settings_changed') }}
),

-- Days whose paid orders may differ from the stored ones.
changed_days as (
    {{ changed_order_days('order_loads', 'previous_build', 'bounds') }}
),

-- Months whose gross margin (int_monthly_margins) may have changed: their revenue (a changed day)
-- or their costs (a costs load since the previous build).
changed_months as (
    select cast(date_trunc('month', changed_day) as date) as changed_month
    from changed_days
    union
    select cast(date_trunc('month', order_loads.partition_date) as date) as changed_month
    from order_loads
    cross join previous_build
    where order_loads.source_table = 'costs'
        and order_loads.load_id > coalesce(previous_build.last_load_id, 0)
),

-- Customers with a paid order in a changed month now (which takes in the changed days), stored
-- customers who had one on a changed day (a stored customer's paid orders lie between their first
-- and last order dates), stored customers whose channel or country is no longer theirs, and every
-- customer, stored or now, when the vars of build_vars changed.
affected_customers as (
    select all_purchase_months.customer_id
    from all_purchase_months
    where all_purchase_months.order_month in (select changed_month from changed_months)
    union
    select stored.customer_id
    from {{ this }} as stored
    where exists (
        select 1
        from changed_days
        where changed_days.changed_day between stored.first_order_date and stored.last_order_date
    )
    union
    select stored.customer_id
    from {{ this }} as stored
    left join customers on stored.customer_id = customers.customer_id
    where stored.acquisition_channel is distinct from customers.acquisition_channel
        or stored.country is distinct from customers.country
    union
    select customer_id from all_purchase_months where (select settings_changed from previous_build)
    union
    select customer_id from {{ this }} where (select settings_changed from previous_build)
),

{%- endif %}

-- The months of the affected customers (all of them in a full build).
purchase_months as (
    {{ rows_to_compute('all_purchase_months', 'affected_customers', 'customer_id') }}
),

-- The one definition of a customer's first paid order, and so of the acquisition cohort.
dated_purchase_months as (
    select
        *,
        min(first_purchase_date) over (partition by customer_id) as customer_first_order_date
    from purchase_months
),

-- A month's net spend times its gross margin (int_monthly_margins): the customer's contribution
-- that month.
monthly_contributions as (
    select
        purchase_months.customer_id,
        purchase_months.order_month,
        purchase_months.net_spend * monthly_margins.gross_margin as contribution
    from purchase_months
    left join monthly_margins on purchase_months.order_month = monthly_margins.calendar_month
),

-- Known only when every month the customer bought in has cost data; the months are added in
-- calendar order, so that the double sum is the same on every build.
customer_contributions as (
    select
        customer_id,
        case
            when count(contribution) = count(*) then {{ ordered_sum('contribution', 'order_month') }}
        end as gross_margin_contribution
    from monthly_contributions
    group by customer_id
),

-- A repeat customer is one who paid again on a later day than the first: the first purchase day
-- after the first, the second of the first month or the first of a later one.
customer_purchases as (
    select
        customer_id,
        min(customer_first_order_date) as first_order_date,
        max(last_purchase_date) as last_order_date,
        min(
            case
                when first_purchase_date > customer_first_order_date then first_purchase_date
                else second_purchase_date
            end
        ) as repeat_purchase_date,
        cast(sum(paid_orders) as bigint) as paid_orders,
        cast(sum(purchase_days) as bigint) as purchase_days,
        sum(gross_spend) as gross_spend,
        sum(net_spend) as net_spend,
        sum(net_spend) - sum(first_day_net_spend) filter (where first_purchase_date = customer_first_order_date)
            as repeat_net_spend
    from dated_purchase_months
    group by customer_id
),

final as (
    select
        customer_purchases.customer_id,
        customer_purchases.first_order_date,
        cast(date_trunc('month', customer_purchases.first_order_date) as date) as cohort_month,
        customers.acquisition_channel,
        customers.country,
        customer_purchases.last_order_date,
        customer_purchases.repeat_purchase_date,
        customer_purchases.repeat_purchase_date is not null as is_repeat_customer,
        customer_purchases.paid_orders,
        customer_purchases.purchase_days,
        {{ money('customer_purchases.gross_spend') }} as gross_spend,
        {{ money('customer_purchases.net_spend') }} as net_spend,
        {{ money('customer_purchases.repeat_net_spend') }} as repeat_net_spend,
        {{ money('customer_contributions.gross_margin_contribution') }} as gross_margin_contribution,
        bounds.reference_date as _reference_date,
        {{ build_settings(build_vars) }} as _settings,
        (select coalesce(max(load_id), 0) from order_loads) as _last_load_id,
        {%- if is_incremental() %}
        (select coalesce(build_number, 0) + 1 from previous_build) as _build_number
        {%- else %}
        1 as _build_number
        {%- endif %}
    from customer_purchases
    inner join customer_contributions on customer_purchases.customer_id = customer_contributions.customer_id
    left join customers on customer_purchases.customer_id = customers.customer_id
    cross join bounds
)

-- Affected customers left without any paid order (a reload took them away, or the reference date
-- moved back before them) get a row without first_order_date, which removes their stored row.
{{ final_with_cleared_keys('final', 'affected_customers', 'customer_id') }}
