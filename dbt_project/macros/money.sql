{#- The team's money convention: an amount of money is decimal(18, 2); a money average (AOV, LTV,
    CAC) is rounded to cents with round(x, 2) first, so that readers never see fractions of a cent. -#}
{% macro money(amount) -%}
    cast({{ amount }} as decimal(18, 2))
{%- endmacro %}

{% macro money_average(amount) -%}
    cast(round({{ amount }}, 2) as decimal(18, 2))
{%- endmacro %}
