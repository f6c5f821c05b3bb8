{#- Fails for every row whose value is greater than the value of the row before it in `order_by`
    order (within each `group_by` group): a column that must never grow along the order, such as
    the sessions entering each later funnel stage. -#}
{% test non_increasing(model, column_name, order_by, group_by=none) %}
with ordered as (
    select
        *,
        lag({{ column_name }}) over (
            {% if group_by %}partition by {{ group_by | join(', ') }}{% endif %}
            order by {{ order_by }}
        ) as previous_value
    from {{ model }}
)

select *
from ordered
where {{ column_name }} > previous_value
{% endtest %}
