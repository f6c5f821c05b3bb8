{#- The customer's RFM segment from the ordered rules of the `rfm_segments` var: the first rule
    whose inclusive R and FM ranges hold wins, and the last entry (no ranges) takes the rest, so
    every customer gets exactly one segment. -#}
{% macro rfm_segment(r_score, fm_score) -%}
    {%- set segments = var('rfm_segments') -%}
    case
        {%- for rule in segments[:-1] %}
        when {{ r_score }} between {{ rule.r[0] }} and {{ rule.r[1] }}
            and {{ fm_score }} between {{ rule.fm[0] }} and {{ rule.fm[1] }}
            then {{ sql_string(rule.segment) }}
        {%- endfor %}
        else {{ sql_string(segments[-1].segment) }}
    end
{%- endmacro %}

{#- Every configured segment as a relation (segment_order, segment, suggested_action). -#}
{% macro rfm_segment_values() -%}
    (
        values
        {%- for rule in var('rfm_segments') %}
        ({{ loop.index }}, {{ sql_string(rule.segment) }}, {{ sql_string(rule.action) }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as segments(segment_order, segment, suggested_action)
{%- endmacro %}
