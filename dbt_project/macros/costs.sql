{#- The cost category a cost row counts under: its own when listed in the `cost_categories` var,
    else the last listed one (`other`), so that the category columns always add up to the total. -#}
{% macro cost_category(category) -%}
    {%- set categories = var('cost_categories') -%}
    case
        when {{ category }} in {{ sql_string_list(categories) }} then {{ category }}
        else {{ sql_string(categories[-1]) }}
    end
{%- endmacro %}
