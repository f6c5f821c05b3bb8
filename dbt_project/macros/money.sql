{#- The house types of money (docs/metrics.md, "Precision"): an amount is decimal(18, 2), exact to
    the cent, so that sums are exact and two builds of the same data identical. DuckDB widens a
    sum of decimal(18, 2) to decimal(38, 2); this casts it back. -#}
{% macro money(amount) -%}
    cast({{ amount }} as decimal(18, 2))
{%- endmacro %}

{#- A money average or ratio of amounts to a count (AOV, LTV, CAC, revenue per customer): a
    division gives a double, rounded here to the cent and kept as an amount. -#}
{% macro money_average(average) -%}
    {{ return(adapter.dispatch('money_average')(average)) }}
{%- endmacro %}

{% macro default__money_average(average) -%}
    cast(round({{ average }}, 2) as decimal(18, 2))
{%- endmacro %}

{#- DuckDB rounds a double to cents as round(x × 100) / 100, half away from zero: 8.915 is
    891.4999… cents and gives 8.91. Spark's round(x, 2) rounds the double's shortest decimal form
    (8.915) half up, to 8.92; rounding the cents to a whole number does what DuckDB does. -#}
{% macro spark__money_average(average) -%}
    cast(round(({{ average }}) * 100) / 100 as decimal(18, 2))
{%- endmacro %}

{#- Customer acquisition cost: the marketing spend over the customers acquired with it; null (not
    0) without any spend, or without a customer to divide it by. -#}
{% macro acquisition_cost(marketing_spend, new_customers) -%}
    {{ money_average(safe_divide('nullif(' ~ marketing_spend ~ ', 0)', new_customers)) }}
{%- endmacro %}
