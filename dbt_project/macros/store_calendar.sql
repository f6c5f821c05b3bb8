{#- The store's calendar (var `store_timezone`, ANALYTICS_STORE_TIMEZONE): raw times are naive UTC,
    every day, month and hour of the marts is the store's wall clock, daylight saving time included.
    The ingest's partition day applies the same rule (pipelines/warehouse/store_calendar.py). -#}

{#- The store's wall-clock time of a naive UTC timestamp. In UTC the time is already the store's:
    left as it is; elsewhere each adapter's `<adapter>__store_time` converts it to `zone`. -#}
{% macro store_time(column) -%}
    {%- if var('store_timezone') == 'UTC' -%}
        {{ return(column) }}
    {%- endif -%}
    {{ return(adapter.dispatch('store_time')(column, sql_string(var('store_timezone')))) }}
{%- endmacro %}

{#- DuckDB: `timezone('UTC', t)` is the instant, `timezone(zone, instant)` its wall-clock time there
    (the ICU extension, built into DuckDB). -#}
{% macro default__store_time(column, zone) -%}
    timezone({{ zone }}, timezone('UTC', {{ column }}))
{%- endmacro %}

{#- Spark: from_utc_timestamp gives the time whose rendering in the session's time zone (UTC, the
    spark target's spark.sql.session.timeZone) is the store's wall clock. -#}
{% macro spark__store_time(column, zone) -%}
    from_utc_timestamp({{ column }}, {{ zone }})
{%- endmacro %}

{#- The store day of a naive UTC timestamp. -#}
{% macro store_date(column) -%}
    cast({{ store_time(column) }} as date)
{%- endmacro %}
