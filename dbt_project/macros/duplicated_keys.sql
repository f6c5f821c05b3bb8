{#- The keys (the values of `columns` together) that more than one row of `relation` holds, each
    with its number of rows (`occurrences`), as a select. Rows are grouped by an 8-byte hash of
    their key first: grouping 60 million event ids by their text outgrew the memory limit and
    spilled (docs/benchmarks.md), a table of hashes does not. Only rows whose hash repeats are
    then grouped by value, so a hash collision never counts as a duplicate. With `skip_nulls`,
    rows with a null in the key are left out (dbt's `unique`); without, nulls compare equal, as in
    a group by. -#}
{% macro duplicated_keys(relation, columns, skip_nulls) -%}
{%- set key = columns | join(', ') -%}
{%- set present = [] -%}
{%- for column in columns -%}
    {%- do present.append(column ~ ' is not null') -%}
{%- endfor -%}
select {{ key }}, count(*) as occurrences
from {{ relation }}
where hash({{ key }}) in (
        select hash({{ key }}) as key_hash
        from {{ relation }}
        {%- if skip_nulls %}
        where {{ present | join(' and ') }}
        {%- endif %}
        group by key_hash
        having count(*) > 1
    )
    {%- if skip_nulls %}
    and {{ present | join(' and ') }}
    {%- endif %}
group by {{ key }}
having count(*) > 1
{%- endmacro %}
