"""The store's calendar: the day of the store (``ANALYTICS_STORE_TIMEZONE``) that a UTC time falls on.

Raw times are naive UTC; every day of the warehouse is a day of the store's calendar, daylight saving
time included (an order at 23:30 in New York on 10 March 2024 is 03:30 UTC on 11 March, and belongs
to 10 March). The ingest's partition day is :func:`store_date_sql`; the dbt models' days are the
``store_date`` macro of ``dbt_project/macros/store_calendar.sql``, the same rule in the dbt project.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from pipelines.warehouse.sql import literal

UTC = "UTC"
ONE_DAY = dt.timedelta(days=1)


def store_date_sql(utc_time: str, timezone: str) -> str:
    """DuckDB SQL: the store day of ``utc_time``, a naive UTC ``TIMESTAMP`` expression.

    In UTC the day is the timestamp's own date: the plain cast, which keeps a UTC store's loads as
    fast as they were. Otherwise ``timezone('UTC', t)`` makes the instant and ``timezone(zone, ...)``
    its wall-clock time in the store (DuckDB's ICU extension, built into the wheel).
    """
    if timezone == UTC:
        return f"cast({utc_time} as date)"
    return f"cast(timezone({literal(timezone)}, timezone('UTC', {utc_time})) as date)"


def utc_day_margin(timezone: str) -> dt.timedelta:
    """How far beyond the UTC day of a date the times of the store day of that date can lie: a day (no
    zone is a day away from UTC), none in UTC. A read by UTC days widened by it holds whole store days."""
    return dt.timedelta(0) if timezone == UTC else dt.timedelta(days=1)


def store_day(utc_time: dt.datetime, timezone: str) -> dt.date:
    """The store day of ``utc_time`` (naive UTC), as :func:`store_date_sql` computes it in DuckDB."""
    return utc_time.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone)).date()


def day_ranges(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """``days`` as the fewest runs of consecutive days, each ``(first, end)`` with ``end`` exclusive, in order."""
    ranges: list[tuple[dt.date, dt.date]] = []
    for day in sorted(set(days)):
        if ranges and ranges[-1][1] == day:
            ranges[-1] = (ranges[-1][0], day + ONE_DAY)
        else:
            ranges.append((day, day + ONE_DAY))
    return ranges


def on_days_sql(column: str, days: Iterable[dt.date], margin: dt.timedelta = dt.timedelta(0)) -> str:
    """SQL condition: the date or time ``column`` lies on one of ``days`` (one range test per run of
    days), each range reaching ``margin`` further on both sides."""
    ranges = [
        f"({column} >= {literal(str(first - margin))} and {column} < {literal(str(end + margin))})"
        for first, end in day_ranges(days)
    ]
    return "(" + " or ".join(ranges) + ")" if ranges else "false"
