"""The store's time zone (``ANALYTICS_STORE_TIMEZONE``): every day of the warehouse is a day of the store's
calendar, across daylight saving changes, while the raw times stay UTC.

One small hand-made store in New York (UTC-5 in winter as EST, UTC-4 in summer as EDT), built once through
the real ingest and dbt. In 2024 New York springs forward on 10 March (02:00 EST becomes 03:00 EDT) and
falls back on 3 November (02:00 EDT becomes 01:00 EST).
"""

from __future__ import annotations

import datetime as dt

import pytest
from dagster import AssetSelection

from pipelines.defs.partitions import partition_start, sample_store_spec
from pipelines.sample_store.generator import sample_store_first_day
from pipelines.settings import Settings
from tests.support.csv_store import transaction, write_table
from tests.support.pipeline_runs import INGEST, isolated_settings, query, run_pipeline

STORE_TIMEZONE = "America/New_York"
FIRST_DAY, LAST_DAY = dt.date(2024, 3, 1), dt.date(2024, 11, 5)
MARTS = AssetSelection.assets(
    ["marts", "revenue_daily"], ["marts", "revenue_monthly"], ["marts", "funnel_hourly"]
).upstream()

# Each order: (id, customer, UTC time as the shop exports it, amount, the store day worked out by hand).
ORDERS = [
    # 23:30 EST on 9 Mar (UTC-5) = 04:30 UTC on 10 Mar: the store's 9 Mar, UTC's 10 Mar.
    ("SPRING_EVE", "C1", "2024-03-10 04:30:00", "11.00", dt.date(2024, 3, 9)),
    # 00:30 EST on 10 Mar (still UTC-5 before 02:00) = 05:30 UTC on 10 Mar: the store's 10 Mar.
    ("SPRING_MORNING", "C1", "2024-03-10 05:30:00", "13.00", dt.date(2024, 3, 10)),
    # 23:30 EDT on 10 Mar (UTC-4 after the change) = 03:30 UTC on 11 Mar: the store's 10 Mar, UTC's 11 Mar.
    ("SPRING_NIGHT", "C1", "2024-03-11 03:30:00", "17.00", dt.date(2024, 3, 10)),
    # C2's first order, 23:30 EDT on 31 Mar = 03:30 UTC on 1 Apr: the store's March, so C2 is of March's cohort.
    ("MONTH_END", "C2", "2024-04-01 03:30:00", "31.00", dt.date(2024, 3, 31)),
    # 23:30 EDT on 2 Nov (UTC-4) = 03:30 UTC on 3 Nov: the store's 2 Nov.
    ("FALL_EVE", "C1", "2024-11-03 03:30:00", "19.00", dt.date(2024, 11, 2)),
    # 01:30 EST on 3 Nov, the second 01:30 of that night (UTC-5) = 06:30 UTC: the store's 3 Nov.
    ("FALL_REPEATED_HOUR", "C1", "2024-11-03 06:30:00", "23.00", dt.date(2024, 11, 3)),
    # 23:30 EST on 3 Nov (UTC-5 after the change) = 04:30 UTC on 4 Nov: the store's 3 Nov, UTC's 4 Nov.
    ("FALL_NIGHT", "C1", "2024-11-04 04:30:00", "29.00", dt.date(2024, 11, 3)),
]


@pytest.fixture(scope="module")
def new_york_store(tmp_path_factory: pytest.TempPathFactory, dbt_manifest_prepared: None) -> Settings:
    """The hand-made New York store, ingested and built up to revenue_daily and funnel_hourly once."""
    folder = tmp_path_factory.mktemp("new_york_store")
    # C2 signed up at 23:00 EDT on 31 Mar, 03:00 UTC on 1 Apr.
    customers = [
        {"customer_id": "C1", "signup_at": "2024-03-02 15:00:00"},
        {"customer_id": "C2", "signup_at": "2024-04-01 03:00:00"},
    ]
    write_table(folder, "customers", customers)
    write_table(
        folder,
        "transactions",
        [transaction(tid, customer, created, amount=amount) for tid, customer, created, amount, _ in ORDERS],
    )
    write_table(
        folder,
        "funnel_events",
        [
            # A payment started at 23:30 EDT on 10 Mar (03:30 UTC on 11 Mar) and completed at 23:40 EDT.
            {
                "event_id": "E1",
                "session_id": "S1",
                "customer_id": "C1",
                "stage": "payment_initiated",
                "occurred_at": "2024-03-11 03:30:00",
            },
            {
                "event_id": "E2",
                "session_id": "S1",
                "customer_id": "C1",
                "stage": "payment_completed",
                "occurred_at": "2024-03-11 03:40:00",
            },
        ],
    )
    write_table(folder, "costs", [])
    write_table(folder, "marketing_spend", [])
    settings = isolated_settings(
        tmp_path_factory.mktemp("new_york_warehouse"),
        folder,
        schedule={"store_timezone": STORE_TIMEZONE, "partition_start": FIRST_DAY},
    )
    run_pipeline(settings, FIRST_DAY, LAST_DAY, selection=INGEST | MARTS)
    return settings


