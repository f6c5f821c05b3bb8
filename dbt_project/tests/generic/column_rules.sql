{#- Every column rule of a model in one query, instead of one test (one query, one dbt node, one
    Dagster check) per column and rule. `columns` maps a column to its rules, each one of
        not_null
        unique                                             nulls pass
        {unique: {where: "…"}}                             among the rows where the condition holds
        {accepted_range: {min_value: …, max_value: …}}    either bound optional; nulls pass
        {accepted_values: {values: […]}}                   strings; nulls pass
        {null_without_denominator: {denominator: "…"}}     see below
        {sums_to: {total: …, group_by: […], when: "…"}}   the whole table's (or each group's) sum
        {non_increasing: {order_by: "…", group_by: […]}}  never grows along the order
        same_on_every_row                                  one value on every row
    (macro table_rule_failing says what each whole-table rule counts).
    `unique_combinations` lists column lists whose values together must be unique (nulls compare
    equal there, as in a group by), `expressions` lists SQL conditions that must be true on every row,
    and `row_count` is the number of rows the model must have (it fails with the difference).
    null_without_denominator: a rate must be null where its denominator (a SQL expression over the
    row, window functions allowed) is 0 or null: a rate of nothing is undefined, and a 0 or a 100 %
    there would read as a fact. Where a figure also needs data the store may not have (costs for a
    margin), the denominator says so: `case when has_cost_data then net_revenue end`.
    Fails with one row per broken rule: the column (the columns joined by ", " for a combination;
    null for an expression), the rule and how many rows break it. For a unique rule those are the
    duplicated rows, every row whose key another row also has (a key held twice: 2), not the keys.
    dbt's count of failures is the number of broken rows, summed over the rules.
    The row rules are one scan; each unique rule adds the two of macro duplicated_keys (group the
    key's hash, then the values whose hash repeats), as its test of its own had, and each whole-table
    rule its own query of the whole model (narrowed by latest_load or not): one dbt node in all.
    `latest_load` checks only the rows the latest loads can have changed (every row with
    --full-refresh, as macro in_latest_load): `{source_table: …, time_column: …}` the rows of the days of that source's
    latest load, `{source_tables: […], key_column: …}` every row of a key those loads wrote, whose
    unique rules must then be on that key (macro latest_load_rows). -#}
{% test column_rules(model, columns={}, expressions=[], unique_combinations=[], row_count=none, latest_load=none) %}
{{ config(fail_calc='coalesce(sum(failing_rows), 0)') }}
{%- set narrowed = latest_load and not flags.FULL_REFRESH -%}
{%- set checked_rows = latest_load_rows(model, latest_load) if narrowed else model -%}
{%- set checks = [] -%}
{%- for column, rules in columns.items() -%}
    {%- for rule in rules -%}
        {%- do checks.append(column_rule_check(model, column, rule)) -%}
    {%- endfor -%}
{%- endfor -%}
{%- for combination in unique_combinations -%}
    {%- do checks.append({'column': combination | join(', '), 'rule': 'unique', 'key': combination, 'skip_nulls': false}) -%}
{%- endfor -%}
{%- for expression in expressions -%}
    {%- do checks.append({
        'column': none,
        'rule': 'expression_is_true: ' ~ expression,
        'fails': 'not coalesce((' ~ expression ~ '), false)',
    }) -%}
{%- endfor -%}
{%- if row_count is not none -%}
    {%- do checks.append({
        'column': none,
        'rule': 'row_count: ' ~ row_count,
        'failing': 'select abs(count(*) - ' ~ row_count ~ ') as __failing__ from ' ~ model,
    }) -%}
{%- endif -%}
{%- if not checks -%}
    {{ exceptions.raise_compiler_error("column_rules on " ~ model ~ ": no columns, combinations or expressions to check") }}
{%- endif %}
{%- for check in checks if check.key and latest_load and latest_load.get('key_column') -%}
    {%- if check.key != [latest_load.key_column] -%}
        {{ exceptions.raise_compiler_error("column_rules on " ~ model ~ ": the unique rule of " ~ check.column ~ " reads only the rows of the keys in latest_load's key_column " ~ latest_load.key_column ~ "; check it in a test of its own") }}
    {%- endif -%}
{%- endfor -%}
{%- set row_checks = [] -%}
{%- set key_checks = [] -%}
{%- set table_checks = [] -%}
{%- for check in checks -%}
    {%- do check.update({'index': loop.index}) -%}
    {%- do (key_checks if check.key else table_checks if check.failing else row_checks).append(check) -%}
{%- endfor %}
{#- The CTEs of one row of counts each, cross-joined into the row of every count. -#}
{%- set counts = ['row_failing'] if row_checks else [] -%}
{%- for check in key_checks + table_checks -%}
    {%- do counts.append(('key' if check.key else 'table') ~ '_failing_' ~ check.index) -%}
{%- endfor %}
with
{%- if narrowed %}
-- The rows the latest loads can have changed, read once for every rule.
latest_load_rows as {{ materialized_cte() }} {{ checked_rows }},
{%- set checked_rows = 'latest_load_rows' %}
{%- endif %}
{%- if row_checks %}
flagged as (
    select
        {%- for check in row_checks %}
        case when {{ check.fails }} then 1 else 0 end as failed_{{ check.index }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ checked_rows }}
),

row_failing as (
    select
        {%- for check in row_checks %}
        coalesce(sum(failed_{{ check.index }}), 0) as failing_{{ check.index }}{{ "," if not loop.last }}
        {%- endfor %}
    from flagged
),
{%- endif %}
{%- for check in key_checks %}

key_failing_{{ check.index }} as (
    select coalesce(sum(occurrences), 0) as failing_{{ check.index }}
    from (
        {{ duplicated_keys(
            '(select * from ' ~ checked_rows ~ ' where ' ~ check.where ~ ')' if check.where else checked_rows,
            check.key,
            check.skip_nulls,
        ) | indent(8) }}
    ) as duplicates
),
{%- endfor %}
{%- for check in table_checks %}

table_failing_{{ check.index }} as (
    {{ check.failing | replace('__failing__', 'failing_' ~ check.index) }}
),
{%- endfor %}

-- The counts of every rule in one row.
failing as (
    select *
    from {{ counts[0] }}
    {%- for count in counts[1:] %}
    cross join {{ count }}
    {%- endfor %}
),

-- One row per rule, from the single row of counts.
counted as (
    select
        rules.column_name,
        rules.rule,
        case rules.rule_index
            {%- for check in checks %}
            when {{ loop.index }} then failing.failing_{{ loop.index }}
            {%- endfor %}
        end as failing_rows
    from failing
    cross join (
        values
        {%- for check in checks %}
        (
            {{ loop.index }},
            {{ sql_string(check.column) if check.column else "cast(null as " ~ dbt.type_string() ~ ")" }},
            {{ sql_string(check.rule) }}
        ){{ "," if not loop.last }}
        {%- endfor %}
    ) as rules (rule_index, column_name, rule)
)

select column_name, rule, failing_rows
from counted
where failing_rows > 0
{% endtest %}
