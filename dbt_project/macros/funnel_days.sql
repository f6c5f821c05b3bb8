{#- The days an incremental daily aggregate of funnel_sessions must compute again, as a select of
    session_date: the days of the sessions the builds of funnel_sessions since this model's last
    build wrote (their rows have a higher _build_number), and the days whose stored session count
    is no longer funnel_sessions' (a session went away, or moved to another day, as a reload or a
    move of the reference date took its first events away). Every day when funnel_sessions was
    built afresh since (its build numbers start again at 1). Counting the sessions of every day is
    one scan of a date column; the sessions themselves are read for the changed days only.
    `sessions` is the relation of funnel_sessions' rows, `stored_sessions` the expression of a
    stored row's session count. -#}
{% macro funnel_changed_days(sessions, stored_sessions) -%}
    select coalesce(current_days.session_date, stored_days.session_date) as session_date
    from (
        select
            session_date,
            count(*) as sessions,
            max(_build_number) as build_number
        from {{ sessions }}
        group by session_date
    ) as current_days
    full outer join (
        select
            session_date,
            sum({{ stored_sessions }}) as sessions
        from {{ this }}
        group by session_date
    ) as stored_days on current_days.session_date = stored_days.session_date
    cross join (
        select
            (select max(_funnel_build_number) from {{ this }}) as seen_build_number,
            (select max(_build_number) from {{ sessions }}) as latest_build_number
    ) as builds
    where current_days.sessions is distinct from stored_days.sessions
        or current_days.build_number > builds.seen_build_number
        or builds.latest_build_number < builds.seen_build_number
{%- endmacro %}
