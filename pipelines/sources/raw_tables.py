"""The ``raw`` schema of the warehouse and the idempotent load of a set of days into it.

Loading a set of days (a run's window, plus for the SQL source the days its changed rows belong
to) deletes those days' rows and inserts their good rows in one transaction, so re-running a day
replaces exactly that day, and a failure leaves the table as it was. Rows that break the source
schema go to ``raw.rejected_rows``. The SQL source's watermark is recorded in the same
transaction, so it only advances with the rows it stands for, and so is the load's entry in
``raw.load_log`` (which days of which table it replaced): the incremental dbt models rebuild only
what the loads since their last build changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

from pipelines.source_schema import SOURCE_TABLES, SourceTable
from pipelines.sources.currency import converted_rows_sql, unconverted_rows_sql
from pipelines.sources.id_hashes import days_holding_hashes, replace_id_hashes, sync_id_hashes
from pipelines.sources.validation import RowRules, checked_rows_sql, duplicate_copies_sql, ids_loaded_elsewhere_sql
from pipelines.warehouse.sql import literal, quote, transaction
from pipelines.warehouse.store_calendar import ONE_DAY, day_ranges, on_days_sql

REJECTED_ROWS_DDL = """
create table if not exists raw.rejected_rows (
    source_table varchar not null,
    source_file varchar,
    row_number bigint,
    reason varchar not null,
    raw_values varchar,
    partition_date date,
    run_id varchar not null,
    rejected_at timestamp not null
)"""

WATERMARKS_DDL = """
create table if not exists raw._source_watermarks (
    source_table varchar not null,
    origin varchar not null,
    watermark timestamp not null,
    run_id varchar not null,
    recorded_at timestamp not null
)"""

# One row per day a load replaced; `load_id` numbers the loads in order (all days of a load share it).
# A day whose rows all went away is in the log too, which a look at the raw table alone would miss.
LOAD_LOG_DDL = """
create table if not exists raw.load_log (
    load_id bigint not null,
    source_table varchar not null,
    partition_date date not null,
    run_id varchar not null,
    loaded_at timestamp not null
)"""


@dataclass(frozen=True)
class LoadCounts:
    """What one load did to one raw table."""

    loaded: int
    rejected: int
    table_rows: int


@dataclass(frozen=True)
class Watermark:
    """The latest change of a source table that the warehouse holds (the SQL source's).

    ``origin`` says what it was read from (the shop's table and change column): a watermark of
    another origin says nothing about the current one.
    """

    source_table: str
    origin: str
    value: dt.datetime


@dataclass(frozen=True)
class LoadPlan:
    """What one load replaces: whole days of a raw table, and the watermark to record with them."""

    days: frozenset[dt.date]
    watermark: Watermark | None = None


def days_between(start: dt.date, end: dt.date) -> frozenset[dt.date]:
    """The days ``start <= day < end``."""
    return frozenset(start + dt.timedelta(days=offset) for offset in range((end - start).days))


def describe_days(days: Iterable[dt.date]) -> str:
    """``days`` for people, runs as ``first .. last`` (both included): ``2025-03-01 .. 2025-03-03, 2025-03-09``."""
    return ", ".join(
        first.isoformat() if end - first == ONE_DAY else f"{first} .. {end - ONE_DAY}"
        for first, end in day_ranges(days)
    )


def read_watermark(con: duckdb.DuckDBPyConnection, source_table: str, origin: str) -> dt.datetime | None:
    """The recorded watermark of ``source_table`` read from ``origin``, or None if there is none yet."""
    con.execute("create schema if not exists raw")
    con.execute(WATERMARKS_DDL)
    row = con.execute(
        "select watermark from raw._source_watermarks where source_table = ? and origin = ?", [source_table, origin]
    ).fetchone()
    return None if row is None else row[0]


def _record_watermark(con: duckdb.DuckDBPyConnection, watermark: Watermark, run_id: str) -> None:
    """Replace the table's watermark (called inside the load's transaction)."""
    con.execute(WATERMARKS_DDL)
    con.execute("delete from raw._source_watermarks where source_table = ?", [watermark.source_table])
    con.execute(
        "insert into raw._source_watermarks values (?, ?, ?, ?, current_timestamp)",
        [watermark.source_table, watermark.origin, watermark.value, run_id],
    )


def create_raw_table(con: duckdb.DuckDBPyConnection, table: SourceTable) -> None:
    """Create ``raw.<table>`` (the raw columns plus load bookkeeping) and ``raw.rejected_rows``.

    A table of an older warehouse gains the raw columns added since (empty in its old rows): loads
    insert by name, so the order of its columns does not matter.
    """
    columns = ",\n    ".join(f"{quote(c.name)} {c.sql_type}" for c in table.raw_columns)
    name = quote(table.name)
    con.execute("create schema if not exists raw")
    con.execute(
        f"""create table if not exists raw.{name} (
    {columns},
    _partition_date date not null,
    _run_id varchar not null,
    _loaded_at timestamp not null
)"""
    )
    for column in table.raw_columns:
        con.execute(f"alter table raw.{name} add column if not exists {quote(column.name)} {column.sql_type}")
    con.execute(REJECTED_ROWS_DDL)
    con.execute(LOAD_LOG_DDL)


def load_days(
    con: duckdb.DuckDBPyConnection, table: SourceTable, plan: LoadPlan, *, run_id: str, rules: RowRules
) -> LoadCounts:
    """Replace the days of ``plan`` in ``raw.<table>`` with the good rows of ``_src``; record its watermark.

    Rows of those days that break a rule, and rows that belong to no day (their day cannot be
    read, or lies outside ``rules``' calendar: every load reports them afresh), replace the table's
    earlier rejects. Rows of
    ``_src`` on other days are left out before they are checked (DuckDB pushes the day filter
    down to the scan: a nightly run checks one day's rows, not the whole history's), so a
    repeated id is judged among the rows of the days loaded, as with the SQL source.
    """
    create_raw_table(con, table)
    on_days = on_days_sql("_partition_date", plan.days)
    _refuse_another_currency(con, table, on_days, rules.currency)
    columns = ", ".join(quote(c.name) for c in table.raw_columns)
    name = quote(table.name)
    source_types = dict(con.execute("select column_name, column_type from (describe _src)").fetchall())
    con.execute("create or replace temp table _checked as " + checked_rows_sql(table, rules, source_types, plan.days))
    if table.foreign_currency == "convert":
        _convert_currencies(con, table, rules)
    if table.id_column is not None:
        sync_id_hashes(con, table)
    if table.key_columns:
        _reject_duplicates(con, table, on_days)
    loaded_rows = f"select * from _checked where _reason is null and {on_days}"
    with transaction(con):
        con.execute(f"delete from raw.{name} where {on_days}")
        loaded = con.execute(
            f"""insert into raw.{name} by name
select {columns}, _partition_date, {literal(run_id)} as _run_id, current_timestamp as _loaded_at
from ({loaded_rows})"""
        ).fetchone()[0]
        if table.id_column is not None:
            replace_id_hashes(con, table, on_days, loaded_rows)
        con.execute(
            f"delete from raw.rejected_rows where source_table = {literal(table.name)} "
            f"and (partition_date is null or {on_days_sql('partition_date', plan.days)})"
        )
        rejected = con.execute(
            f"""insert into raw.rejected_rows
select {literal(table.name)}, _source_file, _row_number, _reason, _raw_values, _partition_date,
       {literal(run_id)}, current_timestamp
from _checked where _reason is not null and (_partition_date is null or {on_days})"""
        ).fetchone()[0]
        if plan.watermark is not None:
            _record_watermark(con, plan.watermark, run_id)
        _log_load(con, table, plan.days, run_id)
    table_rows = con.execute(f"select count(*) from raw.{name}").fetchone()[0]
    con.execute("drop table _checked")
    return LoadCounts(loaded=loaded, rejected=rejected, table_rows=table_rows)


class CurrencyChanged(ValueError):
    """The raw table holds amounts in another currency than the reporting one on days a load keeps."""


def _refuse_another_currency(con: duckdb.DuckDBPyConnection, table: SourceTable, on_days: str, currency: str) -> None:
    """Stop a load that would leave ``raw.<table>`` with amounts in two currencies: its kept days (not
    ``on_days``) were converted to another reporting currency (``ANALYTICS_CURRENCY`` changed since), and
    every sum of the marts would add them up with the new ones. The exchange rates (``allow``) hold
    every currency by design."""
    if table.currency_column is None or table.foreign_currency == "allow":
        return
    column = quote(table.currency_column)
    kept = con.execute(
        f"""select {column}, min(_partition_date), max(_partition_date) from raw.{quote(table.name)}
where not {on_days} and {column} <> ? group by 1 order by 1 limit 1""",
        [currency],
    ).fetchone()
    if kept is not None:
        held, first, last = kept
        raise CurrencyChanged(
            f"raw.{table.name} holds amounts in {held} on {first} .. {last}, days this run keeps, but "
            f"ANALYTICS_CURRENCY is {currency}: set it back to {held}, or rebuild every day in {currency} "
            "(`make run`, or `python -m pipelines.cli.run` without --day)"
        )


def _log_load(con: duckdb.DuckDBPyConnection, table: SourceTable, days: Iterable[dt.date], run_id: str) -> None:
    """Record the days this load replaced under the next load id (inside the load's transaction)."""
    con.execute(
        f"""insert into raw.load_log
select (select coalesce(max(load_id), 0) + 1 from raw.load_log), {literal(table.name)}, day, {literal(run_id)},
       current_timestamp
from unnest(?::date[]) as days(day)""",
        [sorted(days)],
    )


def _convert_currencies(con: duckdb.DuckDBPyConnection, table: SourceTable, rules: RowRules) -> None:
    """Convert the good rows of ``_checked`` to the reporting currency with ``raw.exchange_rates`` (loaded
    before, by its own asset; empty for a store of one currency), and reject those without a rate."""
    create_raw_table(con, SOURCE_TABLES["exchange_rates"])
    con.execute(f"create or replace temp table _converted as {converted_rows_sql('_checked', rules)}")
    con.execute("drop table _checked")
    con.execute("alter table _converted rename to _checked")
    _mark_rejected(con, unconverted_rows_sql(table, "_checked"))


def _reject_duplicates(con: duckdb.DuckDBPyConnection, table: SourceTable, on_days: str) -> None:
    """Mark as duplicates the good rows of ``_checked`` that a later copy of the same key replaces, and
    those whose id a row of ``raw.<table>`` on a day this load keeps (not ``on_days``) already holds:
    the loaded row stays. The table's ids are then unique across all its days, not only within a
    load's, and the dbt test of a nightly run can look at the loaded days alone. (A key without an
    id holds the partition day, so its copies are always among the days loaded.) Only the kept days
    where a stored id hash matches (:mod:`pipelines.sources.id_hashes`) are searched for the ids."""
    _mark_rejected(con, duplicate_copies_sql(table, "_checked"))
    if table.id_column is None:
        return
    days = days_holding_hashes(con, table, "_checked", f"not {on_days}")
    if days:
        loaded = f"raw.{quote(table.name)}"
        _mark_rejected(con, ids_loaded_elsewhere_sql(table, "_checked", loaded, on_days_sql("_partition_date", days)))


def _mark_rejected(con: duckdb.DuckDBPyConnection, rejects_sql: str) -> None:
    """Give the rows of ``_checked`` that ``rejects_sql`` selects (by file and row) its reason, file and raw values."""
    con.execute(f"create or replace temp table _rejects as {rejects_sql}")
    con.execute(
        """update _checked
set _reason = r._reason, _source_file = r._source_file, _raw_values = r._raw_values
from _rejects as r
where _checked._file_index = r._file_index and _checked._row_number = r._row_number"""
    )
    con.execute("drop table _rejects")
