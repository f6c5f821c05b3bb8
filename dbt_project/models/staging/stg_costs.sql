with source as (
    select * from {{ source('raw', 'costs') }}
),

renamed as (
    select
        cost_date,
        lower(category) as category,
        {{ money('amount') }} as amount
    from source
)

select * from renamed
