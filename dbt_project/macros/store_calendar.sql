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

{#- How far beyond the UTC day of a date the times of the store day of that date can lie, in days:
    one (no zone is a day away from UTC), none in UTC; pipelines/warehouse/store_calendar.py's
    utc_day_margin. -#}
{% macro utc_day_margin() -%}
    {{ return(0 if var('store_timezone') == 'UTC' else 1) }}
{%- endmacro %}

{#- A condition on the naive UTC timestamp `column` that every time whose store day lies between the
    SQL dates `first_day` and `last_day` meets: the UTC days from `first_day` to `last_day`, widened
    by utc_day_margin. The raw tables are stored in the order of their load days, so a scan skips the
    row groups outside the range before it computes any store day. It depends on the raw time alone,
    not on the time zone a row was loaded under. -#}
{% macro utc_times_of_store_days(column, first_day, last_day) -%}
    {%- set margin = utc_day_margin() -%}
    {{ column }} >= cast({{ first_day }} - {{ margin }} as timestamp)
        and {{ column }} < cast({{ last_day }} + {{ margin + 1 }} as timestamp)
{%- endmacro %}
