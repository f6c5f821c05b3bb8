with source as (
    select * from {{ source('raw', 'marketing_spend') }}
),

renamed as (
    select
        spend_date,
        lower(channel) as channel,
        cast(amount as double) as amount
    from source
)

select * from renamed
