{#- A customer's paid orders of a product in a month, counted and summed: product_performance
    reads a row per customer, product and month instead of every paid order, and counts a
    product's distinct customers of a month or of the whole history from them.
    Incremental: a row depends on the paid orders of its month only, as a row of
    int_customer_purchase_months does; a build after the first recomputes the months whose rows
    int_customer_purchase_months rewrote or removed since (macro upstream_replaced_months), from those
    months' paid orders alone (macro paid_orders_of_months), and replaces those months' rows. On
    Spark, a table rebuilt each time, as funnel_sessions. -#}
{{ config(**replacing_rows_by('order_month', 'customer_id')) }}
-- Not materialized: a build reads the changed months' row groups of it, not a copy of every paid order.
with all_paid_orders as {{ cte_hint('not materialized') }} (
    select * from {{ ref('int_paid_orders') }}
),

purchase_months as {{ cte_hint('not materialized') }} (
    select * from {{ ref('int_customer_purchase_months') }}
),

{%- if is_incremental() %}

-- Months int_customer_purchase_months rewrote or removed since the last build.
changed_months as (
    {{ upstream_replaced_months('purchase_months', '_purchase_months_build_number') }}
),

{%- endif %}

paid_orders as (
    {{ paid_orders_of_months('all_paid_orders', 'changed_months', 'order_month') }}
),

final as (
    select
        customer_id,
        product,
        order_month,
        count(*) as orders,
        count(*) filter (where is_refunded) as refunded_orders,
        sum(gross_amount) as gross_revenue,
        sum(refund_amount) as refunds,
        sum(net_amount) as net_revenue,
        (select max(_build_number) from purchase_months) as _purchase_months_build_number
    from paid_orders
    group by customer_id, product, order_month
)

-- Changed months left without any paid order get a row without customer_id, which removes their
-- stored rows.
{{ final_with_cleared_keys('final', 'changed_months', 'order_month') }}
