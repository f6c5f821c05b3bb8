{#- The warehouse's "as of" day: the `reference_date` var, else the last day with a transaction. -#}
{% macro reference_date() -%}
    {%- if var('reference_date') -%}
        cast('{{ var("reference_date") }}' as date)
    {%- else -%}
        (select max(order_date) from {{ ref('stg_transactions') }})
    {%- endif -%}
{%- endmacro %}

{#- Divide, giving null instead of an error or infinity when the denominator is 0 or null; a double,
    as DuckDB's `/` gives for any numbers. -#}
{% macro safe_divide(numerator, denominator) -%}
    {{ return(adapter.dispatch('safe_divide')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__safe_divide(numerator, denominator) -%}
    ({{ numerator }}) / nullif({{ denominator }}, 0)
{%- endmacro %}

{#- Spark divides decimals into a decimal: the numerator as a double divides as DuckDB does. -#}
{% macro spark__safe_divide(numerator, denominator) -%}
    cast({{ numerator }} as double) / nullif({{ denominator }}, 0)
{%- endmacro %}
