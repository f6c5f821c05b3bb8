{#- Incremental: a build after the first aggregates again only the days of the transactions loads
    since its last build (raw.load_log), and replaces their rows; revenue_daily reads a row a day
    instead of every transaction. The days do not depend on the reference date: every transaction
    counts (revenue_daily's calendar stops at the reference date). On Spark, a table rebuilt each
    time, as funnel_sessions. -#}
{{ config(**replacing_rows_by('order_date', 'attempted_orders')) }}
{#- The vars a day's row is computed with: the store's days. -#}
{%- set build_vars = ['store_timezone'] -%}
with {{ transactions_of_changed_days(build_vars) }},

final as (
    select
        order_date,
        {{ money('sum(gross_amount)') }} as gross_revenue,
        {{ money('sum(refund_amount)') }} as refunds,
        {{ money('sum(net_amount)') }} as net_revenue,
        count(*) filter (where is_paid) as orders,
        count(*) filter (where is_refunded) as refunded_orders,
        count(*) filter (where is_failed) as failed_orders,
        count(*) as attempted_orders,
        count(*) filter (where is_paid and is_promotion) as promo_orders,
        count(distinct customer_id) filter (where is_paid) as paying_customers,
        (select coalesce(max(load_id), 0) from transaction_loads) as _last_load_id,
        {{ build_settings(build_vars) }} as _settings
    from day_transactions
    group by order_date
)

-- A changed day left without transactions gets a row without them, which clears its stored rows.
{{ final_with_cleared_keys('final', 'changed_days', 'order_date') }}
