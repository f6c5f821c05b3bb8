{%- set window_days = var('kpi_window_days') -%}
{#- The windows of kpi_summary before the whole history, latest first. Growth compares a window
    with the one before it, so the prior growth needs a third window, the one before the prior. -#}
{%- set windows = ['current', 'prior', 'before_prior'] -%}
{#- A table of its own, not part of kpi_summary: it reads the windows' paid orders, the most
    work of the KPIs, and depends on none of the marts kpi_summary waits for, so that dbt builds
    it alongside them instead of after them. -#}
with transactions as (
    select * from {{ ref('stg_transactions') }}
),

customer_orders as (
    select * from {{ ref('int_customer_orders') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

-- The last window, the window before it, and the one before that, all ending by the reference date.
periods as (
    select
        'current' as period,
        reference_date - {{ window_days - 1 }} as period_start,
        reference_date as period_end
    from bounds
    union all
    select
        'prior' as period,
        reference_date - {{ 2 * window_days - 1 }} as period_start,
        reference_date - {{ window_days }} as period_end
    from bounds
    union all
    select
        'before_prior' as period,
        reference_date - {{ 3 * window_days - 1 }} as period_start,
        reference_date - {{ 2 * window_days }} as period_end
    from bounds
),

-- The windows' bounds side by side, one column each: a customer's activity in every window is
-- worked out in one pass over their orders.
window_bounds as (
    select
        {%- for window in windows %}
        max(period_start) filter (where period = '{{ window }}') as {{ window }}_start,
        max(period_end) filter (where period = '{{ window }}') as {{ window }}_end,
        {%- endfor %}
        least(min(period_start), min(period_end) - {{ var('churn_inactivity_days') }}) as first_day
    from periods
),

-- The paid orders (as int_paid_orders) of the windows and of the inactivity windows up to their
-- ends, from the transactions of the UTC times of their days (macro utc_times_of_store_days), not
-- every transaction: the scan skips the older row groups only when the times are filtered first.
-- An order of those times before the first day falls in no window, and changes no count.
recent_orders as (
    select
        transactions.customer_id,
        transactions.order_date,
        transactions.net_amount
    from transactions
    where {{ utc_times_of_store_days(
            'transactions.created_at',
            '(select first_day from window_bounds)',
            '(select reference_date from bounds)'
        ) }}
        and transactions.is_paid
        and transactions.order_date <= (select reference_date from bounds)
),

-- A customer's activity in each window: paid in it (a paying customer), paid in the
-- `churn_inactivity_days` days up to its end (active), and what they paid after its end.
recent_customers as (
    select
        recent_orders.customer_id,
        {%- for window in windows %}
        count(*) filter (
            where recent_orders.order_date between window_bounds.{{ window }}_start and window_bounds.{{ window }}_end
        ) > 0 as is_paying_{{ window }},
        count(*) filter (
            where recent_orders.order_date between window_bounds.{{ window }}_end - {{ var('churn_inactivity_days') }}
                and window_bounds.{{ window }}_end
        ) > 0 as is_active_{{ window }},
        sum(recent_orders.net_amount) filter (where recent_orders.order_date > window_bounds.{{ window }}_end)
            as net_after_{{ window }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from recent_orders
    cross join window_bounds
    group by recent_orders.customer_id
),

-- The customer base as it stood at each window's end: the customers of int_customer_orders whose
-- first paid order came by then; repeat = their repeat purchase came by then, churned = not active
-- then, LTV = net spend so far (their net spend less what they paid after the end).
customer_base_by_window as (
    select
        {%- for window in windows %}
        {%- set window_end = 'window_bounds.' ~ window ~ '_end' %}
        count(*) filter (where recent_customers.is_paying_{{ window }}) as paying_customers_{{ window }},
        count(customer_orders.customer_id) filter (where customer_orders.first_order_date <= {{ window_end }})
            as customers_{{ window }},
        count(*) filter (where customer_orders.repeat_purchase_date <= {{ window_end }}) as repeat_customers_{{ window }},
        count(*) filter (
            where customer_orders.first_order_date <= {{ window_end }}
                and not coalesce(recent_customers.is_active_{{ window }}, false)
        ) as churned_customers_{{ window }},
        {{ money_average(
            'avg(customer_orders.net_spend - coalesce(recent_customers.net_after_' ~ window ~ ', 0)) filter (where '
                ~ 'customer_orders.first_order_date <= ' ~ window_end ~ ')'
        ) }} as average_revenue_per_customer_to_date_{{ window }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from customer_orders
    full outer join recent_customers on customer_orders.customer_id = recent_customers.customer_id
    cross join window_bounds
),

-- One row a window.
final as (
    {%- for window in windows %}
    select
        periods.period,
        periods.period_start,
        periods.period_end,
        customer_base_by_window.paying_customers_{{ window }} as paying_customers,
        customer_base_by_window.customers_{{ window }} as customers,
        customer_base_by_window.repeat_customers_{{ window }} as repeat_customers,
        customer_base_by_window.churned_customers_{{ window }} as churned_customers,
        customer_base_by_window.average_revenue_per_customer_to_date_{{ window }}
            as average_revenue_per_customer_to_date
    from periods
    cross join customer_base_by_window
    where periods.period = '{{ window }}'
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select * from final
