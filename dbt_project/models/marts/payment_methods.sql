with payment_hours as (
    select * from {{ ref('int_payment_hours') }}
),

bounds as (
    select {{ reference_date() }} as reference_date
),

-- The days' attempts up to the reference date (int_payment_hours says what an attempt is, as
-- kpi_summary.payment_success_rate counts them).
attempts as (
    select payment_hours.*
    from payment_hours
    cross join bounds
    where payment_hours.order_date <= bounds.reference_date
),

-- Per method and hour of the day, and per method over all hours (hour_of_day null).
by_hour as (
    select
        payment_method,
        hour_of_day,
        cast(sum(attempts) as bigint) as attempts,
        cast(sum(successful) as bigint) as successful
    from attempts
    group by grouping sets ((payment_method, hour_of_day), (payment_method))
),

-- Every hour of every method, so that an hour without an attempt is a row of zeros.
method_hours as (
    select
        methods.payment_method,
        hours.hour_of_day
    from (select distinct payment_method from attempts) as methods
    cross join (
        select cast(hour_of_day as bigint) as hour_of_day from {{ series(0, 24, 1, 'hours', 'hour_of_day') }}
        union all
        select null
    ) as hours
),

final as (
    select
        method_hours.payment_method,
        method_hours.hour_of_day,
        coalesce(by_hour.attempts, 0) as attempts,
        coalesce(by_hour.successful, 0) as successful,
        coalesce(by_hour.attempts - by_hour.successful, 0) as failed,
        {{ safe_divide('cast(by_hour.successful as double)', 'by_hour.attempts') }} as success_rate
    from method_hours
    left join by_hour
        on method_hours.payment_method = by_hour.payment_method
        and method_hours.hour_of_day is not distinct from by_hour.hour_of_day
)

select * from final
