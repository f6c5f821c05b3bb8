{%- set window_days = var('kpi_window_days') -%}
with product_days as (
    select * from {{ ref('int_product_days') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

-- The KPI windows of kpi_summary: the last `kpi_window_days` days up to the reference date, and
-- the same number of days before.
product_windows as (
    select
        product_days.product,
        coalesce(cast(sum(product_days.orders) filter (
            where product_days.order_date > bounds.reference_date - {{ window_days }}
        ) as bigint), 0) as orders,
        coalesce(sum(product_days.net_revenue) filter (
            where product_days.order_date > bounds.reference_date - {{ window_days }}
        ), 0) as net_revenue,
        coalesce(sum(product_days.net_revenue) filter (
            where product_days.order_date between bounds.reference_date - {{ 2 * window_days - 1 }}
                and bounds.reference_date - {{ window_days }}
        ), 0) as net_revenue_prior,
        sum(product_days.net_revenue) as total_net_revenue
    from product_days
    cross join bounds
    -- The paid orders up to the reference date (int_paid_orders).
    where product_days.order_date <= bounds.reference_date
    group by product_days.product
),

-- What sells now first; the whole history, then the name, break ties so that ranks are stable.
ranked as (
    select
        *,
        -- Spark's row_number is an int: cast to the contract's bigint.
        cast(row_number() over (order by net_revenue desc, total_net_revenue desc, product) as bigint) as revenue_rank,
        -- Of every product's, the ones below the limit too.
        {{ safe_divide('cast(net_revenue as double)', 'sum(net_revenue) over ()') }} as revenue_share
    from product_windows
),

final as (
    select
        revenue_rank,
        product,
        orders,
        {{ money('net_revenue') }} as net_revenue,
        {{ money('net_revenue_prior') }} as net_revenue_prior,
        {{ safe_divide('cast(net_revenue as double)', 'net_revenue_prior') }} - 1 as net_revenue_growth,
        revenue_share,
        {{ money('total_net_revenue') }} as total_net_revenue
    from ranked
    where revenue_rank <= {{ var('top_products_limit') }}
)

select * from final
