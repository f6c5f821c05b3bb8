"""The ``raw`` schema of the warehouse and the idempotent load of a window of days into it.

Loading a window deletes the window's rows and inserts the window's good rows in one
transaction, so re-running a day replaces exactly that day, and a failure leaves the table as it
was. Rows that break the source schema go to ``raw.rejected_rows``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from pipelines.sources.schema import SourceTable
from pipelines.sources.validation import checked_rows_sql, literal, quote

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


@dataclass(frozen=True)
class LoadCounts:
    """What one load did to one raw table."""

    loaded: int
    rejected: int
    table_rows: int


def create_raw_table(con: duckdb.DuckDBPyConnection, table: SourceTable) -> None:
    """Create ``raw.<table>`` (the source columns plus load bookkeeping) and ``raw.rejected_rows``."""
    columns = ",\n    ".join(f"{quote(c.name)} {c.sql_type}" for c in table.columns)
    con.execute("create schema if not exists raw")
    con.execute(
        f"""create table if not exists raw.{quote(table.name)} (
    {columns},
    _partition_date date not null,
    _run_id varchar not null,
    _loaded_at timestamp not null
)"""
    )
    con.execute(REJECTED_ROWS_DDL)


def load_window(
    con: duckdb.DuckDBPyConnection,
    table: SourceTable,
    start: dt.date,
    end: dt.date,
    *,
    run_id: str,
    currency: str,
) -> LoadCounts:
    """Replace the days ``start <= day < end`` of ``raw.<table>`` with the good rows of ``_src``.

    Rows of the window that break a rule, and rows whose day cannot be read at all (they belong
    to no window, so every load reports them afresh), replace the table's earlier rejects.
    """
    create_raw_table(con, table)
    window = f"_partition_date >= {literal(start.isoformat())} and _partition_date < {literal(end.isoformat())}"
    columns = ", ".join(quote(c.name) for c in table.columns)
    name = quote(table.name)
    con.execute(f"create or replace temp table _checked as {checked_rows_sql(table, currency)}")
    con.execute("begin transaction")
    try:
        con.execute(f"delete from raw.{name} where {window}")
        loaded = con.execute(
            f"""insert into raw.{name}
select {columns}, _partition_date, {literal(run_id)}, current_timestamp
from _checked where _reason is null and {window}"""
        ).fetchone()[0]
        con.execute(
            f"delete from raw.rejected_rows where source_table = {literal(table.name)} "
            f"and (partition_date is null or ({window.replace('_partition_date', 'partition_date')}))"
        )
        rejected = con.execute(
            f"""insert into raw.rejected_rows
select {literal(table.name)}, _source_file, _row_number, _reason, _raw_values, _partition_date,
       {literal(run_id)}, current_timestamp
from _checked where _reason is not null and (_partition_date is null or ({window}))"""
        ).fetchone()[0]
        con.execute("commit")
    except duckdb.Error:
        con.execute("rollback")
        raise
    table_rows = con.execute(f"select count(*) from raw.{name}").fetchone()[0]
    con.execute("drop table _checked")
    return LoadCounts(loaded=loaded, rejected=rejected, table_rows=table_rows)
