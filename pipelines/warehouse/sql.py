"""SQL helpers of the warehouse: quoting, transactions and replacing a table with a DataFrame's rows."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import duckdb
import pandas as pd


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
    con.register("_replacement_frame", frame)
    try:
        con.execute(f"create or replace table {qualified(name)} as select * from _replacement_frame")
    finally:
        con.unregister("_replacement_frame")
    return len(frame)
