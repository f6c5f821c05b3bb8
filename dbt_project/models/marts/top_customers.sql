with customers as (
    select * from {{ ref('customer_rfm') }}
),

-- customer_id breaks ties so that the list and its ranks are the same on every run. The top rows
-- are taken first (a top-N, not a sort of every customer), then ranked in the same order.
top as (
    select *
    from customers
    order by historical_ltv desc, customer_id
    limit {{ var('top_customers_limit') }}
),

ranked as (
    select
        *,
        -- Spark's row_number is an int: cast to the contract's bigint.
        cast(row_number() over (order by historical_ltv desc, customer_id) as bigint) as ltv_rank
    from top
),

final as (
    select
        ltv_rank,
        customer_id,
        historical_ltv,
        frequency,
        average_order_value,
        first_order_date,
        last_order_date,
        recency_days,
        segment,
        churn_risk
    from ranked
)

select * from final
