"""Adversarial input from the files source: every bad row is either loaded correctly or in
``raw.rejected_rows`` with a reason and its 1-based data row of the file, and every good row of the
same file is in ``raw`` on its right day (docs/reliability.md, "Bad input from the source")."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import duckdb
import pytest
from dagster import AssetSelection

from pipelines.cli.run import partition_range, source_day_range
from pipelines.settings import Settings
from pipelines.source_schema import SOURCE_TABLES
from pipelines.sources.files import SourceError
from tests.support.csv_store import GOOD_TRANSACTIONS, transaction, write_store
from tests.support.pipeline_runs import DBT_MODELS, INGEST, query, run_pipeline

pytestmark = pytest.mark.adversarial

JAN_1, JAN_2 = dt.date(2025, 1, 1), dt.date(2025, 1, 2)
TRANSACTIONS = AssetSelection.assets(["raw", "transactions"])
GOOD_IDS = [("T1",), ("T2",), ("T3",)]


def load_transactions(settings: Settings, first: dt.date = JAN_1, last: dt.date = JAN_2) -> None:
    run_pipeline(settings, first, last, selection=TRANSACTIONS)


def rejected(settings: Settings) -> list[tuple[int, str]]:
    """(data row, reason) of every rejected transaction, in file order."""
    return query(
        settings,
        "select row_number, reason from raw.rejected_rows where source_table = 'transactions' order by row_number",
    )


def loaded(settings: Settings) -> list[tuple]:
    return query(settings, "select transaction_id from raw.transactions order by 1")


def csv_text(rows: list[dict[str, str]]) -> str:
    """``rows`` as the text of a transactions CSV file with its header."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=SOURCE_TABLES["transactions"].column_names, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def test_times_with_a_utc_offset_land_on_their_utc_day(tmp_path, make_settings):
    # 23:30 at UTC-3 is 02:30 UTC the next day; 23:30Z is that day; 01:00 at UTC+2 is 23:00 UTC the day before.
    rows = [
        transaction("A", "C1", "2025-01-01 23:30:00-03:00"),
        transaction("B", "C1", "2025-01-01T23:30:00Z"),
        transaction("C", "C1", "2025-01-02 01:00:00+02:00"),
    ]
    settings = make_settings(write_store(tmp_path / "store", transactions=[*GOOD_TRANSACTIONS, *rows]))

    load_transactions(settings, dt.date(2024, 12, 31), JAN_2)

    assert query(
        settings,
        "select transaction_id, created_at, _partition_date from raw.transactions "
        "where transaction_id < 'T' order by 1",
    ) == [
        ("A", dt.datetime(2025, 1, 2, 2, 30), JAN_2),
        ("B", dt.datetime(2025, 1, 1, 23, 30), JAN_1),
        ("C", dt.datetime(2025, 1, 1, 23, 0), JAN_1),
    ]
    assert rejected(settings) == []


def test_offsets_are_rejected_when_the_setting_asks_for_naive_utc(tmp_path, make_settings):
    naive = {"completed_at": "2025-01-01 10:00:00", "updated_at": "2025-01-01 10:00:00"}
    rows = [
        {**transaction("A", "C1", "2025-01-01 23:30:00-03:00"), **naive},
        {**transaction("B", "C1", "2025-01-01T10:00:00Z"), **naive},
    ]
    store = write_store(tmp_path / "store", transactions=[*GOOD_TRANSACTIONS, *rows])
    settings = make_settings(store, source={"timestamp_offsets": "reject"})

    load_transactions(settings)

    reason = "UTC offset in created_at (ANALYTICS_SOURCE_TIMESTAMP_OFFSETS=reject)"
    assert rejected(settings) == [(4, reason), (5, reason)]
    assert loaded(settings) == GOOD_IDS


def test_a_row_in_the_future_is_rejected_saying_so_and_its_neighbours_load(tmp_path, make_settings):
    tomorrow = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=2)
    future = transaction("F1", "C1", tomorrow.strftime("%Y-%m-%d %H:%M:%S"))
    settings = make_settings(write_store(tmp_path / "store", transactions=[*GOOD_TRANSACTIONS, future]))

    load_transactions(settings)
    load_transactions(settings, JAN_2, JAN_2)

    assert rejected(settings) == [
        (4, "created_at in the future (after the run's clock + ANALYTICS_SOURCE_FUTURE_TOLERANCE_HOURS)")
    ], "reported once, by every load"
    assert loaded(settings) == GOOD_IDS


