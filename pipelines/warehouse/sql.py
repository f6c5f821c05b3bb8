"""SQL helpers of the warehouse: quoting, transactions and replacing a table with a DataFrame's rows."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import duckdb
import pandas as pd
import pyarrow as pa


def quote(identifier: str) -> str:
    """Quote a SQL identifier (all identifiers come from the source schema or the code, never from input)."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def qualified(name: str, catalog: str | None = None) -> str:
    """``"catalog"."schema"."table"`` of a ``schema.table`` name."""
    parts = ([catalog] if catalog else []) + name.split(".")
    return ".".join(quote(part) for part in parts)


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Everything written inside commits together, or not at all."""
    con.execute("begin transaction")
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def replace_table(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> int:
    """Replace the table ``schema.table`` with the rows of ``frame`` (creating the schema if needed);
    returns the row count."""
    schema, _ = name.split(".")
    con.execute(f"create schema if not exists {quote(schema)}")
    # Through an Arrow table: DuckDB's scan of a frame's string columns is slower than pyarrow's
    # conversion (docs/benchmarks.md, "Figures behind the code's comments").
    con.register("_replacement_frame", pa.Table.from_pandas(frame, preserve_index=False))
    try:
        con.execute(f"create or replace table {qualified(name)} as select * from _replacement_frame")
    finally:
        con.unregister("_replacement_frame")
    return len(frame)


@dataclass(frozen=True)
class RelationShape:
    """A table's or view's columns (name and type, in order) and, for a table, its row count."""

    columns: tuple[tuple[str, str], ...]
    row_count: int | None
    """None for a view: counting it would run its whole query."""


def relation_shapes(con: duckdb.DuckDBPyConnection, schemas: Sequence[str]) -> dict[str, RelationShape]:
    """The shape of every table and view of ``schemas`` in the connection's database, by ``schema.name``."""
    columns: dict[str, list[tuple[str, str]]] = {}
    for name, column, data_type in con.execute(
        """select table_schema || '.' || table_name, column_name, data_type
        from information_schema.columns
        where list_contains(?, table_schema) and table_catalog = current_database()
        order by table_schema, table_name, ordinal_position""",
        [list(schemas)],
    ).fetchall():
        columns.setdefault(name, []).append((column, data_type))
    tables = {
        name
        for (name,) in con.execute(
            """select schema_name || '.' || table_name from duckdb_tables()
            where list_contains(?, schema_name) and database_name = current_database()""",
            [list(schemas)],
        ).fetchall()
    }
    return {
        name: RelationShape(
            columns=tuple(shape),
            row_count=con.execute(f"select count(*) from {qualified(name)}").fetchone()[0] if name in tables else None,
        )
        for name, shape in columns.items()
    }
