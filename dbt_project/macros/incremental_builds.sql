{#- What the incremental models keep of the build that wrote a row (`_last_load_id`,
    `_reference_date`, `_build_number`) and read back to find what changed since
    (funnel_sessions, int_customer_orders). -#}

{#- The previous build's state as one row (last_load_id, reference_date, build_number, then
    `extra_columns`): what the latest build that wrote rows was built from. Taking an older build's
    state instead only recomputes more than needed, never less. A build may have written no row
    (the reference date moved back over days whose rows it removed): the stored rows then end by
    their last day (`last_day_column`), so the reference date is taken as at most that day, or
    moving the date forward again would find nothing changed; `written_reference_date` is the
    latest stored one as written, which a move back must still cross from: days after the stored
    rows' last day hold no rows but may hold what a row reads (a cost of the month). -#}
{% macro previous_build(last_day_column, extra_columns='') -%}
    select
        max(_last_load_id) as last_load_id,
        least(arg_max(_reference_date, _build_number), max({{ last_day_column }})) as reference_date,
        arg_max(_reference_date, _build_number) as written_reference_date,
        max(_build_number) as build_number
        {%- if extra_columns %},
        {{ extra_columns }}
        {%- endif %}
    from {{ this }}
{%- endmacro %}

{#- The days a move of the reference date crossed, as a select of changed_day: those after the
    earlier of the previous build's (the `previous_build` relation) and the current one (`bounds`),
    up to the later of the previous build's as written and the current one. -#}
{% macro reference_date_moved_days(previous_build, bounds) -%}
    select cast(unnest(generate_series(
        cast(least({{ previous_build }}.reference_date, {{ bounds }}.reference_date) + 1 as timestamp),
        cast(greatest({{ previous_build }}.written_reference_date, {{ bounds }}.reference_date) as timestamp),
        interval 1 day
    )) as date) as changed_day
    from {{ previous_build }}
    cross join {{ bounds }}
{%- endmacro %}

{#- The store days whose paid orders may differ from those the stored rows were computed from, as
    a select of changed_day: days of transactions loaded since the previous build (the
    `previous_build` relation, macro previous_build; `loads` holds raw.load_log's rows), days a
    reload left empty included, and days the reference date moved across. -#}
{% macro changed_order_days(loads, previous_build, bounds) -%}
    select {{ loads }}.partition_date as changed_day
    from {{ loads }}
    cross join {{ previous_build }}
    where {{ loads }}.source_table = 'transactions'
        and {{ loads }}.load_id > coalesce({{ previous_build }}.last_load_id, 0)
    union
    {{ reference_date_moved_days(previous_build, bounds) }}
{%- endmacro %}

{#- The paid orders (`paid_orders`, int_paid_orders) of the months of the `months` relation (its
    column `month_column`), as a select: their UTC times are read first (macro
    utc_times_of_store_days), so that a scan skips the row groups of the other months before it
    computes any store day. In a full build, every paid order. -#}
{% macro paid_orders_of_months(paid_orders, months, month_column) -%}
    select {{ paid_orders }}.*
    from {{ paid_orders }}
    {%- if is_incremental() %}
    where {{ utc_times_of_store_days(
            paid_orders ~ '.created_at',
            '(select min(' ~ month_column ~ ') from ' ~ months ~ ')',
            '(select last_day(max(' ~ month_column ~ ')) from ' ~ months ~ ')'
        ) }}
        and {{ paid_orders }}.order_month in (select {{ month_column }} from {{ months }})
    {%- endif %}
{%- endmacro %}

{#- The model's rows (`final`) and, in an incremental build, a row of only `key` (a column, or a
    list of them) for each key of `changed` (the keys the build recomputed) left without any row:
    the delete+insert by `key` puts it in place of the stored rows, so that a key left without rows
    (a session, a customer, a day a reload emptied) is cleared too; the model's post-hook deletes
    these rows before the build commits. -#}
{% macro final_with_cleared_keys(final, changed, key) -%}
{%- set keys = [key] if key is string else key -%}
select * from {{ final }}
{%- if is_incremental() %}
union all by name
select {% for column in keys %}{{ changed }}.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
from {{ changed }}
anti join {{ final }} on
    {%- for column in keys %} {{ changed }}.{{ column }} = {{ final }}.{{ column }}{{ ' and' if not loop.last }}{% endfor %}
{%- endif %}
{%- endmacro %}

{#- The keys an incremental aggregate of an incremental upstream model must compute again, as a
    select of `key`: the keys of the upstream rows the upstream's builds since this model's last
    build wrote (their `_build_number` is higher than the `seen_build_column` this model stored),
    and the keys whose stored count of upstream rows (`stored_count`, an aggregate over this
    model's rows of the key) is no longer the upstream's (an upstream row went away, or moved to
    another key). Every key when the upstream was built afresh since (its build numbers start
    again at 1). Counting the upstream's rows of every key is one scan of the key column; the
    upstream's rows themselves are read for the changed keys only. -#}
{% macro upstream_changed_keys(upstream, key, stored_count, seen_build_column) -%}
    select coalesce(current_keys.{{ key }}, stored_keys.{{ key }}) as {{ key }}
    from (
        select
            {{ key }},
            count(*) as upstream_rows,
            max(_build_number) as build_number
        from {{ upstream }}
        group by {{ key }}
    ) as current_keys
    full outer join (
        select
            {{ key }},
            {{ stored_count }} as upstream_rows
        from {{ this }}
        group by {{ key }}
    ) as stored_keys on current_keys.{{ key }} = stored_keys.{{ key }}
    cross join (
        select
            (select max({{ seen_build_column }}) from {{ this }}) as seen_build_number,
            (select max(_build_number) from {{ upstream }}) as latest_build_number
    ) as builds
    where current_keys.upstream_rows is distinct from stored_keys.upstream_rows
        or current_keys.build_number > builds.seen_build_number
        or builds.latest_build_number < builds.seen_build_number
{%- endmacro %}

{#- The months an incremental aggregate of int_customer_purchase_months (`upstream`, which replaces
    every row of a month it recomputes) must compute again, as a select of order_month: the months
    of the upstream rows its builds since this model's last build wrote (a higher `_build_number`
    than the `seen_build_column` this model stored; every month when the upstream was built afresh
    since), and this model's months the upstream no longer has. Cheaper than upstream_changed_keys'
    count of each month's rows, which a month replaced whole does not need. -#}
{% macro upstream_replaced_months(upstream, seen_build_column) -%}
    select distinct {{ upstream }}.order_month
    from {{ upstream }}
    cross join (
        select
            (select coalesce(max({{ seen_build_column }}), 0) from {{ this }}) as seen_build_number,
            (select max(_build_number) from {{ upstream }}) as latest_build_number
    ) as builds
    where {{ upstream }}._build_number > builds.seen_build_number
        or builds.latest_build_number < builds.seen_build_number
    union
    select stored.order_month
    from (select distinct order_month from {{ this }}) as stored
    anti join {{ upstream }} on stored.order_month = {{ upstream }}.order_month
{%- endmacro %}

{#- The dbt vars `names` an incremental model's rows are computed with, as a SQL string (JSON) that
    the model keeps in its `_settings` column: a build after a change of one of them (a user's
    `--vars`, ANALYTICS_STORE_TIMEZONE) recomputes every row instead of keeping rows computed with
    the old value, as a full refresh would. -#}
{% macro build_settings(names) -%}
    {%- set values = {} -%}
    {%- for name in names -%}
        {%- do values.update({name: var(name)}) -%}
    {%- endfor -%}
    {{ sql_string(tojson(values, sort_keys=True)) }}
{%- endmacro %}

{#- True when a stored row of the model was computed with other values of the vars `names` (macro
    build_settings) than this build's, as an aggregate over its rows (for previous_build). -#}
{% macro settings_changed(names) -%}
    coalesce(bool_or(_settings is distinct from {{ build_settings(names) }}), false)
{%- endmacro %}

{#- The rows of `relation` a build computes its rows from, as a select: in an incremental build
    those whose `key` is one of the `changed` relation's, in a full build all of them. -#}
{% macro rows_to_compute(relation, changed, key) -%}
    select {{ relation }}.*
    from {{ relation }}
    {%- if is_incremental() %}
    semi join {{ changed }} on {{ relation }}.{{ key }} = {{ changed }}.{{ key }}
    {%- endif %}
{%- endmacro %}

{#- The config of an incremental model whose build replaces the rows of each `unique_key` it
    computes again (delete+insert): a recomputed key left without rows gets a row whose
    `kept_column` is null, which puts it in place of the old rows, and the post-hook deletes it
    before the build commits. On Spark (plain Parquet tables, no DELETE), a table rebuilt each
    time. -#}
{% macro replacing_rows_by(unique_key, kept_column) -%}
    {{ return({
        'materialized': 'incremental' if target.type == 'duckdb' else 'table',
        'incremental_strategy': 'delete+insert',
        'unique_key': unique_key,
        'on_schema_change': 'sync_all_columns',
        'post_hook': ['delete from {{ this }} where ' ~ kept_column ~ ' is null'] if target.type == 'duckdb' else [],
    }) }}
{%- endmacro %}

{#- The first CTEs of an incremental aggregate of the transactions by store day (int_order_days,
    int_product_days, int_payment_hours): `transactions` (stg_transactions), `transaction_loads`
    (raw.load_log's transactions loads), in an incremental build `changed_days` (order_date: the
    days of the loads since the last build, `_last_load_id`, days a reload left empty included;
    every day, stored or now, when the vars `build_vars` of macro build_settings changed), and
    `day_transactions`, the transactions of the days the build aggregates. An incremental build
    reads the transactions of the UTC times that can fall on the changed days only (macro
    utc_times_of_store_days): the row groups of a night's day, not every transaction; when the vars
    changed, "every day" is each day from the first transaction's UTC day to the last one's, widened
    by utc_day_margin (a day without transactions gets a cleared row, which the post-hook deletes),
    so that no build computes every transaction's store day to find its days. -#}
{% macro transactions_of_changed_days(build_vars) -%}
-- Not materialized: an incremental build reads it twice, each time a filtered part of it.
transactions as {{ cte_hint('not materialized') }} (
    select * from {{ ref('stg_transactions') }}
),

transaction_loads as (
    select * from {{ source('raw', 'load_log') }}
    where source_table = 'transactions'
),

{%- if is_incremental() %}

changed_days as materialized (
    select distinct transaction_loads.partition_date as order_date
    from transaction_loads
    where transaction_loads.load_id > (select coalesce(max(_last_load_id), 0) from {{ this }})
    union
    select cast(unnest(generate_series(
        cast(cast(first_time as date) - {{ utc_day_margin() }} as timestamp),
        cast(cast(last_time as date) + {{ utc_day_margin() }} as timestamp),
        interval 1 day
    )) as date) as order_date
    from (
        select
            min(created_at) as first_time,
            max(created_at) as last_time
        from transactions
    )
    where (select {{ settings_changed(build_vars) }} from {{ this }})
    union
    select order_date
    from {{ this }}
    where (select {{ settings_changed(build_vars) }} from {{ this }})
),

day_transactions as (
    select transactions.*
    from transactions
    semi join changed_days on transactions.order_date = changed_days.order_date
    where {{ utc_times_of_store_days(
            'transactions.created_at',
            '(select min(order_date) from changed_days)',
            '(select max(order_date) from changed_days)'
        ) }}
)

{%- else %}

day_transactions as (
    select * from transactions
)

{%- endif %}
{%- endmacro %}
