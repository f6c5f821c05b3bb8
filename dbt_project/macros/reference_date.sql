{#- The warehouse's "as of" day: the `reference_date` var, else the last day with a transaction. -#}
{% macro reference_date() -%}
    {%- if var('reference_date') -%}
        cast('{{ var("reference_date") }}' as date)
    {%- else -%}
        (select max(order_date) from {{ ref('stg_transactions') }})
    {%- endif -%}
{%- endmacro %}

{#- Divide, giving null instead of an error or infinity when the denominator is 0 or null. -#}
{% macro safe_divide(numerator, denominator) -%}
    ({{ numerator }}) / nullif({{ denominator }}, 0)
{%- endmacro %}
