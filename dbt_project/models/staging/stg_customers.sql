with source as (
    select * from {{ source('raw', 'customers') }}
),

renamed as (
    select
        customer_id,
        signup_at,
        cast(signup_at as date) as signup_date,
        coalesce(acquisition_channel, 'unknown') as acquisition_channel,
        coalesce(country, 'unknown') as country
    from source
)

select * from renamed
