with source as (
    select * from {{ source('raw', 'marketing_spend') }}
),

renamed as (
    select
        spend_date,
        lower(channel) as channel,
        {{ money('amount') }} as amount
    from source
)

select * from renamed
