with source as (
    select * from {{ source('raw', 'customers') }}
),

transactions as (
    select * from {{ source('raw', 'transactions') }}
),

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
    from transactions
    where not exists (select 1 from source where source.customer_id = transactions.customer_id)
    group by customer_id
)

select * from known
union all
select * from unknown
