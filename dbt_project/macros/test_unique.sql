{#- dbt's built-in `unique` test, for DuckDB: the same failing rows, found by grouping a hash of
    the column first. Grouping 60 million event ids by their text outgrew the memory limit and
    spilled (docs/benchmarks.md); a table of 8-byte hashes does not. Only values whose hash
    repeats are then grouped by value, so a hash collision never fails the test (the idea of
    tests/generic/unique_combination.sql). -#}
{% macro duckdb__test_unique(model, column_name) %}

with repeated_hashes as (
    select hash({{ column_name }}) as value_hash
    from {{ model }}
    where {{ column_name }} is not null
    group by value_hash
    having count(*) > 1
)

select
    {{ column_name }} as unique_field,
    count(*) as n_records
from {{ model }}
where {{ column_name }} is not null
    and hash({{ column_name }}) in (select value_hash from repeated_hashes)
group by {{ column_name }}
having count(*) > 1

{% endmacro %}
