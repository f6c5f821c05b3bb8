{#- One rule of column_rules: the column, the rule in words and either the SQL condition of a failing
    row, or for `unique` the key's columns (and the condition of the rows it reads, if any), or for a
    rule about the whole table (`sums_to`, `non_increasing`, `same_on_every_row`) a query of `model`
    counting what breaks it as `__failing__`. -#}
{% macro column_rule_check(model, column, rule) -%}
    {%- if rule is string -%}
        {%- set name, arguments = rule, {} -%}
    {%- elif rule is mapping and rule | length == 1 -%}
        {%- set name = (rule.keys() | list)[0] -%}
        {%- set arguments = rule[name] -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("column_rules: the rule " ~ rule ~ " of column " ~ column ~ " is neither a name nor {name: {arguments}}") }}
    {%- endif -%}
    {%- if name == 'unique' -%}
        {%- set where = arguments.get('where') -%}
        {{ return({
            'column': column,
            'rule': 'unique: where ' ~ where if where else 'unique',
            'key': [column],
            'skip_nulls': true,
            'where': where,
        }) }}
    {%- elif name in ('sums_to', 'non_increasing', 'same_on_every_row') -%}
        {{ return({'column': column, 'rule': table_rule_words(name, arguments), 'failing': table_rule_failing(model, column, name, arguments)}) }}
    {%- elif name == 'not_null' -%}
        {%- set fails = column ~ ' is null' -%}
        {%- set said = 'not_null' -%}
    {%- elif name == 'accepted_range' -%}
        {%- set bounds = [] -%}
        {%- set said = [] -%}
        {%- if arguments.get('min_value') is not none -%}
            {%- do bounds.append(column ~ ' < ' ~ arguments['min_value']) -%}
            {%- do said.append('min_value ' ~ arguments['min_value']) -%}
        {%- endif -%}
        {%- if arguments.get('max_value') is not none -%}
            {%- do bounds.append(column ~ ' > ' ~ arguments['max_value']) -%}
            {%- do said.append('max_value ' ~ arguments['max_value']) -%}
        {%- endif -%}
        {%- set fails = column ~ ' is not null and (' ~ bounds | join(' or ') ~ ')' -%}
        {%- set said = 'accepted_range: ' ~ said | join(', ') -%}
    {%- elif name == 'accepted_values' -%}
        {%- set fails = column ~ ' is not null and ' ~ column ~ ' not in ' ~ sql_string_list(arguments['values']) -%}
        {%- set said = 'accepted_values: ' ~ arguments['values'] | join(', ') -%}
    {%- elif name == 'null_without_denominator' -%}
        {%- set fails = column ~ ' is not null and coalesce((' ~ arguments['denominator'] ~ '), 0) = 0' -%}
        {%- set said = 'null_without_denominator: ' ~ arguments['denominator'] -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("column_rules: unknown rule " ~ name ~ " on column " ~ column ~ " (not_null, unique, accepted_range, accepted_values, null_without_denominator, sums_to, non_increasing, same_on_every_row)") }}
    {%- endif -%}
    {{ return({'column': column, 'rule': said, 'fails': fails}) }}
{%- endmacro %}


{#- A whole-table rule in words: its name and its arguments, as the failed check's table shows them. -#}
{% macro table_rule_words(name, arguments) -%}
    {%- set said = [] -%}
    {%- for key, value in arguments | dictsort -%}
        {%- do said.append(key ~ ' ' ~ (value | join(', ') if value is sequence and value is not string else value)) -%}
    {%- endfor -%}
    {{ return(name ~ (': ' ~ said | join('; ') if said else '')) }}
{%- endmacro %}

{#- The query counting what breaks a whole-table rule of `column`, as `__failing__`:
    sums_to          the groups (`group_by`, or the whole table) whose sum of the column is not
                     `total` (default 1; a number or a SQL expression) within `tolerance`, among
                     those whose aggregates meet `when` (e.g. "sum(revenue) > 0");
    non_increasing   the rows whose value is greater than the row's before it in `order_by` order
                     (within each `group_by` group): a figure that must never grow along the order;
    same_on_every_row  the values beyond the first (null counts as a value): a figure of the whole
                     table repeated on every row. -#}
{% macro table_rule_failing(model, column, name, arguments) -%}
    {%- set group_by = arguments.get('group_by') or [] -%}
    {%- set partition = 'partition by ' ~ group_by | join(', ') ~ ' ' if group_by else '' -%}
    {%- if name == 'sums_to' -%}
        {%- set when = arguments.get('when') -%}
        {%- set broken -%}
    select 1 as broken
    from {{ model }}
    {%- if group_by %}
    group by {{ group_by | join(', ') }}
    {%- endif %}
    having abs(coalesce(sum({{ column }}), 0) - ({{ arguments.get('total', 1) }})) > {{ arguments.get('tolerance', 0.000001) }}
    {%- if when %}
        and ({{ when }})
    {%- endif %}
        {%- endset -%}
    {%- elif name == 'non_increasing' -%}
        {%- set broken -%}
    select 1 as broken
    from (
        select
            {{ column }} as value,
            lag({{ column }}) over ({{ partition }}order by {{ arguments['order_by'] }}) as previous_value
        from {{ model }}
    ) as ordered
    where value > previous_value
        {%- endset -%}
    {%- else -%}
        {%- set broken -%}
    select 1 as broken
    from (
        select row_number() over (order by value) as position
        from (select distinct {{ column }} as value from {{ model }}) as distinct_values
    ) as numbered
    where position > 1
        {%- endset -%}
    {%- endif -%}
    {{ return('select count(*) as __failing__\n    from (' ~ broken ~ '\n    ) as broken_rows') }}
{%- endmacro %}
