{#- Fails unless the model has exactly `expected` rows (e.g. 1 for a one-row summary). -#}
{% test row_count(model, expected) %}
select count(*) as row_count
from {{ model }}
having count(*) <> {{ expected }}
{% endtest %}
