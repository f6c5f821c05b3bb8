"""Row checks of the source schema, written as DuckDB SQL so that they run at the speed of a scan.

:func:`checked_rows_sql` turns a relation of source rows (``_src``: the table's columns plus
``_source_file`` and ``_row_number``) into one row per source row with the typed values, the
row's partition day and ``_reason``: ``NULL`` for a good row, otherwise every rule it broke.
"""

from __future__ import annotations

from pipelines.sources.schema import Column, SourceTable

PROBLEM_WORD = {"TIMESTAMP": "unparseable", "DATE": "unparseable"}


def quote(identifier: str) -> str:
    """Quote a SQL identifier (all identifiers come from the source schema, never from input)."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _raw_text(column: Column) -> str:
    return f"nullif(trim(cast(s.{quote(column.name)} as varchar)), '')"


def _column_problems(table: SourceTable, column: Column, currency: str) -> list[str]:
    """``CASE`` branches that name what is wrong with one column of one row."""
    raw = _raw_text(column)
    typed = f"try_cast({raw} as {column.sql_type})"
    problem = PROBLEM_WORD.get(column.sql_type, "non-numeric" if column.sql_type.startswith("DECIMAL") else "bad")
    checks = []
    if column.required:
        checks.append(f"when {raw} is null then {literal('missing ' + column.name)}")
    if column.sql_type != "VARCHAR":
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


def _typed_value(table: SourceTable, column: Column) -> str:
    value = f"try_cast({_raw_text(column)} as {column.sql_type})"
    if column.name in table.accepted_values:
        value = f"lower({value})"
    if column.name == table.currency_column:
        value = f"upper({value})"
    return f"{value} as {quote(column.name)}"


def _reason(table: SourceTable, currency: str) -> str:
    """All problems of a row joined by '; ' (``concat_ws`` skips the NULLs of columns that are fine)."""
    parts = []
    for column in table.columns:
        checks = _column_problems(table, column, currency)
        if checks:
            parts.append("case " + " ".join(checks) + " end")
    return "nullif(concat_ws('; ', " + ", ".join(parts) + "), '')"


def checked_rows_sql(table: SourceTable, currency: str) -> str:
    """``SELECT`` over ``_src`` giving typed columns, ``_partition_date``, ``_reason`` and ``_raw_values``."""
    typed_columns = ",\n    ".join(_typed_value(table, column) for column in table.columns)
    raw_struct = ", ".join(f"{quote(c.name)} := cast(s.{quote(c.name)} as varchar)" for c in table.columns)
    partition = f"cast(try_cast({_raw_text(table.column(table.partition_column))} as TIMESTAMP) as date)"
    checked = f"""
select
    {typed_columns},
    {partition} as _partition_date,
    {_reason(table, currency)} as _reason,
    struct_pack({raw_struct}) as _raw,
    s._source_file,
    s._row_number
from _src as s"""
    if table.id_column is not None:
        checked = _with_duplicates_rejected(table, checked)
    # The raw values as JSON only for the rejected rows: writing them for every good row was a
    # third of a large load's time.
    return f"""
select * exclude (_raw), case when _reason is not null then cast(to_json(_raw) as varchar) end as _raw_values
from ({checked}
)"""


def _with_duplicates_rejected(table: SourceTable, checked: str) -> str:
    """Reject all but one good row per id: the latest version, else the last row read."""
    # One window partition per id, good rows ordered first: cheaper than partitioning by id and
    # validity, and a bad row never outranks a good one.
    order = f"{quote(table.version_column)} desc nulls last, " if table.version_column else ""
    id_column = quote(table.id_column)
    duplicate = literal("duplicate " + table.id_column)
    return f"""
with checked as ({checked}
),
ranked as (
    select
        *,
        case when _reason is null then row_number() over (
            partition by {id_column}
            order by _reason is not null, {order}_source_file desc, _row_number desc
        ) end as _copy
    from checked
)
select * exclude (_copy, _reason), coalesce(_reason, case when _copy > 1 then {duplicate} end) as _reason
from ranked"""
