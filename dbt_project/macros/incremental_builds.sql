{#- What the incremental models keep of the build that wrote a row (`_last_load_id`,
    `_reference_date`, `_build_number`) and read back to find what changed since
    (funnel_sessions, int_customer_orders). -#}

{#- The previous build's state as one row (last_load_id, reference_date, build_number, then
    `extra_columns`): what the latest build that wrote rows was built from. Taking an older build's
    state instead only recomputes more than needed, never less. A build may have written no row
    (the reference date moved back over days whose rows it removed): the stored rows then end by
    their last day (`last_day_column`), so the reference date is taken as at most that day, or
    moving the date forward again would find nothing changed. -#}
{% macro previous_build(last_day_column, extra_columns='') -%}
    select
        max(_last_load_id) as last_load_id,
        least(arg_max(_reference_date, _build_number), max({{ last_day_column }})) as reference_date,
        max(_build_number) as build_number
        {%- if extra_columns %},
        {{ extra_columns }}
        {%- endif %}
    from {{ this }}
{%- endmacro %}

{#- The days a move of the reference date crossed, as a select of changed_day: those after the
    earlier of the previous build's (the `previous_build` relation) and the current one (`bounds`),
    up to the later. -#}
{% macro reference_date_moved_days(previous_build, bounds) -%}
    select cast(unnest(generate_series(
        cast(least({{ previous_build }}.reference_date, {{ bounds }}.reference_date) + 1 as timestamp),
        cast(greatest({{ previous_build }}.reference_date, {{ bounds }}.reference_date) as timestamp),
        interval 1 day
    )) as date) as changed_day
    from {{ previous_build }}
    cross join {{ bounds }}
{%- endmacro %}

{#- The model's rows (`final`) and, in an incremental build, a row of only `key` for each key of
    `changed` (the keys the build recomputed) left without any row: the delete+insert by `key`
    puts it in place of the stored rows, so that a key left without rows (a session, a customer, a
    day a reload emptied) is cleared too; the model's post-hook deletes these rows before the build
    commits. -#}
{% macro final_with_cleared_keys(final, changed, key) -%}
select * from {{ final }}
{%- if is_incremental() %}
union all by name
select {{ changed }}.{{ key }}
from {{ changed }}
anti join {{ final }} on {{ changed }}.{{ key }} = {{ final }}.{{ key }}
{%- endif %}
{%- endmacro %}
