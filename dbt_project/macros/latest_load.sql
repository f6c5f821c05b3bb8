{#- The data tests of a nightly run read the rows the night's loads can have changed, not the whole
    history (at 10 million orders 60 million events): the rows of earlier loads were checked when
    they came. With --full-refresh (`make run` over every day, which loads every day anyway) they
    read every row. A flag rather than a var, because dbt parses the whole project again when the
    vars change between runs. -#}

{#- The days the latest load of `source_table` replaced (raw.load_log), as a select of partition_date. -#}
{% macro latest_load_partitions(source_table) -%}
    {%- set load_log = source('raw', 'load_log') -%}
    select partition_date
    from {{ load_log }}
    where source_table = {{ sql_string(source_table) }}
        and load_id = (select max(load_id) from {{ load_log }} where source_table = {{ sql_string(source_table) }})
{%- endmacro %}

{#- The first and the last day of the latest load of `source_table`, as a subquery of one row
    (first_day, last_day). -#}
{% macro latest_load_days(source_table) -%}
    (
        select min(partition_date) as first_day, max(partition_date) as last_day
        from ({{ latest_load_partitions(source_table) }}) as latest_load
    )
{%- endmacro %}

{#- A condition on a row, for a test's `where` config: its naive UTC `time_column` can lie on a day
    of the latest load of `source_table` (from its first to its last day, widened by
    utc_times_of_store_days to every UTC time of those store days, a range the scan skips row
    groups by); true with --full-refresh. -#}
{% macro in_latest_load(source_table, time_column) -%}
    {%- if flags.FULL_REFRESH -%}
        true
    {%- else -%}
        {%- set days = latest_load_days(source_table) -%}
        {{ utc_times_of_store_days(time_column, '(select first_day from ' ~ days ~ ')', '(select last_day from ' ~ days ~ ')') }}
    {%- endif -%}
{%- endmacro %}

{#- The rows of `model` a night's loads can have changed, as a subquery, for the tests of
    column_rules' `latest_load` argument (which read `model` itself with --full-refresh), one of
      {source_table: …, time_column: …}   the rows of the days of that source's latest load (macro
          in_latest_load), for a table whose rows only its loads change, one row per raw row. A key
          is then unique among those rows: the ingest rejects an id that a kept day already holds.
      {source_tables: […], key_column: …}  every row whose `key_column` (null included) a raw row of
          the latest load's days of one of those sources holds, each source having a column of that
          name, for a table whose rows are a function of the rows of their key in those sources
          (stg_customers). A key is then unique on its own: a new row is counted with every
          stored row of its key, and the stored rows were unique before: a semi-join of the few
          changed keys, not a group-by of every key. A key whose raw rows a load only removed (a
          reload of a day) is not among them: the model must keep the rules for its remaining
          rows by its definition (stg_customers' tests say why it does). -#}
{% macro latest_load_rows(model, latest_load) -%}
{%- if latest_load.get('key_column') -%}
    {%- set key = latest_load.key_column -%}
    (
        select model_rows.*
        from {{ model }} as model_rows
        semi join (
            {%- for source_table in latest_load.source_tables %}
            {{ "union all" if not loop.first }}
            select {{ key }}
            from {{ source('raw', source_table) }}
            where _partition_date in ({{ latest_load_partitions(source_table) }})
            {%- endfor %}
        ) as loaded on model_rows.{{ key }} is not distinct from loaded.{{ key }}
    )
{%- else -%}
    (
        select * from {{ model }}
        where {{ in_latest_load(latest_load.source_table, latest_load.time_column) }}
    )
{%- endif -%}
{%- endmacro %}

{#- dbt's rows of a test with a `where` config (dbt's own macro of that name, which a project may
    replace), where `__latest_load__(source_table, time_column)` stands for macro in_latest_load's
    condition: dbt renders a test's configs without the project's macros. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if not where -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set filter = namespace(where=where) -%}
    {%- for placeholder, source_table, time_column in modules.re.findall('(__latest_load__\\(\\s*(\\w+)\\s*,\\s*(\\w+)\\s*\\))', where) -%}
        {%- set filter.where = filter.where.replace(placeholder, in_latest_load(source_table, time_column)) -%}
    {%- endfor -%}
    {{ return('(select * from ' ~ relation ~ ' where ' ~ filter.where ~ ') dbt_subquery') }}
{%- endmacro %}