def test_a_row_before_the_partition_start_is_rejected_in_a_full_build_and_in_a_nightly_run(tmp_path, make_settings):
    early = transaction("E1", "C1", "2024-12-30 12:00:00")
    store = write_store(tmp_path / "store", transactions=[early, *GOOD_TRANSACTIONS])
    settings = make_settings(store, schedule={"partition_start": JAN_1})

    first, last = partition_range(settings, *source_day_range(settings))
    assert (first, last) == ("2025-01-01", "2025-01-02"), "the full build starts at the partitions' first day"
    run_pipeline(settings, JAN_1, JAN_2, selection=INGEST)
    expected = [(1, "created_at before ANALYTICS_PARTITION_START 2025-01-01")]
    assert rejected(settings) == expected
    load_transactions(settings, JAN_2, JAN_2)

    assert rejected(settings) == expected, "a nightly run reports it too"
    assert loaded(settings) == GOOD_IDS


def test_an_unparseable_time_does_not_stop_the_full_build_and_is_quarantined(tmp_path, make_settings):
    bad = {**transaction("U1", "C1", "2025-01-01 10:00:00"), "created_at": "yesterday-ish"}
    settings = make_settings(write_store(tmp_path / "store", transactions=[*GOOD_TRANSACTIONS, bad]))

    assert source_day_range(settings) == (JAN_1, JAN_2)
    load_transactions(settings)

    assert rejected(settings) == [(4, "unparseable created_at")]
    assert loaded(settings) == GOOD_IDS


def test_rows_with_too_many_or_too_few_fields_are_rejected_by_their_file_row(tmp_path, make_settings):
    store = write_store(tmp_path / "store")
    text = csv_text(GOOD_TRANSACTIONS[:1])
    text += "R1,C1,2025-01-01 12:00:00\n"  # data row 2: too few fields
    text += csv_text([transaction("T2", "C2", "2025-01-01 13:00:00")]).splitlines()[1] + ",surplus\n"  # row 3
    text += csv_text(GOOD_TRANSACTIONS[1:]).split("\n", 1)[1]  # rows 4 and 5
    (store / "transactions.csv").write_text(text)
    settings = make_settings(store)

    load_transactions(settings)

    reasons = rejected(settings)
    assert [number for number, _ in reasons] == [2, 3]
    assert reasons[0][1].startswith("too few fields in the CSV row")
    assert reasons[1][1].startswith("too many fields in the CSV row")
    (line,) = query(settings, "select raw_values from raw.rejected_rows where row_number = 2")[0]
    assert json.loads(line) == {"line": "R1,C1,2025-01-01 12:00:00"}
    assert loaded(settings) == GOOD_IDS
    assert query(settings, "select transaction_id, _partition_date from raw.transactions order by 1") == [
        ("T1", JAN_1),
        ("T2", JAN_1),
        ("T3", JAN_2),
    ]


def latin1_store(folder: Path) -> Path:
    """A store whose transactions file is Latin-1: one product name with an é (data row 2)."""
    store = write_store(folder)
    rows = [GOOD_TRANSACTIONS[0], {**GOOD_TRANSACTIONS[1], "product": "café"}, GOOD_TRANSACTIONS[2]]
    (store / "transactions.csv").write_bytes(csv_text(rows).encode("latin-1"))
    return store


def test_a_latin1_file_read_as_utf8_rejects_only_its_bad_rows(tmp_path, make_settings):
    settings = make_settings(latin1_store(tmp_path / "store"))

    load_transactions(settings)

    assert rejected(settings) == [(2, "not valid utf-8 text (see ANALYTICS_SOURCE_ENCODING)")]
    assert loaded(settings) == [("T1",), ("T3",)]


def test_the_encoding_setting_reads_a_latin1_file_whole(tmp_path, make_settings):
    settings = make_settings(latin1_store(tmp_path / "store"), source={"encoding": "latin-1"})

    load_transactions(settings)

    assert rejected(settings) == []
    assert query(settings, "select product from raw.transactions where transaction_id = 'T2'") == [("café",)]


