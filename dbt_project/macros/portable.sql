{#- SQL that DuckDB and Spark write differently, one macro per construct, dispatched on the
    target's adapter (docs/scale-out.md). The DuckDB form is the one the models were written in, so
    the DuckDB build is the same as before; the Spark form gives the same rows. Where dbt has a
    cross-database macro of its own (dbt.datediff, dbt.dateadd), the models call that instead. -#}

{#- The rows start, start + step, ... before stop (exclusive) as the relation alias(column), none
    when start >= stop: DuckDB's range(). -#}
{% macro series(start, stop, step, alias, column) -%}
    {{ return(adapter.dispatch('series')(start, stop, step, alias, column)) }}
{%- endmacro %}

{% macro duckdb__series(start, stop, step, alias, column) -%}
    range({{ start }}, {{ stop }}, {{ step }}) as {{ alias }}({{ column }})
{%- endmacro %}

{#- sequence() includes its end and fails on an empty range: an empty range explodes a null. -#}
{% macro spark__series(start, stop, step, alias, column) -%}
    (
        select explode(case when {{ start }} < {{ stop }} then sequence({{ start }}, {{ stop }} - {{ step }}, {{ step }}) end)
            as {{ column }}
    ) as {{ alias }}
{%- endmacro %}

{#- In a select list: one row per number 0, 1, ... count - 1 (none when count <= 0). -#}
{% macro unnest_range(count) -%}
    {{ return(adapter.dispatch('unnest_range')(count)) }}
{%- endmacro %}

{% macro duckdb__unnest_range(count) -%}
    unnest(range({{ count }}))
{%- endmacro %}

{% macro spark__unnest_range(count) -%}
    explode(case when {{ count }} > 0 then sequence(0, {{ count }} - 1) end)
{%- endmacro %}

{#- The ISO day of the week, 1 (Monday) to 7 (Sunday). -#}
{% macro iso_day_of_week(day) -%}
    {{ return(adapter.dispatch('iso_day_of_week')(day)) }}
{%- endmacro %}

{% macro duckdb__iso_day_of_week(day) -%}
    extract('isodow' from {{ day }})
{%- endmacro %}

{% macro spark__iso_day_of_week(day) -%}
    extract(dayofweek_iso from {{ day }})
{%- endmacro %}

{#- A date before every other: the open start of an "all time" period. Spark has no infinite date. -#}
{% macro earliest_date() -%}
    {{ return(adapter.dispatch('earliest_date')()) }}
{%- endmacro %}

{% macro duckdb__earliest_date() -%}
    cast('-infinity' as date)
{%- endmacro %}

{% macro spark__earliest_date() -%}
    date '0001-01-01'
{%- endmacro %}

{#- `as <hint> (`: DuckDB's [not] materialized hint of a CTE; Spark plans CTEs itself. -#}
{% macro cte_hint(hint) -%}
    {{ return(adapter.dispatch('cte_hint')(hint)) }}
{%- endmacro %}

{% macro duckdb__cte_hint(hint) -%}
    {{ hint }}
{%- endmacro %}

{% macro spark__cte_hint(hint) -%}
{%- endmacro %}
