{#- A table, not a view: a customer id unknown to raw.customers is found by looking up every order's
    customer among the customers (docs/benchmarks.md), which each reader of a view did
    again. Incremental: a night's loads only add days, and so can only add a customer or a record
    of one, or an earlier first order of an unknown one: a build after the first recomputes the
    customers of the rows of the days loaded since the last build (raw.load_log), each from its
    record, or from its stored first order and the loaded days' orders, and replaces their rows.
    A load of a day the stored rows were built from (a reload can take a record or a first order
    away) or a change of the store's time zone recomputes every customer, as a full build does. The
    result is the same as a full build's (tests/integration/test_incremental_marts.py). On Spark, a
    table rebuilt each time, as funnel_sessions. -#}
{{ config(**replacing_rows_by('customer_id', 'is_known_customer')) }}
{#- The vars a customer's row is computed with: the signup's store day. -#}
{%- set build_vars = ['store_timezone'] -%}
with source as (
    select * from {{ source('raw', 'customers') }}
),

transactions as (
    select * from {{ source('raw', 'transactions') }}
),

customer_loads as (
    select * from {{ source('raw', 'load_log') }}
    where source_table in ('customers', 'transactions')
),

{%- if is_incremental() %}

previous_build as (
    select
        coalesce(max(_last_load_id), 0) as last_load_id,
        {{ settings_changed(build_vars) }} as settings_changed
    from {{ this }}
),

loads_since as (
    select customer_loads.*
    from customer_loads
    cross join previous_build
    where customer_loads.load_id > previous_build.last_load_id
),

-- Every customer is recomputed when the vars changed or a load since replaced a day that a load
-- up to the previous build had written.
rebuild as (
    select
        previous_build.settings_changed or exists (
            select 1
            from loads_since
            inner join customer_loads as earlier
                on loads_since.source_table = earlier.source_table
                and loads_since.partition_date = earlier.partition_date
            where earlier.load_id <= previous_build.last_load_id
        ) as is_rebuild
    from previous_build
),

-- The days of orders the build reads: the transactions days loaded since (every day in a
-- rebuild), as a range the scan skips row groups by.
order_days as (
    select
        case when rebuild.is_rebuild then date '-infinity' else min(loads_since.partition_date) end as first_day,
        case when rebuild.is_rebuild then date 'infinity' else max(loads_since.partition_date) end as last_day
    from rebuild
    left join loads_since on loads_since.source_table = 'transactions'
    group by rebuild.is_rebuild
),

loaded_customers as (
    select source.*
    from source
    where (select is_rebuild from rebuild)
        or source._partition_date in (select partition_date from loads_since where source_table = 'customers')
),

loaded_orders as (
    select
        transactions.customer_id,
        transactions.created_at
    from transactions
    where transactions._partition_date >= (select first_day from order_days)
        and transactions._partition_date <= (select last_day from order_days)
        and (
            (select is_rebuild from rebuild)
            or transactions._partition_date in (select partition_date from loads_since where source_table = 'transactions')
        )
),

-- The customers of the rows read, and in a rebuild every stored one (a customer left without rows
-- is cleared).
affected_customers as (
    select customer_id from loaded_customers
    union
    select customer_id from loaded_orders
    union
    select customer_id from {{ this }} where (select is_rebuild from rebuild)
),

-- An affected customer's orders: those of the days read, and outside a rebuild the stored first
-- order of a customer the shop has not described, which the added days can only move earlier.
orders as (
    select customer_id, created_at from loaded_orders
    union all
    select stored.customer_id, stored.signup_at as created_at
    from {{ this }} as stored
    semi join affected_customers on stored.customer_id = affected_customers.customer_id
    where not stored.is_known_customer and not (select is_rebuild from rebuild)
),

{%- else %}

orders as (
    select customer_id, created_at from transactions
),

{%- endif %}

known as (
    select
        customer_id,
        signup_at,
        {{ store_date('signup_at') }} as signup_date,
        -- Lower case, as stg_marketing_spend's channel, so that spend and customers meet by channel.
        lower(coalesce(acquisition_channel, 'unknown')) as acquisition_channel,
        coalesce(country, 'unknown') as country,
        true as is_known_customer
    from source
    {%- if is_incremental() %}
    semi join affected_customers on source.customer_id = affected_customers.customer_id
    {%- endif %}
),

-- A guest checkout, or an order exported before its customer: the order and its revenue stay,
-- and its customer is one the shop has not described, first seen with that order.
unknown as (
    select
        customer_id,
        min(created_at) as signup_at,
        {{ store_date('min(created_at)') }} as signup_date,
        'unknown' as acquisition_channel,
        'unknown' as country,
        false as is_known_customer
    from orders
    where not exists (select 1 from source where source.customer_id = orders.customer_id)
    group by customer_id
),

final as (
    select
        *,
        (select coalesce(max(load_id), 0) from customer_loads) as _last_load_id,
        {{ build_settings(build_vars) }} as _settings
    from (
        select * from known
        union all
        select * from unknown
    )
)

-- Affected customers left without a record or an order (a reload took them away) get a row without
-- is_known_customer, which removes their stored row (a row without signup_at is one the column
-- rules must see).
{{ final_with_cleared_keys('final', 'affected_customers', 'customer_id') }}
