{#- Fails when the column holds more than one value across the model's rows (null counts as a
    value): a figure of the whole table repeated on each row, such as the break-even month. -#}
{% test same_on_every_row(model, column_name) %}
select
    count(distinct {{ column_name }}) as distinct_values,
    count(*) filter (where {{ column_name }} is null) as null_rows
from {{ model }}
having count(distinct {{ column_name }}) + max(case when {{ column_name }} is null then 1 else 0 end) > 1
{% endtest %}
