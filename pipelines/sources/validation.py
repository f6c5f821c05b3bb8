"""Row checks of the source schema, written as DuckDB SQL so that they run at the speed of a scan.

:func:`checked_rows_sql` turns a relation of source rows (``_src``: the table's columns plus
``_source_file``, ``_file_index`` and ``_row_number``) into one row per source row with the typed
values, the row's partition day and ``_reason``: ``NULL`` for a good row, otherwise every rule it
broke. A row is known by its file's index and its row number: the index is the file's place in
the source's sorted list of files (0 for a source without files), so the last row read is the one
with the highest index and row number.
:func:`duplicate_copies_sql` then finds the good rows that a later copy of the same id replaces.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pipelines.source_schema import Column, SourceTable
from pipelines.warehouse.sql import literal, quote
from pipelines.warehouse.store_calendar import on_days_sql, store_date_sql, utc_day_margin

PROBLEM_WORD = {"TIMESTAMP": "unparseable", "DATE": "unparseable"}
UTC_OFFSET = r"[T ]\d{1,2}:\d{2}(:\d{2}(\.\d*)?)?\s*([zZ]|[+-]\d{2}(:?\d{2})?)$"
"""A time written with its UTC offset (``2026-08-01 23:30:00-03:00``, ``2026-08-01T23:30:00Z``); the
time part is required so that the day of a plain date (``2026-08-01``) is not taken for an offset."""
OFFSET_TYPE = "TIMESTAMP WITH TIME ZONE"
READ_ERROR = "_read_error"
"""Column of ``_src`` (files source) holding why a CSV row could not be split into its fields."""
RAW_LINE = "_raw_line"
"""Column of ``_src`` (files source) holding such a row's text as it is in the file."""


@dataclass(frozen=True)
class RowRules:
    """What a source row must satisfy beyond its columns' types, in one run.

    ``first_day`` is the first day of the partitions (``ANALYTICS_PARTITION_START``); ``latest_time``
    the run's clock plus the tolerance for the shop's clock running ahead, as naive UTC. A row's day is
    its day in the store's calendar (``store_timezone``, ``ANALYTICS_STORE_TIMEZONE``). A row whose day
    is outside ``first_day .. latest_time`` belongs to no partition: it is rejected, and
    every load reports it afresh, like a row whose day cannot be read. An order in another currency
    is converted with the latest rate at most ``exchange_rate_max_age_days`` before its day.
    """

    currency: str
    max_amount: float
    first_day: dt.date
    latest_time: dt.datetime
    store_timezone: str
    exchange_rate_max_age_days: int
    reject_offsets: bool = False


def _same_type(source_type: str | None, sql_type: str) -> bool:
    return source_type is not None and source_type.replace(" ", "").upper() == sql_type.replace(" ", "").upper()


def _source_value(column: Column, source_type: str | None) -> str:
    """The value as read: text (CSV, or a column of unknown type) trimmed with '' as missing, else
    the source's own typed value.

    A typed source (Parquet, a database) is not sent through text: formatting and re-parsing every
    timestamp was most of a large load's time, and a typed value has no blanks to trim.
    """
    if _is_text(source_type):
        return f"nullif({trimmed(f'cast(s.{quote(column.name)} as varchar)')}, '')"
    return f"s.{quote(column.name)}"


def trimmed(text: str) -> str:
    """``trim(text)`` (SQL), cheaper on the usual value.

    DuckDB's ``trim`` also removes Unicode spaces, so it decodes every string: on ids, which are all
    different, that was most of a large load's checks (docs/benchmarks.md). A string of single-byte
    characters (as many bytes as characters) without a space at either end is already trimmed, which
    needs only its bytes.
    """
    return (
        f"case when strlen({text}) = length({text}) and not starts_with({text}, ' ') "
        f"and not ends_with({text}, ' ') then {text} else trim({text}) end"
    )


