{#- A store day's paid orders of each product, counted and summed: top_products and
    revenue_monthly's recurring sales read a row per product and day instead of every paid order.
    Not limited by the reference date, as int_order_days: top_products stops at it.
    Incremental as int_order_days: a build after the first aggregates again only the days of the
    transactions loads since its last build (raw.load_log), and replaces their rows. On Spark, a
    table rebuilt each time, as funnel_sessions. -#}
{{ config(**replacing_rows_by('order_date', 'orders')) }}
{#- The vars a day's row is computed with: the store's days. -#}
{%- set build_vars = ['store_timezone'] -%}
with {{ transactions_of_changed_days(build_vars) }},

-- Paid orders as int_paid_orders counts them, an order without a product as the 'unknown' one's.
final as (
    select
        order_date,
        coalesce(product, 'unknown') as product,
        count(*) as orders,
        sum(net_amount) as net_revenue,
        (select coalesce(max(load_id), 0) from transaction_loads) as _last_load_id,
        {{ build_settings(build_vars) }} as _settings
    from day_transactions
    where is_paid
    group by order_date, coalesce(product, 'unknown')
)

-- A changed day left without paid orders gets a row without them, which clears its stored rows.
{{ final_with_cleared_keys('final', 'changed_days', 'order_date') }}