def test_an_order_lands_on_its_store_day_across_both_dst_changes_in_raw_and_staging(new_york_store):
    expected = [(tid, dt.datetime.fromisoformat(created), day) for tid, _, created, _, day in ORDERS]

    raw = query(new_york_store, "select transaction_id, created_at, _partition_date from raw.transactions")
    staged = query(new_york_store, "select transaction_id, created_at, order_date from staging.stg_transactions")

    assert sorted(raw) == sorted(expected), "the raw time stays UTC; the partition is the store day"
    assert sorted(staged) == sorted(expected), "staging's day is the partition's day"
    assert query(new_york_store, "select count(*) from raw.rejected_rows") == [(0,)]


def test_revenue_daily_counts_each_order_on_its_store_day(new_york_store):
    revenue = query(
        new_york_store,
        "select revenue_date, cast(net_revenue as double), orders from marts.revenue_daily "
        "where revenue_date between '2024-03-09' and '2024-03-11' or revenue_date >= '2024-11-02' order by 1",
    )

    assert revenue == [
        (dt.date(2024, 3, 9), 11.0, 1),  # SPRING_EVE
        (dt.date(2024, 3, 10), 30.0, 2),  # SPRING_MORNING 13 + SPRING_NIGHT 17
        (dt.date(2024, 3, 11), 0.0, 0),  # UTC's day of SPRING_NIGHT: nothing on the store's
        (dt.date(2024, 11, 2), 19.0, 1),  # FALL_EVE
        (dt.date(2024, 11, 3), 52.0, 2),  # FALL_REPEATED_HOUR 23 + FALL_NIGHT 29
    ], "the days end on the store's last order day, 3 Nov (UTC's would be 4 Nov)"


def test_months_and_cohorts_are_the_stores(new_york_store):
    monthly = query(
        new_york_store,
        "select revenue_month, cast(net_revenue as double) from marts.revenue_monthly "
        "where revenue_month in ('2024-03-01', '2024-04-01', '2024-11-01') order by 1",
    )
    cohorts = query(
        new_york_store, "select customer_id, first_order_date, cohort_month from intermediate.int_customer_orders"
    )
    signups = query(new_york_store, "select customer_id, signup_date from staging.stg_customers order by 1")

    assert monthly == [
        (dt.date(2024, 3, 1), 72.0),  # SPRING_EVE 11 + SPRING_MORNING 13 + SPRING_NIGHT 17 + MONTH_END 31
        (dt.date(2024, 4, 1), 0.0),  # UTC's month of MONTH_END: nothing in the store's
        (dt.date(2024, 11, 1), 71.0),  # FALL_EVE 19 + FALL_REPEATED_HOUR 23 + FALL_NIGHT 29
    ]
    assert sorted(cohorts) == [
        ("C1", dt.date(2024, 3, 9), dt.date(2024, 3, 1)),
        ("C2", dt.date(2024, 3, 31), dt.date(2024, 3, 1)),
    ]
    assert signups == [("C1", dt.date(2024, 3, 2)), ("C2", dt.date(2024, 3, 31))]


def test_funnel_days_and_hours_are_the_stores(new_york_store):
    events = query(new_york_store, "select event_id, event_date from staging.stg_funnel_events order by 1")
    hours = query(
        new_york_store, "select hour_of_day, initiated, completed from marts.funnel_hourly where initiated > 0"
    )

    assert events == [("E1", dt.date(2024, 3, 10)), ("E2", dt.date(2024, 3, 10))]
    assert hours == [(23, 1, 1)], "initiated at 23:30 EDT, 03:30 UTC"


def test_the_first_partition_of_the_sample_store_west_of_utc_is_the_evening_before_its_first_utc_day(tmp_path):
    # The sample store's times start after midnight UTC of its first day, which in New York is
    # 19:00 or 20:00 of the day before: that store day is the first partition.
    settings = Settings().updated(warehouse={"data_dir": tmp_path}, schedule={"store_timezone": STORE_TIMEZONE})
    first_utc_day = sample_store_first_day(settings.source_folder, sample_store_spec(settings))

    assert partition_start(settings) == first_utc_day - dt.timedelta(days=1)
    assert partition_start(settings.updated(schedule={"store_timezone": "Asia/Tokyo"})) == first_utc_day
