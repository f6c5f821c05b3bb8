with paid_orders as (
    select * from {{ ref('int_paid_orders') }}
),

customers as (
    select * from {{ ref('stg_customers') }}
),

-- Several orders of one day are one purchase: recency and intervals are whole days, and a second
-- order placed minutes after the first is no return visit.
purchase_days as (
    select
        customer_id,
        order_date,
        count(*) as orders,
        sum(gross_amount) as gross_spend,
        sum(net_amount) as net_spend
    from paid_orders
    group by
        customer_id,
        order_date
),

-- The one definition of a customer's first paid order, and so of the acquisition cohort.
dated_purchase_days as (
    select
        *,
        min(order_date) over (partition by customer_id) as first_order_date
    from purchase_days
),

-- A repeat customer is one who paid again on a later day than the first.
customer_purchases as (
    select
        customer_id,
        min(first_order_date) as first_order_date,
        max(order_date) as last_order_date,
        min(order_date) filter (where order_date > first_order_date) as repeat_purchase_date,
        sum(orders) as paid_orders,
        count(*) as purchase_days,
        sum(gross_spend) as gross_spend,
        sum(net_spend) as net_spend,
        sum(net_spend) filter (where order_date > first_order_date) as repeat_net_spend
    from dated_purchase_days
    group by customer_id
),

final as (
    select
        customer_purchases.customer_id,
        customer_purchases.first_order_date,
        cast(date_trunc('month', customer_purchases.first_order_date) as date) as cohort_month,
        customers.acquisition_channel,
        customers.country,
        customer_purchases.last_order_date,
        customer_purchases.repeat_purchase_date,
        customer_purchases.repeat_purchase_date is not null as is_repeat_customer,
        customer_purchases.paid_orders,
        customer_purchases.purchase_days,
        customer_purchases.gross_spend,
        customer_purchases.net_spend,
        coalesce(customer_purchases.repeat_net_spend, 0) as repeat_net_spend
    from customer_purchases
    left join customers on customer_purchases.customer_id = customers.customer_id
)

select * from final
