{#- A cohort is old enough for a horizon when its last customer (first paid order on the month's
    last day) has had the whole horizon by the reference date: younger cohorts would look worse
    only because their customers have had less time. -#}
{% macro cohort_is_old_enough(cohort_month, horizon_days, reference_date) -%}
    cast(last_day({{ cohort_month }}) as date) + {{ horizon_days }} - 1 <= {{ reference_date }}
{%- endmacro %}

{#- Payback months of each cohort, as a select of the `keys` columns and payback_months: the first
    calendar month since the cohort's month (0 = the month itself) by whose end the cohort's
    cumulative contribution per customer covers its CAC, counting only months known without a gap
    in the cost data; null while it has not, or without a CAC. `order_values` has the `keys`,
    months_since_first_order, net_amount and the gross_margin of the order's month (null without
    cost data): a month's contribution is its exact decimal revenue times its margin, so that the
    sums are the same on every build;
    `cohorts` has the `keys`, the cohort's size (`size_column`) and its CAC (`cac_column`). -#}
{% macro cohort_payback_months(order_values, cohorts, keys, size_column, cac_column) -%}
    {%- set key_list = keys | join(', ') -%}
    select
        {{ key_list }},
        min(months_since_first_order) filter (
            where is_known and contribution_per_customer >= cac
        ) as payback_months
    from (
        select
            {%- for key in keys %}
            monthly.{{ key }},
            {%- endfor %}
            monthly.months_since_first_order,
            cohorts.{{ cac_column }} as cac,
            sum(monthly.contribution) over cohort_so_far / cohorts.{{ size_column }} as contribution_per_customer,
            bool_and(monthly.is_known) over cohort_so_far as is_known
        from (
            select
                {{ key_list }},
                months_since_first_order,
                sum(net_amount) * any_value(gross_margin) as contribution,
                any_value(gross_margin) is not null as is_known
            from {{ order_values }}
            group by {{ key_list }}, months_since_first_order
        ) as monthly
        inner join {{ cohorts }} as cohorts
            on {% for key in keys %}monthly.{{ key }} = cohorts.{{ key }}{{ " and " if not loop.last }}{% endfor %}
        window cohort_so_far as (
            partition by {% for key in keys %}monthly.{{ key }}{{ ", " if not loop.last }}{% endfor %}
            order by monthly.months_since_first_order
        )
    ) as cumulative
    group by {{ key_list }}
{%- endmacro %}

{#- The horizons of channel_performance's LTV columns (ltv_*_90d, ltv_*_365d), fixed so that the
    columns' names are a contract; LTV/CAC and payback are judged at the first (90 days). -#}
{% macro channel_ltv_horizons() -%}
    {{ return([90, 365]) }}
{%- endmacro %}

{#- Every LTV horizon a mart sums int_customer_months' orders up to (cohort_ltv's var
    ltv_horizons_days and channel_performance's), shortest first. -#}
{% macro ltv_horizon_bounds() -%}
    {{ return((var('ltv_horizons_days') + channel_ltv_horizons()) | unique | sort) }}
{%- endmacro %}