def test_an_implausible_amount_and_one_beyond_the_column_are_out_of_range(tmp_path, make_settings):
    rows = [
        transaction("X1", "C1", "2025-01-01 14:00:00", amount="1e15"),
        transaction("X2", "C1", "2025-01-01 14:00:00", amount="123456789012345678901"),
    ]
    settings = make_settings(write_store(tmp_path / "store", transactions=[*GOOD_TRANSACTIONS, *rows]))

    load_transactions(settings)

    reason = "amount out of range (above ANALYTICS_SOURCE_MAX_AMOUNT=1e+06)"
    assert rejected(settings) == [(4, reason), (5, reason)]
    assert loaded(settings) == GOOD_IDS


def test_the_amount_bound_is_a_setting(tmp_path, make_settings):
    big = transaction("X1", "C1", "2025-01-01 14:00:00", amount="2500000.00")
    store = write_store(tmp_path / "store", transactions=[*GOOD_TRANSACTIONS, big])
    settings = make_settings(store, source={"max_amount": 5_000_000.0})

    load_transactions(settings)

    assert rejected(settings) == []
    assert query(settings, "select amount from raw.transactions where transaction_id = 'X1'") == [(2_500_000.0,)]


def test_an_order_of_an_unknown_customer_is_kept_counted_and_its_customer_flagged(tmp_path, make_settings):
    guest = transaction("G1", "GUEST-9", "2025-01-02 15:00:00", amount="40.00")
    settings = make_settings(write_store(tmp_path / "store", transactions=[*GOOD_TRANSACTIONS, guest]))

    result = run_pipeline(settings, JAN_1, JAN_2, selection=INGEST | DBT_MODELS)

    assert result.success
    # Day 2: T3 is refunded (no net revenue), so the guest's 40.00 is all of it.
    assert query(settings, "select net_revenue from marts.revenue_daily where revenue_date = '2025-01-02'") == [(40.0,)]
    assert query(
        settings, "select customer_id, is_known_customer, signup_at from staging.stg_customers order by 1"
    ) == [
        ("C1", True, dt.datetime(2025, 1, 1, 9)),
        ("C2", True, dt.datetime(2025, 1, 1, 10)),
        ("C3", True, dt.datetime(2025, 1, 2, 11)),
        ("GUEST-9", False, dt.datetime(2025, 1, 2, 15)),
    ]


def big_csv_rows(count: int) -> list[dict[str, str]]:
    """``count`` good orders over two days, ids numbered by their data row."""
    return [
        transaction(f"N{row}", "C1", f"2025-01-0{1 + row % 2} {row % 24:02d}:{row % 60:02d}:00", amount="1.00")
        for row in range(1, count + 1)
    ]


def test_csv_row_numbers_are_the_files_data_rows_on_every_reading(tmp_path, make_settings):
    rows = big_csv_rows(42_000)
    # Bad rows scattered through the file, so that a parallel read splits the file between them.
    bad_rows = {3: "-1.00", 17_001: "ten", 41_999: "-2.00"}
    for row, amount in bad_rows.items():
        rows[row - 1] = {**rows[row - 1], "amount": amount}
    store = write_store(tmp_path / "store")
    text = csv_text(rows).splitlines()
    # text[0] is the header: an unreadable line becomes data row 25,000, and the rows after it move
    # down one (the bad amount of row 41,999 is now data row 42,000).
    text.insert(25_000, "too,few")
    (store / "transactions.csv").write_text("\n".join(text) + "\n")
    settings = make_settings(store)
    expected = [
        (3, "negative amount"),
        (17_001, "non-numeric amount"),
        (25_000, "too few"),
        (42_000, "negative amount"),
    ]

    for _ in range(5):
        load_transactions(settings)
        reasons = rejected(settings)
        assert [
            (number, reason[: len(expected_reason)])
            for (number, reason), (_, expected_reason) in zip(reasons, expected, strict=True)
        ] == expected
        assert query(settings, "select count(*) from raw.transactions") == [(42_000 - 3,)]


