with paid_orders as (
    select * from {{ ref('int_paid_orders') }}
),

customers as (
    select * from {{ ref('stg_customers') }}
),

monthly_margins as (
    select * from {{ ref('int_monthly_margins') }}
),

-- Several orders of one day are one purchase: recency and intervals are whole days, and a second
-- order placed minutes after the first is no return visit.
purchase_days as (
    select
        customer_id,
        order_date,
        order_month,
        count(*) as orders,
        sum(gross_amount) as gross_spend,
        sum(net_amount) as net_spend
    from paid_orders
    group by
        customer_id,
        order_date,
        order_month
),

-- The one definition of a customer's first paid order, and so of the acquisition cohort.
dated_purchase_days as (
    select
        *,
        min(order_date) over (partition by customer_id) as first_order_date
    from purchase_days
),

-- A month's net spend times its gross margin (int_monthly_margins): the customer's contribution
-- that month.
monthly_contributions as (
    select
        purchase_days.customer_id,
        purchase_days.order_month,
        sum(purchase_days.net_spend) * any_value(monthly_margins.gross_margin) as contribution
    from purchase_days
    left join monthly_margins on purchase_days.order_month = monthly_margins.calendar_month
    group by
        purchase_days.customer_id,
        purchase_days.order_month
),

-- Known only when every month the customer bought in has cost data; the months are added in
-- calendar order, so that the double sum is the same on every build.
customer_contributions as (
    select
        customer_id,
        case
            when count(contribution) = count(*) then {{ ordered_sum('contribution', 'order_month') }}
        end as gross_margin_contribution
    from monthly_contributions
    group by customer_id
),

-- A repeat customer is one who paid again on a later day than the first.
customer_purchases as (
    select
        customer_id,
        min(first_order_date) as first_order_date,
        max(order_date) as last_order_date,
        min(order_date) filter (where order_date > first_order_date) as repeat_purchase_date,
        cast(sum(orders) as bigint) as paid_orders,
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
        {{ money('customer_purchases.gross_spend') }} as gross_spend,
        {{ money('customer_purchases.net_spend') }} as net_spend,
        {{ money('coalesce(customer_purchases.repeat_net_spend, 0)') }} as repeat_net_spend,
        {{ money('customer_contributions.gross_margin_contribution') }} as gross_margin_contribution
    from customer_purchases
    inner join customer_contributions on customer_purchases.customer_id = customer_contributions.customer_id
    left join customers on customer_purchases.customer_id = customers.customer_id
)

select * from final
