{#- A view: one row per paid order is most of the transactions, and each reader filters it
    further (a period, a customer) as it reads. -#}
{{ config(materialized='view') }}
with transactions as (
    select * from {{ ref('stg_transactions') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

-- A paid order is one whose money was taken (completed, or refunded afterwards: stg_transactions'
-- is_paid), up to the reference date. Every customer figure of the marts and the ml histories
-- counts these orders and no others.
final as (
    select
        transactions.transaction_id,
        transactions.customer_id,
        -- The raw UTC time: a reader of a few months' orders filters on it first, so that its scan
        -- skips the other months' row groups (macro paid_orders_of_months).
        transactions.created_at,
        transactions.order_date,
        cast(date_trunc('month', transactions.order_date) as date) as order_month,
        -- An order without a product (optional in the source) is an 'unknown' product's.
        coalesce(transactions.product, 'unknown') as product,
        transactions.gross_amount,
        transactions.refund_amount,
        transactions.net_amount,
        transactions.is_refunded
    from transactions
    cross join bounds
    where transactions.is_paid
        and transactions.order_date <= bounds.reference_date
)

select * from final
