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

{#- In a select list: one row per month start from first_month to last_month (both the first of a
    month, dates or timestamps, both included) as a date, none when first_month > last_month. -#}
{% macro unnest_months(first_month, last_month) -%}
    {{ return(adapter.dispatch('unnest_months')(first_month, last_month)) }}
{%- endmacro %}

{% macro duckdb__unnest_months(first_month, last_month) -%}
    cast(unnest(generate_series(
        cast({{ first_month }} as timestamp),
        cast({{ last_month }} as timestamp),
        interval 1 month
    )) as date)
{%- endmacro %}

{#- A cast around explode() is not allowed: sequence() of dates gives dates. -#}
{% macro spark__unnest_months(first_month, last_month) -%}
    {%- set first_day = 'cast(' ~ first_month ~ ' as date)' -%}
    {%- set last_day = 'cast(' ~ last_month ~ ' as date)' -%}
    explode(case when {{ first_day }} <= {{ last_day }} then sequence({{ first_day }}, {{ last_day }}, interval 1 month) end)
{%- endmacro %}

{#- An aggregate: the sum of `value` over the group's rows added one by one in `order_by` order, so
    that a sum of doubles is the same on every build whatever order the rows arrive in. Nulls are
    left out, as by sum(). -#}
{% macro ordered_sum(value, order_by) -%}
    {{ return(adapter.dispatch('ordered_sum')(value, order_by)) }}
{%- endmacro %}

{% macro duckdb__ordered_sum(value, order_by) -%}
    list_sum(list({{ value }} order by {{ order_by }}))
{%- endmacro %}

{#- The rows as (key, value) pairs sorted by key, folded left to right as list_sum does. -#}
{% macro spark__ordered_sum(value, order_by) -%}
    aggregate(
        array_sort(collect_list(struct({{ order_by }} as sort_key, {{ value }} as value))),
        cast(null as double),
        (total, item) -> case when item.value is null then total else coalesce(total, 0) + item.value end
    )
{%- endmacro %}

{#- The ISO day of the week, 1 (Monday) to 7 (Sunday). -#}
{% macro iso_day_of_week(day) -%}
    {{ return(adapter.dispatch('iso_day_of_week')(day)) }}
{%- endmacro %}

{% macro duckdb__iso_day_of_week(day) -%}
    extract('isodow' from {{ day }})
{%- endmacro %}

{#- An int on Spark: a bigint as DuckDB's. -#}
{% macro spark__iso_day_of_week(day) -%}
    cast(extract(dayofweek_iso from {{ day }}) as bigint)
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

{#- dbt's cast (dbt.cast), which also checks the marts' contracts: their data types are DuckDB's
    names, and Spark spells a varchar without a length `string`. -#}
{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ 'string' if type | lower == 'varchar' else type }})
{%- endmacro %}

{#- The keyword after `name as` of a CTE that must be computed once however often the query reads
    it: DuckDB may otherwise inline it at each read; Spark has no such keyword. -#}
{% macro materialized_cte() -%}
    {{ return(adapter.dispatch('materialized_cte')()) }}
{%- endmacro %}

{% macro duckdb__materialized_cte() -%}
    materialized
{%- endmacro %}

{% macro spark__materialized_cte() -%}
{%- endmacro %}
