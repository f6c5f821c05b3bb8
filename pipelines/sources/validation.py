"""Row checks of the source schema, written as DuckDB SQL so that they run at the speed of a scan.

:func:`checked_rows_sql` turns a relation of source rows (``_src``: the table's columns plus
``_source_file`` and ``_row_number``) into one row per source row with the typed values, the
row's partition day and ``_reason``: ``NULL`` for a good row, otherwise every rule it broke.
:func:`duplicate_copies_sql` then finds the good rows that a later copy of the same id replaces.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipelines.source_schema import Column, SourceTable
from pipelines.warehouse.sql import literal, quote

PROBLEM_WORD = {"TIMESTAMP": "unparseable", "DATE": "unparseable"}


def _same_type(source_type: str | None, sql_type: str) -> bool:
    return source_type is not None and source_type.replace(" ", "").upper() == sql_type.replace(" ", "").upper()


def _source_value(column: Column, source_type: str | None) -> str:
    """The value as read: text (CSV, or a column of unknown type) trimmed with '' as missing, else
    the source's own typed value.

    A typed source (Parquet, a database) is not sent through text: formatting and re-parsing every
    timestamp was most of a large load's time, and a typed value has no blanks to trim.
    """
    if source_type is None or source_type == "VARCHAR":
        return f"nullif(trim(cast(s.{quote(column.name)} as varchar)), '')"
    return f"s.{quote(column.name)}"


def _typed_source_value(column: Column, source_type: str | None) -> str:
    value = _source_value(column, source_type)
    return value if _same_type(source_type, column.sql_type) else f"try_cast({value} as {column.sql_type})"


def _column_problems(table: SourceTable, column: Column, currency: str, source_type: str | None) -> list[str]:
    """``CASE`` branches that name what is wrong with one column of one row."""
    raw = _source_value(column, source_type)
    typed = _typed_source_value(column, source_type)
    problem = PROBLEM_WORD.get(column.sql_type, "non-numeric" if column.sql_type.startswith("DECIMAL") else "bad")
    checks = []
    if column.required:
        checks.append(f"when {raw} is null then {literal('missing ' + column.name)}")
    if not _same_type(source_type, column.sql_type):
        checks.append(f"when {raw} is not null and {typed} is null then {literal(problem + ' ' + column.name)}")
    if column.name == table.amount_column:
        checks.append(f"when {typed} < 0 then {literal('negative ' + column.name)}")
    if column.name in table.accepted_values:
        allowed = ", ".join(literal(value) for value in table.accepted_values[column.name])
        checks.append(f"when lower({raw}) not in ({allowed}) then {literal('unknown ' + column.name)}")
    if column.name == table.currency_column:
        reason = literal(f"currency is not the reporting currency {currency}")
        checks.append(f"when upper({raw}) <> {literal(currency)} then {reason}")
    return checks


def _typed_value(table: SourceTable, column: Column, source_type: str | None) -> str:
    value = _typed_source_value(column, source_type)
    if column.name in table.accepted_values:
        value = f"lower({value})"
    if column.name == table.currency_column:
        value = f"upper({value})"
    return f"{value} as {quote(column.name)}"


def _reason(table: SourceTable, currency: str, source_types: Mapping[str, str]) -> str:
    """All problems of a row joined by '; ' (``concat_ws`` skips the NULLs of columns that are fine)."""
    parts = []
    for column in table.columns:
        checks = _column_problems(table, column, currency, source_types.get(column.name))
        if checks:
            parts.append("case " + " ".join(checks) + " end")
    return "nullif(concat_ws('; ', " + ", ".join(parts) + "), '')"


def _raw_values(table: SourceTable) -> str:
    """The row's values as read, as JSON text."""
    fields = ", ".join(f"{quote(c.name)} := cast(s.{quote(c.name)} as varchar)" for c in table.columns)
    return f"cast(to_json(struct_pack({fields})) as varchar)"


def checked_rows_sql(table: SourceTable, currency: str, source_types: Mapping[str, str]) -> str:
    """``SELECT`` over ``_src`` giving typed columns, ``_partition_date``, ``_reason`` and ``_raw_values``.

    ``source_types`` are the DuckDB types of ``_src``'s columns. Repeated ids are not judged here:
    see :func:`duplicate_copies_sql`.
    """
    typed_columns = ",\n    ".join(
        _typed_value(table, column, source_types.get(column.name)) for column in table.columns
    )
    partition_column = table.column(table.partition_column)
    partition = _typed_source_value(Column(partition_column.name, "TIMESTAMP"), source_types.get(partition_column.name))
    return f"""
select
    {typed_columns},
    cast({partition} as date) as _partition_date,
    _reason,
    -- The raw values only for the rejected rows: writing them for every good row was a third of
    -- a large load's time.
    case when _reason is not null then {_raw_values(table)} end as _raw_values,
    s._source_file,
    s._row_number
from (select *, {_reason(table, currency, source_types)} as _reason from _src as s) as s"""


def _as_rejects(table: SourceTable, rejects: str, reason: str) -> str:
    """The end of a rejects ``SELECT``: each row of the relation ``rejects`` (its file and row
    number), the ``reason`` expression, and the row's raw values from ``_src``."""
    return f"""select
    {rejects}._source_file,
    {rejects}._row_number,
    {reason} as _reason,
    {_raw_values(table)} as _raw_values
from {rejects}
join _src as s on s._source_file = {rejects}._source_file and s._row_number = {rejects}._row_number"""


def duplicate_copies_sql(table: SourceTable, checked: str) -> str:
    """``SELECT`` of the good rows of ``checked`` that another good row with the same id replaces
    (the latest version wins, else the last row read), with their reason and raw values from ``_src``.

    Only ids held by more than one good row are ranked: one aggregate over the ids instead of a
    window over every row, which made the rare duplicate the price of every load.
    """
    id_column = quote(table.id_column)
    order = f"{quote(table.version_column)} desc nulls last, " if table.version_column else ""
    return f"""
with repeated as (
    select {id_column} from {checked} where _reason is null group by all having count(*) > 1
),
ranked as (
    select
        _source_file,
        _row_number,
        row_number() over (partition by {id_column} order by {order}_source_file desc, _row_number desc) as _copy
    from {checked}
    where _reason is null and {id_column} in (select {id_column} from repeated)
),
replaced as (
    select _source_file, _row_number from ranked where _copy > 1
)
{_as_rejects(table, "replaced", literal("duplicate " + table.id_column))}"""


def ids_loaded_elsewhere_sql(table: SourceTable, checked: str, loaded: str, elsewhere: str) -> str:
    """``SELECT`` of the good rows of ``checked`` whose id a row of the table ``loaded`` already holds
    where ``elsewhere`` (a condition on its rows: the days a load keeps), with their reason, naming
    the first such day, and raw values from ``_src``."""
    id_column = quote(table.id_column)
    reason = f"{literal('duplicate ' + table.id_column + ' of a row loaded on ')} || held_elsewhere.loaded_on"
    return f"""
with loaded_ids as (
    select {id_column}, min(_partition_date) as loaded_on
    from {loaded}
    where {elsewhere} and {id_column} in (select {id_column} from {checked} where _reason is null)
    group by {id_column}
),
held_elsewhere as (
    select c._source_file, c._row_number, loaded_ids.loaded_on
    from {checked} as c
    join loaded_ids on c.{id_column} = loaded_ids.{id_column}
    where c._reason is null
)
{_as_rejects(table, "held_elsewhere", reason)}"""
