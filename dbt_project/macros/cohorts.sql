{#- A cohort is old enough for a horizon when its last customer (first paid order on the month's
    last day) has had the whole horizon by the reference date: younger cohorts would look worse
    only because their customers have had less time. -#}
{% macro cohort_is_old_enough(cohort_month, horizon_days, reference_date) -%}
    cast(last_day({{ cohort_month }}) as date) + {{ horizon_days }} - 1 <= {{ reference_date }}
{%- endmacro %}
