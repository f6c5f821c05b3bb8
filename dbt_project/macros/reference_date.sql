{#- The warehouse's "as of" day: the `reference_date` var, else the last day with a transaction.
    That day is found among the transactions of the latest UTC times only: a store day lies within
    utc_day_margin of its UTC day, so a transaction more than twice the margin of days before the
    latest one's UTC day has an earlier store day than the latest transaction's. Computing the store
    day of these few rows instead of every transaction lets the scan skip the other row groups. -#}
{% macro reference_date() -%}
    {%- if var('reference_date') -%}
        cast('{{ var("reference_date") }}' as date)
    {%- else -%}
        {%- set transactions = ref('stg_transactions') -%}
        (
            select max(order_date)
            from {{ transactions }}
            where created_at >= (
                select cast(cast(max(created_at) as date) - {{ 2 * utc_day_margin() }} as timestamp)
                from {{ transactions }}
            )
        )
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
