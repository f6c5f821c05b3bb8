"""Ingestion: validation and quarantine of bad rows, idempotent reloads of days."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from dagster import AssetSelection

from pipelines.cli.run import source_day_range
from pipelines.sources.files import SourceError
from tests.support.csv_store import CUSTOMERS, GOOD_TRANSACTIONS, transaction, write_store, write_table
from tests.support.pipeline_runs import INGEST, SAMPLE_FIRST_DAY, query, run_pipeline

JAN_1, JAN_2 = dt.date(2025, 1, 1), dt.date(2025, 1, 2)

# One planted row per rule, each breaking only that rule, after the three good rows (CSV data
# rows 1-3), so the bad rows are data rows 4-9 in this order.
PLANTED = [
    (transaction("", "C1", "2025-01-01 14:00:00"), "missing transaction_id"),
    (transaction("B2", "C1", "2025-01-01 14:00:00", amount="-5.00"), "negative amount"),
    (transaction("B3", "C1", "2025-01-01 14:00:00", amount="ten"), "non-numeric amount"),
    (transaction("B4", "C1", "2025-01-01 14:00:00", status="shipped"), "unknown status"),
    ({**transaction("B5", "C1", "2025-01-01 14:00:00"), "created_at": "2025-01-0x 14:00"}, "unparseable created_at"),
    (
        transaction("B6", "C1", "2025-01-02 14:00:00", currency="EUR"),
        "no EUR exchange rate on 2025-01-02 or up to 7 days before (ANALYTICS_EXCHANGE_RATE_MAX_AGE_DAYS=7)",
    ),
]


def test_bad_rows_are_quarantined_with_their_reason_and_good_rows_load(tmp_path, make_settings):
    store = write_store(tmp_path / "store", transactions=GOOD_TRANSACTIONS + [row for row, _ in PLANTED])
    settings = make_settings(store)

    result = run_pipeline(settings, JAN_1, JAN_2, selection=INGEST)

    loaded = query(settings, "select transaction_id, amount from raw.transactions order by 1")
    assert loaded == [("T1", 10.00), ("T2", 25.50), ("T3", 7.25)]
    rejected = query(
        settings,
        "select row_number, reason, raw_values, run_id, source_file from raw.rejected_rows "
        "where source_table = 'transactions' order by row_number",
    )
    assert [(number, reason) for number, reason, *_ in rejected] == [
        (4 + index, reason) for index, (_, reason) in enumerate(PLANTED)
    ]
    assert json.loads(rejected[2][2])["amount"] == "ten"
    assert {run_id for *_, run_id, _ in rejected} == {result.run_id}
    assert all(path.endswith("transactions.csv") for *_, path in rejected)
    metadata = result.asset_materializations_for_node("raw__transactions")[0].metadata
    assert metadata["rows_loaded"].value == 3
    assert metadata["rows_rejected"].value == len(PLANTED)


def test_a_repeated_id_keeps_its_latest_version_and_rejects_the_others(tmp_path, make_settings):
    # T1 exported three times: completed, refunded later (the latest update), and once more broken.
    refunded = {**transaction("T1", "C1", "2025-01-01 12:00:00", status="refunded"), "updated_at": "2025-01-05 09:00"}
    broken = transaction("T1", "C1", "2025-01-01 12:00:00", amount="-1.00")
    store = write_store(tmp_path / "store", transactions=[*GOOD_TRANSACTIONS, refunded, broken])
    settings = make_settings(store)

    run_pipeline(settings, JAN_1, JAN_2, selection=INGEST)

    assert query(settings, "select status from raw.transactions where transaction_id = 'T1'") == [("refunded",)]
    rejected = query(settings, "select row_number, reason, raw_values from raw.rejected_rows order by row_number")
    assert [(number, reason) for number, reason, _ in rejected] == [
        (1, "duplicate transaction_id"),
        (5, "negative amount"),
    ]
    # Rejected rows keep their values as read, good or bad.
    assert json.loads(rejected[0][2])["status"] == "completed"
    assert json.loads(rejected[1][2])["amount"] == "-1.00"
    assert query(settings, "select count(*) from raw.transactions") == [(3,)]


def test_an_id_already_loaded_on_a_kept_day_is_rejected_naming_that_day(tmp_path, make_settings):
    store = write_store(tmp_path / "store")
    settings = make_settings(store)
    run_pipeline(settings, JAN_1, JAN_2, selection=INGEST)
    # Day 2 now also holds an order with day 1's id T1: reloading day 2 alone keeps day 1's T1.
    repeated = transaction("T1", "C3", "2025-01-02 15:00:00", amount="99.00")
    write_table(store, "transactions", [*GOOD_TRANSACTIONS, repeated])

    run_pipeline(settings, JAN_2, JAN_2, selection=INGEST)

    assert query(settings, "select transaction_id, amount, _partition_date from raw.transactions order by 1") == [
        ("T1", 10.0, JAN_1),
        ("T2", 25.5, JAN_1),
        ("T3", 7.25, JAN_2),
    ]
    ((source_file, row_number, reason, raw_values),) = query(
        settings, "select source_file, row_number, reason, raw_values from raw.rejected_rows"
    )
    assert (source_file, row_number, reason) == (
        str(store / "transactions.csv"),
        4,
        "duplicate transaction_id of a row loaded on 2025-01-01",
    )
    assert json.loads(raw_values)["amount"] == "99.00"


def test_reloading_a_day_replaces_exactly_that_day(tmp_path, make_settings):
    store = write_store(tmp_path / "store")
    settings = make_settings(store)
    run_pipeline(settings, JAN_1, JAN_2, selection=INGEST)
    # The shop refunds T2 and adds T4 on day 1; reloading only day 1 must pick both up and leave
    # day 2 (T3) untouched.
    changed = [
        transaction("T2", "C2", "2025-01-01 13:00:00", status="refunded", amount="25.50"),
        transaction("T4", "C3", "2025-01-01 18:00:00", amount="4.00"),
    ]
    write_table(store, "transactions", [GOOD_TRANSACTIONS[0], *changed, GOOD_TRANSACTIONS[2]])

    run_pipeline(settings, JAN_1, JAN_1, selection=INGEST)
    run_pipeline(settings, JAN_1, JAN_1, selection=INGEST)

    assert query(settings, "select transaction_id, status, _partition_date from raw.transactions order by 1") == [
        ("T1", "completed", JAN_1),
        ("T2", "refunded", JAN_1),
        ("T3", "refunded", JAN_2),
        ("T4", "completed", JAN_1),
    ]


def test_rematerializing_a_sample_partition_twice_leaves_identical_counts(sample_store, make_settings):
    settings = make_settings(sample_store)
    day = SAMPLE_FIRST_DAY + dt.timedelta(days=30)
    tables = ("customers", "transactions", "funnel_events", "costs", "marketing_spend")
    count_sql = (
        " union all ".join(f"select '{t}', _partition_date, count(*) from raw.{t} group by 2" for t in tables)
        + " order by 1, 2"
    )

    run_pipeline(settings, SAMPLE_FIRST_DAY, day + dt.timedelta(days=2), selection=INGEST)
    before = query(settings, count_sql)
    run_pipeline(settings, day, day, selection=INGEST)
    run_pipeline(settings, day, day, selection=INGEST)

    assert query(settings, count_sql) == before
    assert any(partition == day and rows > 0 for table, partition, rows in before if table == "transactions")


def test_a_missing_source_folder_says_how_to_create_it(tmp_path, make_settings):
    settings = make_settings(tmp_path / "nowhere")

    with pytest.raises(SourceError, match="nowhere does not exist"):
        run_pipeline(settings, JAN_1, JAN_1, selection=AssetSelection.assets(["raw", "costs"]))


def test_the_run_covers_every_table_not_only_transactions(tmp_path, make_settings):
    # A customer who signed up the day before the first order must be loaded, or the marts'
    # relationship tests find orders of customers that are not there.
    early = {"customer_id": "C0", "signup_at": "2024-12-31 18:00:00", "acquisition_channel": "organic", "country": "US"}
    store = write_store(tmp_path / "store", customers=[early, *CUSTOMERS])

    assert source_day_range(make_settings(store)) == (dt.date(2024, 12, 31), JAN_2)
