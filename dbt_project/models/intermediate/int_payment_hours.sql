{#- A store day's payment attempts of each method and hour of the day (store time), counted:
    payment_methods reads a row per method, hour and day instead of every transaction. Not limited
    by the reference date (the reader stops at it), as int_order_days.
    Incremental as int_order_days: a build after the first counts again only the days of the
    transactions loads since its last build (raw.load_log), and replaces their rows. On Spark, a
    table rebuilt each time, as funnel_sessions. -#}
{{ config(**replacing_rows_by('order_date', 'attempts')) }}
{#- The vars a day's row is computed with: the store's days and hours. -#}
{%- set build_vars = ['store_timezone'] -%}
with {{ transactions_of_changed_days(build_vars) }},

-- A payment attempt is an order whose payment was settled either way: paid (completed, or
-- refunded afterwards) or failed. Pending orders have no outcome yet, and a cancelled order was
-- given up before paying.
attempts as (
    select
        order_date,
        coalesce(payment_method, 'unknown') as payment_method,
        extract(hour from {{ store_time('created_at') }}) as hour_of_day,
        is_paid
    from day_transactions
    where is_paid or is_failed
),

final as (
    select
        order_date,
        payment_method,
        hour_of_day,
        count(*) as attempts,
        count(*) filter (where is_paid) as successful,
        (select coalesce(max(load_id), 0) from transaction_loads) as _last_load_id,
        {{ build_settings(build_vars) }} as _settings
    from attempts
    group by order_date, payment_method, hour_of_day
)

-- A changed day left without attempts gets a row without them, which clears its stored rows.
{{ final_with_cleared_keys('final', 'changed_days', 'order_date') }}
