{%- set window_days = var('kpi_window_days') -%}
with transactions as (
    select * from {{ ref('stg_transactions') }}
),

bounds as (
    select
        {{ reference_date() }} as reference_date,
        {{ reference_date() }} - interval {{ window_days - 1 }} day as current_start,
        {{ reference_date() }} - interval {{ 2 * window_days - 1 }} day as prior_start
),

periods as (
    select
        case
            when transactions.order_date >= bounds.current_start then 'current'
            else 'prior'
        end as period,
        transactions.*
    from transactions
    cross join bounds
    where transactions.order_date between bounds.prior_start and bounds.reference_date
),

by_period as (
    select
        period,
        sum(gross_amount) as gross_revenue,
        sum(net_amount) as net_revenue,
        count(*) filter (where is_paid) as orders,
        count(distinct customer_id) filter (where is_paid) as paying_customers,
        count(*) filter (where is_failed) as failed_orders
    from periods
    group by period
),

current_period as (
    select * from by_period where period = 'current'
),

prior_period as (
    select * from by_period where period = 'prior'
),

final as (
    select
        bounds.reference_date,
        {{ window_days }} as window_days,
        (select sum(net_amount) from transactions) as total_net_revenue,
        (select sum(gross_amount) from transactions) as total_gross_revenue,
        current_period.net_revenue as net_revenue,
        prior_period.net_revenue as net_revenue_prior,
        {{ safe_divide('current_period.net_revenue', 'prior_period.net_revenue') }} - 1 as net_revenue_growth,
        current_period.gross_revenue as gross_revenue,
        prior_period.gross_revenue as gross_revenue_prior,
        current_period.orders as orders,
        prior_period.orders as orders_prior,
        {{ safe_divide('current_period.gross_revenue', 'current_period.orders') }} as average_order_value,
        {{ safe_divide('prior_period.gross_revenue', 'prior_period.orders') }} as average_order_value_prior,
        {{ safe_divide('current_period.net_revenue', 'current_period.paying_customers') }} as revenue_per_customer,
        {{ safe_divide('prior_period.net_revenue', 'prior_period.paying_customers') }} as revenue_per_customer_prior,
        {{ safe_divide('current_period.orders', 'current_period.orders + current_period.failed_orders') }} as payment_success_rate,
        {{ safe_divide('prior_period.orders', 'prior_period.orders + prior_period.failed_orders') }} as payment_success_rate_prior
    from bounds
    left join current_period on true
    left join prior_period on true
)

select * from final
