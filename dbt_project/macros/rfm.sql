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

{#- A relation of each distinct `value` of `relation` and its `score`: the quintile ntile(5) gives the
    first row of that value when the rows are ordered by `value` (descending when `descending`), the
    lowest quintile any row with the value falls in. Worked out from the rows counted by value, not by
    ranking every row: ntile(5) puts N rows in 5 buckets of N div 5 rows, the first N mod 5 of them
    one row larger, and a value's first row is its position in that order. -#}
{% macro first_quintiles(relation, value, score, descending=false) -%}
    {%- set order = value ~ (' desc' if descending else '') -%}
    select
        {{ value }},
        cast(case
            when first_position <= larger_buckets * (bucket_rows + 1)
                then floor((first_position - 1) / (bucket_rows + 1)) + 1
            else floor((first_position - 1 - larger_buckets * (bucket_rows + 1)) / bucket_rows) + larger_buckets + 1
        end as bigint) as {{ score }}
    from (
        select
            {{ value }},
            sum(value_rows) over (order by {{ order }}) - value_rows + 1 as first_position,
            floor(sum(value_rows) over () / 5) as bucket_rows,
            sum(value_rows) over () - 5 * floor(sum(value_rows) over () / 5) as larger_buckets
        from (
            select
                {{ value }},
                count(*) as value_rows
            from {{ relation }}
            group by {{ value }}
        ) as values_counted
    ) as values_placed
{%- endmacro %}