def test_the_last_copy_in_the_file_wins_among_duplicates_without_a_version(tmp_path, make_settings):
    rows = big_csv_rows(30_000)
    for row in rows:
        row["updated_at"] = ""
    rows[9] = {**rows[9], "transaction_id": "DUP", "amount": "1.00"}
    rows[29_000] = {**rows[29_000], "transaction_id": "DUP", "amount": "2.00"}
    store = write_store(tmp_path / "store")
    (store / "transactions.csv").write_text(csv_text(rows))
    settings = make_settings(store)

    for _ in range(5):
        load_transactions(settings)
        assert query(settings, "select amount from raw.transactions where transaction_id = 'DUP'") == [(2.0,)]
        assert rejected(settings) == [(10, "duplicate transaction_id")]


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_the_copy_in_the_later_file_wins_among_duplicates_without_a_version(tmp_path, make_settings, file_format):
    # The replaced copy is further down its file than the one that wins: files decide before rows.
    # The Parquet files have a column of their own named as DuckDB's file_index, which must not
    # decide which file a row is from.
    first_part = [transaction(f"A{row}", "C1", "2025-01-01 10:00:00") for row in range(1, 3)]
    first_part.append({**transaction("DUP", "C1", "2025-01-01 12:00:00", amount="1.00"), "updated_at": ""})
    second_part = [{**transaction("DUP", "C1", "2025-01-01 11:00:00", amount="2.00"), "updated_at": ""}]
    store = write_store(tmp_path / "store")
    (store / "transactions.csv").unlink()
    parts = store / "transactions"
    parts.mkdir()
    for number, rows in enumerate([first_part, second_part]):
        (parts / f"part-{number:05d}.csv").write_text(csv_text(rows))
        if file_format == "parquet":
            query_to_parquet(parts / f"part-{number:05d}.csv", parts / f"part-{number:05d}.parquet", "7 as file_index")
            (parts / f"part-{number:05d}.csv").unlink()
    settings = make_settings(store)

    load_transactions(settings)

    assert query(settings, "select amount from raw.transactions where transaction_id = 'DUP'") == [(2.0,)]
    assert query(
        settings, "select source_file, row_number, reason from raw.rejected_rows where source_table = 'transactions'"
    ) == [(str(parts / f"part-00000.{file_format}"), 3, "duplicate transaction_id")]


def test_parquet_and_csv_number_rows_alike(tmp_path, make_settings):
    rows = [*GOOD_TRANSACTIONS, transaction("B1", "C1", "2025-01-01 14:00:00", amount="-1.00")]
    store = write_store(tmp_path / "store", transactions=rows)
    settings = make_settings(store)
    load_transactions(settings)
    from_csv = rejected(settings)
    parquet_store = tmp_path / "parquet"
    write_store(parquet_store, transactions=rows)
    (parquet_store / "transactions.csv").unlink()
    query_to_parquet(store / "transactions.csv", parquet_store / "transactions.parquet")
    parquet_settings = make_settings(parquet_store).updated(
        warehouse={"data_dir": tmp_path / "pq", "warehouse_path": tmp_path / "pq" / "warehouse.duckdb"}
    )

    load_transactions(parquet_settings)

    assert rejected(parquet_settings) == from_csv == [(4, "negative amount")]


def query_to_parquet(csv_file: Path, parquet_file: Path, *extra_columns: str) -> None:
    """``csv_file`` as Parquet, its columns as text, with the SQL ``extra_columns`` after them."""
    columns = ", ".join(["*", *extra_columns])
    with duckdb.connect() as con:
        con.execute(f"copy (select {columns} from read_csv('{csv_file}', all_varchar = true)) to '{parquet_file}'")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"source file .*costs\.csv is empty \(0 bytes\)"),
        (b"cost_date,category,currency\n2025-01-01,other,USD\n", r"'costs'.*costs\.csv.*lacks required column.*amount"),
        (b"\x00\x01\x02 not a csv", r"costs\.csv"),
    ],
    ids=["empty", "missing-column", "not-csv"],
)
def test_a_file_that_is_no_table_fails_its_step_naming_the_file(tmp_path, make_settings, content, message):
    store = write_store(tmp_path / "store")
    (store / "costs.csv").write_bytes(content)
    settings = make_settings(store)

    with pytest.raises(SourceError, match=message):
        run_pipeline(settings, JAN_1, JAN_1, selection=AssetSelection.assets(["raw", "costs"]))
