"""The files source: the source tables as CSV or Parquet files in a folder.

A table is either one file (``transactions.parquet``, ``transactions.csv``) or a folder of part
files (``transactions/part-00000.parquet``), which is how the sample store writes large tables.
DuckDB reads them directly; CSV is read as text so that a bad value reaches validation as the
text it was, instead of failing the whole read, and a row that cannot even be split into its
fields is kept apart with why, so that it is rejected while the rest of its file loads.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.source_schema import SourceTable
from pipelines.sources.validation import RAW_LINE, READ_ERROR
from pipelines.warehouse.sql import literal, quote

FORMATS = ("parquet", "csv")


class SourceError(RuntimeError):
    """The source cannot be read as the source schema describes it."""


def find_table_files(folder: Path, table: SourceTable) -> tuple[str, list[Path]] | None:
    """The format and the files holding ``table`` in ``folder``; None for an optional table it lacks."""
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
    if table.optional:
        return None
    raise SourceError(
        f"source table {table.name!r} not found in {folder}: expected {table.name}.parquet, "
        f"{table.name}.csv or a folder {table.name}/ of such files"
    )


def _path_list(files: list[Path]) -> str:
    """SQL: the paths of ``files`` as a list, in their order."""
    return "[" + ", ".join(literal(str(path)) for path in files) + "]"


def _parquet_reader(files: list[Path]) -> str:
    return f"read_parquet({_path_list(files)}, filename = '_source_file', file_row_number = true, union_by_name = true)"


def _csv_reader(path: Path, encoding: str) -> str:
    """One CSV file as text, each row with its position among the rows read (``ordinality``).

    A row that cannot be split into the header's fields (too few, too many, not valid text in
    ``encoding``) goes to the connection's table ``_csv_rejects`` instead of failing the read;
    with it there, the sniffer also keeps the header's columns instead of falling back to one.
    DuckDB keeps no reject table when it reads several files by name, hence one file at a time.
    """
    return (
        f"read_csv({literal(str(path))}, all_varchar = true, header = true, encoding = {literal(encoding)}, "
        "store_rejects = true, rejects_table = '_csv_rejects', rejects_scan = '_csv_scans') with ordinality"
    )


def _columns(con: duckdb.DuckDBPyConnection, relation: str, table: SourceTable, files: list[Path]) -> set[str]:
    """The columns of ``relation``; fails naming the table, the files and the missing required column."""
    try:
        present = {row[0] for row in con.execute(f"describe select * from {relation}").fetchall()}
    except duckdb.Error as error:
        raise SourceError(f"cannot read {_listed(files)} as {table.name!r}: {_first_line(error)}") from None
    missing = [c.name for c in table.columns if c.required and c.name not in present]
    if missing:
        raise SourceError(
            f"source table {table.name!r} ({_listed(files)}) lacks required column(s) "
            f"{', '.join(missing)}; see docs/source-schema.md"
        )
    return present


def _listed(files: list[Path]) -> str:
    return ", ".join(str(f) for f in files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


def _selected(table: SourceTable, present: set[str]) -> str:
    """The table's columns in order, NULL for an optional one the files lack."""
    return ", ".join(
        quote(c.name) if c.name in present else f"cast(null as varchar) as {quote(c.name)}" for c in table.columns
    )


def _refuse_empty(files: list[Path]) -> None:
    empty = [path for path in files if path.stat().st_size == 0]
    if empty:
        raise SourceError(f"source file {empty[0]} is empty (0 bytes): a CSV file needs at least its header line")


def _land_csv_rows(con: duckdb.DuckDBPyConnection, table: SourceTable, files: list[Path], encoding: str) -> None:
    """Read every CSV file of ``table`` into the temp table ``_csv_src``: the table's columns as
    text, ``_source_file``, ``_file_index`` (the file's place in ``files``), ``_row_number`` (the
    1-based data row of the file, header not counted), and for a row that could not be split into
    fields ``_read_error`` and ``_raw_line``.

    Row numbers come from each file's read order (``with ordinality``), which DuckDB keeps in a
    parallel read; numbering after the read (``row_number() over``) is not in file order.
    """
    for name in ("_csv_rejects", "_csv_scans"):
        con.execute(f"drop table if exists {name}")
    text_columns = ", ".join(f"{quote(c.name)} varchar" for c in table.columns)
    con.execute(
        f"create or replace temp table _csv_src ({text_columns}, _source_file varchar, _file_index bigint, "
        f"_row_number bigint, {READ_ERROR} varchar, {RAW_LINE} varchar)"
    )
    for index, path in enumerate(files):
        reader = _csv_reader(path, encoding)
        present = _columns(con, reader, table, [path])
        try:
            con.execute(
                f"insert into _csv_src select {_selected(table, present)}, {literal(str(path))}, {index}, "
                f"ordinality, null, null from {reader}"
            )
        except duckdb.Error as error:
            raise SourceError(f"cannot read {path} as CSV: {_first_line(error)}") from None
    if con.execute("select exists (select 1 from _csv_rejects)").fetchone()[0]:
        _number_around_unreadable_rows(con, encoding, files)


