"""The store day of a UTC time: DuckDB's (the ingest's partition day) and Python's zoneinfo agree, hour by
hour, across New York's two daylight saving changes of 2024 and in a zone east of UTC."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from pipelines.warehouse.store_calendar import store_date_sql, store_day


@pytest.mark.parametrize("timezone", ["America/New_York", "Asia/Kolkata", "UTC"])
@pytest.mark.parametrize("change", [dt.datetime(2024, 3, 9), dt.datetime(2024, 11, 2)])
def test_duckdb_and_zoneinfo_give_every_hour_the_same_store_day(timezone, change):
    hours = [change + dt.timedelta(minutes=30 + 60 * hour) for hour in range(72)]

    with duckdb.connect() as con:
        in_duckdb = con.execute(
            f"select {store_date_sql('t', timezone)} from unnest(?::timestamp[]) as times(t)", [hours]
        ).fetchall()

    assert [day for (day,) in in_duckdb] == [store_day(hour, timezone) for hour in hours]


def test_an_evening_west_of_utc_is_the_store_day_before_the_utc_day():
    # 23:30 EDT on 10 Mar 2024 (UTC-4, the clocks went forward at 02:00 that day) is 03:30 UTC on 11 Mar.
    assert store_day(dt.datetime(2024, 3, 11, 3, 30), "America/New_York") == dt.date(2024, 3, 10)
    # 23:30 EST on 3 Nov 2024 (UTC-5, the clocks went back at 02:00 that day) is 04:30 UTC on 4 Nov.
    assert store_day(dt.datetime(2024, 11, 4, 4, 30), "America/New_York") == dt.date(2024, 11, 3)
    # 04:30 UTC is 09:00 in Kolkata (UTC+5:30): the same day.
    assert store_day(dt.datetime(2024, 11, 4, 4, 30), "Asia/Kolkata") == dt.date(2024, 11, 4)
