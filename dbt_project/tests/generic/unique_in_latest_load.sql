{#- `unique` among the rows of the days of the table's latest load (raw.load_log), by their
    `time_column`: the ingest rejects an id that a row of another day already holds, so once each
    load's rows are unique the whole table is, and a nightly run need not read the whole history
    (at 10 million orders 60 million event ids) to show it. The span from the load's first to its
    last day is read, a range the scan skips row groups by. With --full-refresh (`make run` over
    every day, which loads every day anyway): every row. A flag rather than a var, because dbt
    parses the whole project again when the vars change between runs. -#}
{% test unique_in_latest_load(model, column_name, source_table, time_column) %}
{%- set load_log = source('raw', 'load_log') -%}
{%- set latest_load -%}
    (
        select min(partition_date) as first_day, max(partition_date) + 1 as end_day
        from {{ load_log }}
        where source_table = {{ sql_string(source_table) }}
            and load_id = (select max(load_id) from {{ load_log }} where source_table = {{ sql_string(source_table) }})
    )
{%- endset -%}
{%- if flags.FULL_REFRESH -%}
    {%- set rows = model -%}
{%- else -%}
    {%- set rows -%}
        (
            select * from {{ model }}
            where {{ time_column }} >= (select first_day from {{ latest_load }})
                and {{ time_column }} < (select end_day from {{ latest_load }})
        )
    {%- endset -%}
{%- endif -%}
{{ duckdb__test_unique(rows, column_name) }}
{% endtest %}
