{#- A SQL string literal of `value`, its quotes escaped as the target's SQL does (doubled on
    DuckDB, a backslash on Spark). -#}
{% macro sql_string(value) -%}
    '{{ dbt.escape_single_quotes(value) }}'
{%- endmacro %}

{#- `('a', 'b', …)`: a list var as the right-hand side of `in`. -#}
{% macro sql_string_list(values) -%}
    ({% for value in values %}{{ sql_string(value) }}{{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}

{#- A list var as a relation of (<name>_order, <name>) rows, 1-based in the list's order, so that
    a mart has a row for every configured value even when the data has none of it. -#}
{% macro ordered_values(values, name) -%}
    (
        values
        {%- for value in values %}
        ({{ loop.index }}, {{ sql_string(value) }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as {{ name }}s({{ name }}_order, {{ name }})
{%- endmacro %}
