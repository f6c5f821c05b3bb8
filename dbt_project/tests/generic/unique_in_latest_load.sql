{#- `unique` among the rows of the days of the table's latest load (macro latest_load_rows): the
    ingest rejects an id that a row of another day already holds, so once each load's rows are
    unique the whole table is. -#}
{% test unique_in_latest_load(model, column_name, source_table, time_column) %}
{{ duckdb__test_unique(latest_load_rows(model, source_table, time_column), column_name) }}
{% endtest %}
