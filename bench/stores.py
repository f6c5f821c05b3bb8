"""The benchmark's sample stores: generated once per size and cached, plus one extra day for the
nightly run.

Every store covers the same 730 days (the sample store's default history) and grows by
customers, so the per-day costs (one Dagster partition per table and day) are the same at every
size and the per-row costs are what changes.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import asdict
from pathlib import Path

import duckdb

from pipelines.sample_store.generator import SampleStoreSpec, generate_sample_store
from pipelines.source_schema import SOURCE_TABLES, SourceTable
from pipelines.warehouse.sql import quote

CACHE = Path(__file__).resolve().parent / ".cache"
END_DATE = dt.date(2025, 3, 31)
NEXT_DAY = END_DATE + dt.timedelta(days=1)
# About 10.3 transactions per customer over 730 days, so these give 0.1, 1 and 10 million
# transactions; "empty" is the fixed cost: the same days with almost no rows.
SIZES = {
    "empty": SampleStoreSpec(seed=42, days=730, customers=5, end_date=END_DATE),
    "100k": SampleStoreSpec(seed=42, days=730, customers=9_700, end_date=END_DATE),
    "1M": SampleStoreSpec(seed=42, days=730, customers=97_000, end_date=END_DATE),
    "10M": SampleStoreSpec(seed=42, days=730, customers=970_000, end_date=END_DATE),
}
NEXT_DAY_FILE = "zz-bench-next-day.parquet"


def cached_store(size: str) -> Path:
    """The store of ``size``, generated unless the cache holds one of the same spec; without the next day."""
    spec = SIZES[size]
    folder = CACHE / "stores" / size
    stamp = folder / "bench-spec.json"
    wanted = json.dumps(asdict(spec), default=str, sort_keys=True)
    if not (stamp.exists() and stamp.read_text() == wanted):
        shutil.rmtree(folder, ignore_errors=True)
        print(f"generating the {size} store into {folder} ...", flush=True)
        generate_sample_store(folder, spec, report=lambda line: print(line, flush=True))
        stamp.write_text(wanted)
    remove_next_day(folder)
    return folder


def add_next_day(store: Path) -> None:
    """Add a day after the store's last one: its last day's rows again, one day later, with new ids.

    Written as one more part file of each table, which the files source reads with the others.
    """
    with duckdb.connect() as con:
        for table in SOURCE_TABLES.values():
            columns = ", ".join(_next_day_value(table, column.name, column.sql_type) for column in table.columns)
            partition = quote(table.partition_column)
            con.execute(
                f"copy (select {columns} from read_parquet('{store / table.name}/*.parquet') "
                f"where cast({partition} as date) = date '{END_DATE}') "
                f"to '{store / table.name / NEXT_DAY_FILE}' (format parquet)"
            )


def remove_next_day(store: Path) -> None:
    """Take the extra day out again, so the cached store is the generated one."""
    for table in SOURCE_TABLES:
        (store / table / NEXT_DAY_FILE).unlink(missing_ok=True)


def _next_day_value(table: SourceTable, name: str, sql_type: str) -> str:
    """A column of the next day's copy of a row: times a day later, the row's own ids made new."""
    column = quote(name)
    if sql_type in ("TIMESTAMP", "DATE"):
        return f"cast({column} + interval 1 day as {sql_type}) as {column}"
    if name in (table.id_column, "session_id"):
        return f"{column} || '-next' as {column}"
    return column