def _typed_source_value(column: Column, source_type: str | None) -> str:
    """The value in the column's type, NULL if it does not convert; times as naive UTC.

    A time written with a UTC offset is converted to UTC (a plain cast to ``TIMESTAMP`` would drop
    the offset and put the row on the wrong day); one without is read as UTC. A source column
    that holds instants (``TIMESTAMP WITH TIME ZONE``) is converted the same way, independent of
    the session's time zone.
    """
    value = _source_value(column, source_type)
    if _same_type(source_type, column.sql_type):
        return value
    if column.sql_type == "TIMESTAMP" and _same_type(source_type, OFFSET_TYPE):
        return f"timezone('UTC', {value})"
    if column.sql_type == "TIMESTAMP" and _is_text(source_type):
        return (
            f"case when regexp_matches({value}, {literal(UTC_OFFSET)}) "
            f"then timezone('UTC', try_cast({value} as timestamptz)) else try_cast({value} as timestamp) end"
        )
    return f"try_cast({value} as {column.sql_type})"


def _is_text(source_type: str | None) -> bool:
    return source_type is None or source_type == "VARCHAR"


def _column_problems(table: SourceTable, column: Column, rules: RowRules, source_type: str | None) -> list[str]:
    """``CASE`` branches that name what is wrong with one column of one row (the first that holds)."""
    raw = _source_value(column, source_type)
    typed = _typed_source_value(column, source_type)
    checks = []
    if column.required:
        checks.append(f"when {raw} is null then {literal('missing ' + column.name)}")
    if column.name == table.amount_column:
        checks += _amount_problems(column, raw, typed, rules)
    elif column.name == table.rate_column:
        checks += _rate_problems(column, raw, typed)
    elif not _same_type(source_type, column.sql_type):
        problem = PROBLEM_WORD.get(column.sql_type, "bad")
        checks.append(f"when {raw} is not null and {typed} is null then {literal(problem + ' ' + column.name)}")
    if rules.reject_offsets and column.sql_type == "TIMESTAMP" and _is_text(source_type):
        reason = literal(f"UTC offset in {column.name} (ANALYTICS_SOURCE_TIMESTAMP_OFFSETS=reject)")
        checks.append(f"when regexp_matches({raw}, {literal(UTC_OFFSET)}) then {reason}")
    if column.name == table.partition_column:
        checks += _calendar_problems(column, typed, partition_day(column, typed, rules.store_timezone), rules)
    if column.name in table.accepted_values:
        allowed = ", ".join(literal(value) for value in table.accepted_values[column.name])
        checks.append(f"when lower({raw}) not in ({allowed}) then {literal('unknown ' + column.name)}")
    if column.name == table.currency_column and table.foreign_currency == "reject":
        reason = literal(f"currency is not the reporting currency {rules.currency}")
        checks.append(f"when upper({raw}) <> {literal(rules.currency)} then {reason}")
    return checks


def _amount_problems(column: Column, raw: str, typed: str, rules: RowRules) -> list[str]:
    """A number that is no number, one that is negative, and one too large to be an order's or a
    day's amount: beyond the column's type, or beyond ``ANALYTICS_SOURCE_MAX_AMOUNT``, which keeps
    a typo of a thousand times from passing ingest and then failing the marts' tests."""
    as_number = _as_number(raw)
    return _number_problems(
        column,
        raw,
        too_low=(f"{as_number} < 0", f"negative {column.name}"),
        too_high=(
            f"{typed} is null or {as_number} > {rules.max_amount!r}",
            f"{column.name} out of range (above ANALYTICS_SOURCE_MAX_AMOUNT={rules.max_amount:g})",
        ),
    )


def _rate_problems(column: Column, raw: str, typed: str) -> list[str]:
    """A rate that is no number, one that is not above 0 (at the column's precision), and one too large."""
    return _number_problems(
        column,
        raw,
        too_low=(f"{_as_number(raw)} <= 0 or {typed} = 0", f"{column.name} not above 0"),
        too_high=(f"{typed} is null", f"{column.name} out of range for {column.sql_type}"),
    )


def _as_number(raw: str) -> str:
    return f"try_cast({raw} as double)"


