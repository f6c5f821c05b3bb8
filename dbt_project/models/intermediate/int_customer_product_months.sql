{#- A customer's paid orders of a product in a month, counted and summed: product_performance
    reads a row per customer, product and month instead of every paid order, and counts a
    product's distinct customers of a month or of the whole history from them.
    Incremental as int_customer_months: a row depends on the customer's paid orders only, which
    int_customer_orders' row of the customer is recomputed for; a build after the first recomputes
    the customers whose row int_customer_orders rewrote or removed since (macro
    upstream_changed_keys). On Spark, a table rebuilt each time, as funnel_sessions. -#}
{{ config(**replacing_rows_by('customer_id', 'order_month')) }}
with all_paid_orders as (
    select * from {{ ref('int_paid_orders') }}
),

customer_orders as (
    select * from {{ ref('int_customer_orders') }}
),

{%- if is_incremental() %}

-- Customers int_customer_orders rewrote or removed since the last build.
affected_customers as (
    {{ upstream_changed_keys('customer_orders', 'customer_id', 'count(distinct customer_id)', '_customers_build_number') }}
),

{%- endif %}

paid_orders as (
    {{ rows_to_compute('all_paid_orders', 'affected_customers', 'customer_id') }}
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
        (select max(_build_number) from customer_orders) as _customers_build_number
    from paid_orders
    group by customer_id, product, order_month
)

-- Affected customers left without any paid order get a row without order_month, which removes
-- their stored rows.
{{ final_with_cleared_keys('final', 'affected_customers', 'customer_id') }}
