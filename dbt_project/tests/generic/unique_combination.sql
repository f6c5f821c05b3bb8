{#- Fails for each combination of the columns that appears more than once.
    Grouping by a hash of the columns first keeps the hash table to fixed-size keys (a 10M-order
    store's 70M session stages then fit in DuckDB's memory limit, where grouping by the text
    values did not); only rows whose hash repeats are then compared by value, so a hash collision
    never fails the test. -#}
{% test unique_combination(model, columns) %}
with repeated_hashes as (
    select hash({{ columns | join(', ') }}) as combination_hash
    from {{ model }}
    group by combination_hash
    having count(*) > 1
)

select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
where hash({{ columns | join(', ') }}) in (select combination_hash from repeated_hashes)
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