def _number_problems(column: Column, raw: str, too_low: tuple[str, str], too_high: tuple[str, str]) -> list[str]:
    """``CASE`` branches of a numeric column, in order: no number, then the ``(condition, problem)`` pairs
    ``too_low`` and ``too_high`` (the latter only where a value is given)."""
    (low, low_problem), (high, high_problem) = too_low, too_high
    return [
        f"when {raw} is not null and {_as_number(raw)} is null then {literal('non-numeric ' + column.name)}",
        f"when {low} then {literal(low_problem)}",
        f"when {raw} is not null and ({high}) then {literal(high_problem)}",
    ]


def _calendar_problems(column: Column, typed: str, day: str, rules: RowRules) -> list[str]:
    """The partition time outside the partitions: its store ``day`` before their first day, or in the future."""
    before = literal(f"{column.name} before ANALYTICS_PARTITION_START {rules.first_day}")
    future = literal(f"{column.name} in the future (after the run's clock + ANALYTICS_SOURCE_FUTURE_TOLERANCE_HOURS)")
    return [
        f"when {day} < {literal(str(rules.first_day))} then {before}",
        f"when {typed} > {_latest(rules)} then {future}",
    ]


def partition_day(column: Column, value: str, store_timezone: str) -> str:
    """The store day of the partition column's ``value`` (naive UTC): a time's day in the store's
    calendar; a date (a day's costs) is a store day already."""
    if column.sql_type == "DATE":
        return f"cast({value} as date)"
    return store_date_sql(value, store_timezone)


def _latest(rules: RowRules) -> str:
    return f"cast({literal(rules.latest_time.isoformat(sep=' '))} as timestamp)"


def _typed_value(table: SourceTable, column: Column, source_type: str | None) -> str:
    value = _typed_source_value(column, source_type)
    if column.name in table.accepted_values:
        value = f"lower({value})"
    if column.name == table.currency_column:
        value = f"upper({value})"
    return f"{value} as {quote(column.name)}"


def _reason(table: SourceTable, rules: RowRules, source_types: Mapping[str, str]) -> str:
    """All problems of a row joined by '; ' (``concat_ws`` skips the NULLs of columns that are fine);
    a row that could not be read into its fields has that as its only problem."""
    parts = []
    for column in table.columns:
        checks = _column_problems(table, column, rules, source_types.get(column.name))
        if checks:
            parts.append("case " + " ".join(checks) + " end")
    reason = "nullif(concat_ws('; ', " + ", ".join(parts) + "), '')"
    return f"coalesce(s.{READ_ERROR}, {reason})" if READ_ERROR in source_types else reason


def _raw_values(table: SourceTable, source_types: Mapping[str, str] | None = None) -> str:
    """The row's values as read, as JSON text (a row that could not be split: its line)."""
    fields = ", ".join(f"{quote(c.name)} := cast(s.{quote(c.name)} as varchar)" for c in table.columns)
    values = f"cast(to_json(struct_pack({fields})) as varchar)"
    if source_types is not None and RAW_LINE in source_types:
        line = f"cast(to_json(struct_pack(line := s.{RAW_LINE})) as varchar)"
        return f"case when s.{READ_ERROR} is not null then {line} else {values} end"
    return values


