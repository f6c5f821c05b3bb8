{#- Fails for every row where the rate in `column_name` has a value although its `denominator` (a
    SQL expression over the row, window functions allowed) is 0 or null: a rate of nothing is
    undefined, and a 0 or a 100 % there would read as a fact. Where a figure also needs data the
    store may not have (costs for a margin), the denominator says so: `case when has_cost_data
    then net_revenue end`. -#}
{% test null_without_denominator(model, column_name, denominator) %}
with measured as (
    select
        {{ column_name }} as rate,
        {{ denominator }} as denominator
    from {{ model }}
)

select *
from measured
where rate is not null
    and coalesce(denominator, 0) = 0
{% endtest %}
