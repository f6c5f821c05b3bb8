{#- The days an incremental daily aggregate of funnel_sessions must compute again, as a select of
    session_date (macro upstream_changed_keys): the days of the sessions the builds of
    funnel_sessions since this model's last build (`_funnel_build_number`) wrote, the days whose
    stored session count is no longer funnel_sessions' (a session went away, or moved to another
    day, as a reload or a move of the reference date took its first events away), and every day
    when funnel_sessions was built afresh since. `sessions` is the relation of funnel_sessions'
    rows, `stored_sessions` the expression of a stored row's session count. -#}
{% macro funnel_changed_days(sessions, stored_sessions) -%}
    {{ upstream_changed_keys(sessions, 'session_date', 'sum(' ~ stored_sessions ~ ')', '_funnel_build_number') }}
{%- endmacro %}