def checked_rows_sql(
    table: SourceTable, rules: RowRules, source_types: Mapping[str, str], days: Iterable[dt.date]
) -> str:
    """``SELECT`` over ``_src`` giving typed columns, ``_partition_date``, ``_reason`` and ``_raw_values``
    of the rows of ``days`` and of the rows that belong to no day.

    ``source_types`` are the DuckDB types of ``_src``'s columns. ``_partition_date`` is NULL for a
    row that belongs to no partition (its day cannot be read, or is outside ``rules``' calendar).
    Repeated ids are not judged here: see :func:`duplicate_copies_sql`.

    The rows are chosen before they are checked, and first by comparisons of the partition time
    alone: DuckDB pushes those into a Parquet scan, which skips the row groups of other days (their
    statistics say so), where a filter on ``_partition_date`` stayed above the checks and had them
    run on every row of the history.
    """
    typed_columns = ",\n    ".join(
        _typed_value(table, column, source_types.get(column.name)) for column in table.columns
    )
    partition = partition_time_sql(table, source_types)
    day = partition_day_sql(table, source_types, rules.store_timezone)
    first_day = literal(str(rules.first_day))
    no_day = f"{day} is null or {day} < {first_day} or {partition} > {_latest(rules)}"
    # Holds for every row that `no_day` or the days hold: a store day lies within its UTC day widened by the margin.
    margin = utc_day_margin(rules.store_timezone)
    may_be_wanted = (
        f"{partition} is null or {partition} < {literal(str(rules.first_day + margin))} "
        f"or {partition} > {_latest(rules)} or {on_days_sql(partition, days, margin)}"
    )
    return f"""
select
    {typed_columns},
    case when {day} >= {first_day} and {partition} <= {_latest(rules)} then {day} end as _partition_date,
    _reason,
    -- The raw values only for the rejected rows: writing them for every good row was a third of
    -- a large load's time.
    case when _reason is not null then {_raw_values(table, source_types)} end as _raw_values,
    -- The file's name too only for the rejected rows: the name of every row's file, kept for a
    -- large load's rows until their duplicates are found, was much of its time (docs/benchmarks.md).
    case when _reason is not null then s._source_file end as _source_file,
    s._file_index,
    s._row_number
from (
    select *, {_reason(table, rules, source_types)} as _reason
    from _src as s
    where ({may_be_wanted}) and ({no_day} or {on_days_sql(day, days)})
) as s"""


def partition_time_sql(table: SourceTable, source_types: Mapping[str, str]) -> str:
    """The row's partition time (naive UTC) over ``_src as s``, NULL where it cannot be read."""
    column = table.column(table.partition_column)
    return _typed_source_value(Column(column.name, "TIMESTAMP"), source_types.get(column.name))


def partition_day_sql(table: SourceTable, source_types: Mapping[str, str], store_timezone: str) -> str:
    """The row's partition day, a day of the store's calendar, over ``_src as s``; NULL where it cannot be read."""
    column = table.column(table.partition_column)
    return partition_day(column, partition_time_sql(table, source_types), store_timezone)


def as_rejects(table: SourceTable, rejects: str, reason: str) -> str:
    """The end of a rejects ``SELECT``: each row of the relation ``rejects`` (its file's index and
    row number), the ``reason`` expression, and the row's file and raw values from ``_src``."""
    return f"""select
    s._source_file,
    {rejects}._file_index,
    {rejects}._row_number,
    {reason} as _reason,
    {_raw_values(table)} as _raw_values
from {rejects}
join _src as s on s._file_index = {rejects}._file_index and s._row_number = {rejects}._row_number"""


def duplicate_copies_sql(table: SourceTable, checked: str) -> str:
    """``SELECT`` of the good rows of ``checked`` that another good row with the same key (the id, or
    the ``unique_columns``) replaces (the latest version wins, else the last row read), with their
    reason and raw values from ``_src``.

    Only keys held by more than one good row are ranked: one aggregate over the keys instead of a
    window over every row, which made the rare duplicate the price of every load.
    """
    key = ", ".join(quote(name) for name in table.key_columns)
    order = f"{quote(table.version_column)} desc nulls last, " if table.version_column else ""
    return f"""
with repeated as (
    select {key} from {checked} where _reason is null group by all having count(*) > 1
),
ranked as (
    select
        _file_index,
        _row_number,
        row_number() over (partition by {key} order by {order}_file_index desc, _row_number desc) as _copy
    from {checked}
    where _reason is null and ({key}) in (select ({key}) from repeated)
),
replaced as (
    select _file_index, _row_number from ranked where _copy > 1
)
{as_rejects(table, "replaced", literal("duplicate " + " and ".join(table.key_columns)))}"""


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
    select c._file_index, c._row_number, loaded_ids.loaded_on
    from {checked} as c
    join loaded_ids on c.{id_column} = loaded_ids.{id_column}
    where c._reason is null
)
{as_rejects(table, "held_elsewhere", reason)}"""
