{#- The store's calendar (var `store_timezone`, ANALYTICS_STORE_TIMEZONE): raw times are naive UTC,
    every day, month and hour of the marts is the store's wall clock, daylight saving time included.
    The ingest's partition day applies the same rule (pipelines/warehouse/store_calendar.py). Other
    adapters (Spark: from_utc_timestamp) add their own `<adapter>__store_time`. -#}

{#- The store's wall-clock time of a naive UTC timestamp. -#}
{% macro store_time(column) -%}
    {{ return(adapter.dispatch('store_time')(column)) }}
{%- endmacro %}

{#- DuckDB: `timezone('UTC', t)` is the instant, `timezone(zone, instant)` its wall-clock time there
    (the ICU extension, built into DuckDB). In UTC the time is already the store's: left as it is. -#}
{% macro default__store_time(column) -%}
    {%- if var('store_timezone') == 'UTC' -%}
        {{ column }}
    {%- else -%}
        timezone({{ sql_string(var('store_timezone')) }}, timezone('UTC', {{ column }}))
    {%- endif -%}
{%- endmacro %}

{#- The store day of a naive UTC timestamp. -#}
{% macro store_date(column) -%}
    cast({{ store_time(column) }} as date)
{%- endmacro %}