def _number_around_unreadable_rows(con: duckdb.DuckDBPyConnection, encoding: str, files: list[Path]) -> None:
    """Add the unreadable rows to ``_csv_src`` and renumber the good rows after them.

    DuckDB numbers a rejected row by its place in the file (line 1 is the header) but leaves it
    out of ``ordinality``: a good row that is the k-th good one of its file is data row k plus the
    unreadable rows before it. With the i-th unreadable row at data row r_i, r_i - i good rows
    precede it, so the good row k comes after the unreadable rows with r_i - i < k: the latest such
    i, found by an as-of join.
    """
    reason = f"""case e.error_type
        when 'MISSING COLUMNS' then 'too few fields in the CSV row (' || e.error_message || ')'
        when 'TOO MANY COLUMNS' then 'too many fields in the CSV row (' || e.error_message || ')'
        when 'INVALID ENCODING' then {literal(f"not valid {encoding} text (see ANALYTICS_SOURCE_ENCODING)")}
        else 'unreadable CSV row: ' || e.error_message
    end"""
    con.execute(
        f"""create or replace temp table _csv_unreadable as
select
    s.file_path as _source_file,
    e.line - 1 as _row_number,
    string_agg(distinct {reason}, '; ') as _reason,
    any_value(e.csv_line) as _line,
    row_number() over (partition by s.file_path order by e.line) as _rank
from _csv_rejects as e
join _csv_scans as s using (scan_id, file_id)
group by s.file_path, e.line"""
    )
    con.execute(
        """update _csv_src
set _row_number = _csv_src._row_number + shift.unreadable_before
from (
    select good._source_file, good._row_number, steps.unreadable_before
    from _csv_src as good
    asof join (
        select _source_file, _row_number - _rank as good_before, max(_rank) as unreadable_before
        from _csv_unreadable
        group by all
    ) as steps
        on good._source_file = steps._source_file and good._row_number > steps.good_before
) as shift
where _csv_src._source_file = shift._source_file and _csv_src._row_number = shift._row_number"""
    )
    con.execute(
        f"insert into _csv_src (_source_file, _file_index, _row_number, {READ_ERROR}, {RAW_LINE}) "
        f"select _source_file, list_position({_path_list(files)}, _source_file) - 1, _row_number, _reason, _line "
        "from _csv_unreadable"
    )
    con.execute("drop table _csv_unreadable")


def register_source_rows(
    con: duckdb.DuckDBPyConnection, folder: Path, table: SourceTable, *, encoding: str = "utf-8"
) -> None:
    """Create the temporary view ``_src``: the table's columns, ``_source_file``, ``_file_index``
    (its place in the table's sorted files), ``_row_number`` (1-based, per file) and, for CSV,
    ``_read_error`` and ``_raw_line`` of rows that could not be split into fields.

    Optional columns missing from the files are read as NULL, an optional table missing from the
    folder as no rows; a missing required column, an empty file or a file that is no CSV or Parquet
    at all fails with the file named.
    """
    found = find_table_files(folder, table)
    if found is None:
        register_no_rows(con, table)
        return
    file_format, files = found
    _refuse_empty(files)
    if file_format == "csv":
        _land_csv_rows(con, table, files, encoding)
        con.execute("create or replace temp view _src as select * from _csv_src")
        return
    reader = _parquet_reader(files)
    present = _columns(con, reader, table, files)
    con.execute(
        f"""create or replace temp view _src as
select
    {_selected(table, present)},
    _source_file,
    -- The file's place in the list by its name, not DuckDB's `file_index`: a column of that name
    -- in the files would hide it, and a filter on the file's name numbers the files it keeps anew.
    list_position({_path_list(files)}, _source_file) - 1 as _file_index,
    file_row_number + 1 as _row_number
from {reader}"""
    )


def register_no_rows(con: duckdb.DuckDBPyConnection, table: SourceTable) -> None:
    """Create ``_src`` without rows, for an optional table that a source does not have."""
    columns = ", ".join(f"cast(null as varchar) as {quote(c.name)}" for c in table.columns)
    con.execute(
        f"create or replace temp view _src as select {columns}, cast(null as varchar) as _source_file, "
        "cast(null as bigint) as _file_index, cast(null as bigint) as _row_number where false"
    )
