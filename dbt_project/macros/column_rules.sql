{#- One rule of column_rules: the column, the rule in words and either the SQL condition of a failing
    row or, for `unique`, the key's columns (and the condition of the rows it reads, if any). -#}
{% macro column_rule_check(column, rule) -%}
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
        {{ exceptions.raise_compiler_error("column_rules: unknown rule " ~ name ~ " on column " ~ column ~ " (not_null, unique, accepted_range, accepted_values, null_without_denominator)") }}
    {%- endif -%}
    {{ return({'column': column, 'rule': said, 'fails': fails}) }}
{%- endmacro %}
