"""The stored hashes of a raw table's ids: ``raw._<table>_id_hashes``, one row per row of ``raw.<table>``
(DuckDB's 64-bit ``hash()`` of its id, and its day), kept by the loads in the same transaction as the table.

A load rejects the ids that the table already holds on the days it keeps. Comparing the day's ids
with every stored id read the whole id column (text) of the table each night; probing the stored
hashes reads a column of 64-bit numbers instead, and only the days where a hash matched are read
for the real ids, so a hash collision never rejects a good row.

The hashes mirror the table as long as only the loads write it. They are rebuilt first when their
row count differs from the table's (a warehouse from before the hashes, rows written by hand), or
when DuckDB's ``hash()`` has changed (another DuckDB version: the table's comment holds the hash of
a fixed text, :data:`FINGERPRINT`). ``hash()``, not a standard hash such as MD5, which would not
change with DuckDB: a full build hashes every id, and MD5 is several times slower
(docs/benchmarks.md).
"""

from __future__ import annotations

import datetime as dt

import duckdb

from pipelines.source_schema import SourceTable
from pipelines.warehouse.sql import literal, quote

FINGERPRINT = f"hash({literal('raw id hashes')})::varchar"
"""SQL: a value that changes with the hash function; stored as the hashes table's comment."""


def id_hashes_table(table: SourceTable) -> str:
    """The qualified name of the hashes of ``table``'s ids."""
    return f"raw.{quote(f'_{table.name}_id_hashes')}"


def id_hash_sql(id_value: str) -> str:
    """SQL: the stored hash of the id expression ``id_value``."""
    return f"hash({id_value})"


def sync_id_hashes(con: duckdb.DuckDBPyConnection, table: SourceTable) -> None:
    """Create or rebuild the hashes of ``raw.<table>`` unless they hold as many rows as the table and
    were made by this ``hash()``.

    A failed or interrupted rebuild leaves no comment or the old hashes, which the next load rebuilds.
    """
    hashes, loaded = id_hashes_table(table), f"raw.{quote(table.name)}"
    made_by_this_hash = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'raw' and table_name = ? "
        f"and comment = {FINGERPRINT}",
        [f"_{table.name}_id_hashes"],
    ).fetchone()[0]
    # count(*) of a whole table comes from its metadata: no scan.
    if (
        made_by_this_hash
        and con.execute(f"select (select count(*) from {loaded}) = count(*) from {hashes}").fetchone()[0]
    ):
        return
    con.execute(
        f"create or replace table {hashes} as "
        f"select {id_hash_sql(quote(table.id_column))} as id_hash, _partition_date from {loaded}"
    )
    fingerprint = con.execute(f"select {FINGERPRINT}").fetchone()[0]
    con.execute(f"comment on table {hashes} is {literal(fingerprint)}")


def days_holding_hashes(
    con: duckdb.DuckDBPyConnection, table: SourceTable, checked: str, elsewhere: str
) -> list[dt.date]:
    """The days, among those where ``elsewhere`` (a condition on ``_partition_date``) holds, of the stored
    rows whose id hash is the hash of a good row's id in ``checked``: where its duplicates can be."""
    id_column = quote(table.id_column)
    rows = con.execute(
        f"""select distinct _partition_date from {id_hashes_table(table)}
where {elsewhere}
  and id_hash in (select {id_hash_sql(id_column)} from {checked} where _reason is null)
order by 1"""
    ).fetchall()
    return [day for (day,) in rows]


def replace_id_hashes(con: duckdb.DuckDBPyConnection, table: SourceTable, on_days: str, loaded_rows: str) -> None:
    """Replace the hashes of the days ``on_days`` with those of ``loaded_rows`` (a query of the rows the
    load inserts, with the id column and ``_partition_date``), inside the load's transaction."""
    hashes = id_hashes_table(table)
    con.execute(f"delete from {hashes} where {on_days}")
    con.execute(
        f"insert into {hashes} select {id_hash_sql(quote(table.id_column))}, _partition_date from ({loaded_rows})"
    )
