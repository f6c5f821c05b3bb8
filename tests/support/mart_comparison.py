"""The dbt models of two warehouses compared row by row: the SQL source's against the files', an
incremental build's against a full one's."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal

from pipelines.settings import Settings
from tests.support.pipeline_runs import query

FLOAT_TOLERANCE = 1e-9
"""Relative: sums of doubles may be added in another order by DuckDB's parallel aggregation."""


COMPARED_SCHEMAS = ("intermediate", "marts")
"""The dbt layers built from staging: the incremental models are in ``intermediate``."""


def mart_tables(settings: Settings) -> list[str]:
    """``schema.table`` of every table and view of the compared schemas."""
    rows = query(
        settings,
        "select table_schema || '.' || table_name from information_schema.tables where table_schema in ? order by 1",
        [list(COMPARED_SCHEMAS)],
    )
    return [name for (name,) in rows]


def is_fraction(value: object) -> bool:
    """A float or a DECIMAL: a number that another engine may carry with other rounding."""
    return isinstance(value, float | Decimal)


def same_value(left: object, right: object, rel_tol: float = FLOAT_TOLERANCE) -> bool:
    """Equal, floats and decimals within ``rel_tol`` of each other (NaN equal to NaN)."""
    if is_fraction(left) and is_fraction(right):
        left, right = float(left), float(right)
        return (math.isnan(left) and math.isnan(right)) or math.isclose(left, right, rel_tol=rel_tol)
    return left == right


def row_differences(
    table: str,
    actual: list[tuple],
    expected: list[tuple],
    rel_tol: float = FLOAT_TOLERANCE,
    columns: Sequence[str] | None = None,
) -> list[str]:
    """Where two ordered row lists of ``table`` differ: the row count, or each differing value (its
    column by name when ``columns`` are given, else by position)."""
    if len(actual) != len(expected):
        return [f"{table}: {len(actual)} rows, expected {len(expected)}"]
    return [
        f"{table} row {number} column {columns[column] if columns else column}: {left!r}, expected {right!r}"
        for number, (got, wanted) in enumerate(zip(actual, expected, strict=True))
        for column, (left, right) in enumerate(zip(got, wanted, strict=True))
        if not same_value(left, right, rel_tol)
    ]


def mart_differences(
    actual: Settings,
    expected: Settings,
    *,
    left_out: Mapping[str, Sequence[str]] | None = None,
    rel_tol: float = FLOAT_TOLERANCE,
) -> list[str]:
    """Every difference between the rows of ``expected``'s models and ``actual``'s, each in its row
    order, the columns of ``left_out`` (by ``schema.table``) not compared."""
    tables = mart_tables(expected)
    if mart_tables(actual) != tables:
        return [f"marts {mart_tables(actual)}, expected {tables}"]
    differences = []
    for table in tables:
        columns = left_out.get(table) if left_out else None
        select = f"select * exclude ({', '.join(columns)})" if columns else "select *"
        sql = f"{select} from {table} order by all"
        differences += row_differences(table, query(actual, sql), query(expected, sql), rel_tol)
    return differences
