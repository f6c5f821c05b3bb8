{#- Fails when the column does not add up to `total` (a number or a SQL expression) within
    `tolerance`, over the whole model or per `group_by` group. `when` is a condition on the
    group's aggregates (e.g. "sum(revenue) > 0") that must hold for the check to apply. -#}
{% test sums_to(model, column_name, total=1, group_by=none, when=none, tolerance=0.000001) %}
select
    {% if group_by %}{{ group_by | join(', ') }},{% endif %}
    sum({{ column_name }}) as actual_total
from {{ model }}
{% if group_by %}group by {{ group_by | join(', ') }}{% endif %}
having abs(coalesce(sum({{ column_name }}), 0) - ({{ total }})) > {{ tolerance }}
    {% if when %}and ({{ when }}){% endif %}
{% endtest %}
