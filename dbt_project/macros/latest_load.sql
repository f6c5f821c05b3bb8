{#- The rows of `model` on the days of the latest load of `source_table` (raw.load_log), by their
    `time_column`, as a subquery; every row with --full-refresh (`make run` over every day, which
    loads every day anyway). For the data tests about single rows of a table whose rows only a load
    changes: the rows of earlier loads were checked when they came, so a nightly run need not read
    the whole history (at 10 million orders 60 million events). The span from the load's first to
    its last day is read, a range the scan skips row groups by. A flag rather than a var, because
    dbt parses the whole project again when the vars change between runs. -#}
{% macro latest_load_rows(model, source_table, time_column) -%}
{%- if flags.FULL_REFRESH -%}
    {{ model }}
{%- else -%}
    {%- set load_log = source('raw', 'load_log') -%}
    {%- set latest_load -%}
        (
            select min(partition_date) as first_day, max(partition_date) + 1 as end_day
            from {{ load_log }}
            where source_table = {{ sql_string(source_table) }}
                and load_id = (select max(load_id) from {{ load_log }} where source_table = {{ sql_string(source_table) }})
        )
    {%- endset -%}
    (
        select * from {{ model }}
        where {{ time_column }} >= (select first_day from {{ latest_load }})
            and {{ time_column }} < (select end_day from {{ latest_load }})
    )
{%- endif -%}
{%- endmacro %}
