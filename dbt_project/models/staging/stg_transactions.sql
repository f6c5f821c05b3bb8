with source as (
    select * from {{ source('raw', 'transactions') }}
),

classified as (
    select
        transaction_id,
        customer_id,
        created_at,
        {{ store_date('created_at') }} as order_date,
        completed_at,
        status,
        {{ money('amount') }} as amount,
        -- As the shop wrote it, and the rate the ingest converted it with (1 in the reporting currency).
        original_amount,
        original_currency,
        exchange_rate,
        product,
        payment_method,
        promo_code,
        coalesce(updated_at, completed_at, created_at) as updated_at,
        -- Money was taken for completed orders and for refunded ones (refunded afterwards);
        -- refunds count on the order's day so that a day's figures are final once refunds settle.
        status in ('completed', 'refunded') as is_paid,
        status = 'refunded' as is_refunded,
        status = 'failed' as is_failed,
        promo_code is not null as is_promotion
    from source
)

select
    transaction_id,
    customer_id,
    created_at,
    order_date,
    completed_at,
    status,
    amount,
    case when is_paid then amount else 0 end as gross_amount,
    case when is_refunded then amount else 0 end as refund_amount,
    case when is_paid and not is_refunded then amount else 0 end as net_amount,
    original_amount,
    original_currency,
    exchange_rate,
    product,
    payment_method,
    promo_code,
    updated_at,
    is_paid,
    is_refunded,
    is_failed,
    is_promotion
from classified
