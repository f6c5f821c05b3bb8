{#- `unique` among the rows of the days of the table's latest load (macro latest_load_rows): the
    ingest rejects an id that a row of another day already holds, so once each load's rows are
    unique the whole table is. The failing rows of dbt's `unique`, found by macro duplicated_keys. -#}
{% test unique_in_latest_load(model, column_name, source_table, time_column) %}
select {{ column_name }} as unique_field, occurrences as n_records
from (
    {{ duplicated_keys(latest_load_rows(model, source_table, time_column), [column_name], true) | indent(4) }}
) as duplicates
{% endtest %}
