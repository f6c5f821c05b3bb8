"""Orders in another currency converted to the reporting currency at ingest, as DuckDB SQL.

An order's amount is multiplied by the rate of its day: the latest rate in ``raw.exchange_rates``
for its currency on or before the order's day and at most ``ANALYTICS_EXCHANGE_RATE_MAX_AGE_DAYS``
before it (an as-of join: rates are not published at weekends and on holidays). The order's day is
its partition day, ``_partition_date``, which validation derives from its time in one place, so the
rate is looked up on the same calendar the order's revenue counts on. The as-of join looks up each
currency and day of the orders once, and the orders are joined to those rates by equality: an as-of
join of every order sorted all of them, most of a large load's time (docs/benchmarks.md).

The product is taken exactly (DECIMAL(38, 12): an amount of 16 digits times a rate of 18) and
rounded to cents half away from zero (DuckDB's ``round`` of a DECIMAL; amounts are never negative,
so this is half-up): the same order and rate give the same cents on every run and every machine,
which a product of doubles would not promise at a half cent. The row keeps the amount and currency
it came with and the rate, so that a reader can redo the conversion. An order without such a rate
(or whose converted amount is beyond ``ANALYTICS_SOURCE_MAX_AMOUNT``) is rejected with that reason.
"""

from __future__ import annotations

from pipelines.source_schema import MONEY_TYPE, RATE_TYPE, SourceTable
from pipelines.sources.validation import RowRules, as_rejects
from pipelines.warehouse.sql import literal

RATES = "raw.exchange_rates"
CONVERTED_TYPE = "DECIMAL(38, 2)"
"""The amount widened before it is multiplied: DuckDB keeps a product of two DECIMAL(18)s in 18 digits."""


def converted_rows_sql(checked: str, rules: RowRules) -> str:
    """``SELECT`` of the rows of ``checked`` (validated transactions) with ``amount`` and ``currency`` in
    the reporting currency where a rate was found, ``original_amount``, ``original_currency`` and
    ``exchange_rate`` (1 for the reporting currency), and ``_conversion_problem``: why a good row cannot
    be converted, NULL when it can. Rows already rejected keep their values."""
    currency = literal(rules.currency)
    max_age = rules.exchange_rate_max_age_days
    no_rate = (
        f"'no ' || currency || ' exchange rate on ' || _partition_date || "
        f"{literal(f' or up to {max_age} days before (ANALYTICS_EXCHANGE_RATE_MAX_AGE_DAYS={max_age})')}"
        " || coalesce('; the latest before is of ' || _latest_rate_date, '')"
    )
    too_large = literal(
        f"amount out of range after conversion to {rules.currency} "
        f"(above ANALYTICS_SOURCE_MAX_AMOUNT={rules.max_amount:g})"
    )
    return f"""
with order_days as (
    select currency, _partition_date
    from {checked}
    where _partition_date is not null and currency <> {currency}
    group by all
),
day_rates as (
    select
        order_days.currency,
        order_days._partition_date,
        case when r.rate_date >= order_days._partition_date - {max_age} then r.rate end as _rate,
        r.rate_date as _latest_rate_date
    from order_days
    asof left join (select rate_date, currency, rate from {RATES}) as r
        on order_days.currency = r.currency and order_days._partition_date >= r.rate_date
),
rated as (
    select
        c.*,
        case when c.currency = {currency} then cast(1 as {RATE_TYPE}) else day_rates._rate end as _rate,
        day_rates._latest_rate_date
    from {checked} as c
    left join day_rates on c.currency = day_rates.currency and c._partition_date = day_rates._partition_date
),
converted as (
    select *, round(cast(amount as {CONVERTED_TYPE}) * _rate, 2) as _converted from rated
)
select
    * exclude (amount, currency, _rate, _latest_rate_date, _converted),
    case when _reason is null and _converted <= {rules.max_amount!r} then cast(_converted as {MONEY_TYPE})
        else amount end as amount,
    case when _reason is null and _rate is not null then {currency} else currency end as currency,
    amount as original_amount,
    currency as original_currency,
    _rate as exchange_rate,
    case
        when _reason is not null then null
        when _rate is null then {no_rate}
        when _converted > {rules.max_amount!r} then {too_large}
    end as _conversion_problem
from converted"""


def unconverted_rows_sql(table: SourceTable, converted: str) -> str:
    """``SELECT`` of the rows of ``converted`` that could not be converted, as rejects (file, row,
    reason, raw values from ``_src``)."""
    return f"""
with unconverted as (
    select _file_index, _row_number, _conversion_problem from {converted} where _conversion_problem is not null
)
{as_rejects(table, "unconverted", "unconverted._conversion_problem")}"""
