"""The files source: the source tables as CSV or Parquet files in a folder.

A table is either one file (``transactions.parquet``, ``transactions.csv``) or a folder of part
files (``transactions/part-00000.parquet``), which is how the sample store writes large tables.
DuckDB reads them directly; CSV is read as text so that a bad value reaches validation as the
text it was, instead of failing the whole read.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.source_schema import SourceTable
from pipelines.warehouse.sql import literal, quote

FORMATS = ("parquet", "csv")


class SourceError(RuntimeError):
    """The source cannot be read as the source schema describes it."""


def find_table_files(folder: Path, table: SourceTable) -> tuple[str, list[Path]]:
    """The format and the files holding ``table`` in ``folder``."""
    if not folder.is_dir():
        raise SourceError(
            f"source folder {folder} does not exist: run `make run` to generate the sample store, "
            "or set ANALYTICS_SOURCE_DIR to a folder of source files (see docs/source-schema.md)"
        )
    for file_format in FORMATS:
        single = folder / f"{table.name}.{file_format}"
        parts = sorted((folder / table.name).glob(f"*.{file_format}"))
        if single.is_file():
            return file_format, [single, *parts]
        if parts:
            return file_format, parts
    raise SourceError(
        f"source table {table.name!r} not found in {folder}: expected {table.name}.parquet, "
        f"{table.name}.csv or a folder {table.name}/ of such files"
    )


def _reader(file_format: str, files: list[Path]) -> str:
    paths = "[" + ", ".join(literal(str(path)) for path in files) + "]"
    if file_format == "csv":
        return f"read_csv({paths}, all_varchar = true, header = true, filename = '_source_file', union_by_name = true)"
    return f"read_parquet({paths}, filename = '_source_file', file_row_number = true, union_by_name = true)"


def _row_number(file_format: str) -> str:
    # Parquet gives the row's position in its file; a CSV scan keeps file order, so numbering
    # the rows of each file in scan order gives the data row number (header not counted).
    if file_format == "csv":
        return "row_number() over (partition by _source_file)"
    return "file_row_number + 1"


def register_source_rows(con: duckdb.DuckDBPyConnection, folder: Path, table: SourceTable) -> None:
    """Create the temporary view ``_src``: the table's columns, ``_source_file`` and ``_row_number``.

    Optional columns missing from the files are read as NULL; a missing required column fails
    with the file and the column named.
    """
    file_format, files = find_table_files(folder, table)
    reader = _reader(file_format, files)
    present = {row[0] for row in con.execute(f"describe select * from {reader}").fetchall()}
    missing = [c.name for c in table.columns if c.required and c.name not in present]
    if missing:
        raise SourceError(
            f"source table {table.name!r} ({', '.join(str(f) for f in files[:3])}) lacks required column(s) "
            f"{', '.join(missing)}; see docs/source-schema.md"
        )
    columns = ",\n    ".join(
        quote(c.name) if c.name in present else f"cast(null as varchar) as {quote(c.name)}" for c in table.columns
    )
    con.execute(
        f"""create or replace temp view _src as
select
    {columns},
    _source_file,
    {_row_number(file_format)} as _row_number
from {reader}"""
    )
