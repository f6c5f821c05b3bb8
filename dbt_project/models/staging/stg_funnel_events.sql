with source as (
    select * from {{ source('raw', 'funnel_events') }}
),

renamed as (
    select
        event_id,
        session_id,
        customer_id,
        stage,
        occurred_at,
        {{ store_date('occurred_at') }} as event_date
    from source
)

select * from renamed
