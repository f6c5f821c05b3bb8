"""The SQL source: the source tables pulled from the shop's own database (any SQLAlchemy URL).

A run owns the days of its partition window. It also replaces every earlier day that a row
changed since the table's watermark belongs to: the rows whose change column (``updated_at``,
else the partition column; see :mod:`pipelines.sources.mapping`) lies in
``[watermark day - lookback, window end)`` name those *changed days*, and each day to load is
read whole from the shop (``partition column >= day and < next day``), so a refund or a late
payment re-derives its order's day without counting anything twice or losing the day's other
rows. The new watermark (the latest change seen) is recorded with the load, in its transaction.

Rows are read in chunks (``yield_per``: a server-side cursor on PostgreSQL) and appended to a
DuckDB temporary table, so memory stays flat for any table size. The rows reach validation as
``_src`` with the same columns as the files source's, so the same bad rows are rejected for
the same reasons. The database's password never appears in a message: URLs are shown by
:func:`safe_url`, without the password of the user part nor one given as a query parameter
(``?password=…``, which SQLAlchemy hands to the driver and does not hide itself).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection
from sqlalchemy.engine.interfaces import DBAPIConnection

from pipelines.settings import HIDDEN, safe_url, url_secrets
from pipelines.source_schema import SourceTable
from pipelines.sources.files import SourceError, register_no_rows
from pipelines.sources.mapping import SourceMapping
from pipelines.sources.raw_tables import LoadPlan, Watermark, days_between, read_watermark
from pipelines.sources.validation import partition_day
from pipelines.warehouse.sql import literal, quote
from pipelines.warehouse.store_calendar import day_ranges, utc_day_margin

CHUNK_VIEW = "_sql_chunk"
"""The DuckDB name under which each chunk read from the database is inserted."""
NO_CHANGES: frozenset[dt.date] = frozenset()


@dataclass(frozen=True)
class PullOptions:
    """How the SQL source reads: the look-back for late changes, the chunk size, the first day loaded
    and the store's time zone, whose days the partitions are."""

    lookback_days: int
    chunk_rows: int
    first_day: dt.date
    store_timezone: str


@dataclass(frozen=True)
class ShopTable:
    """A source table as found in the shop's database.

    ``columns`` maps each source column to the shop's column, or to None for an optional column
    the shop's table does not have (read as empty, as the files source does).
    """

    source: SourceTable
    name: str
    columns: dict[str, str | None]
    watermark: str

    @property
    def label(self) -> str:
        """What ``_source_file`` says for its rows."""
        return f"sql:{self.name}"

    @property
    def origin(self) -> str:
        """Where its watermark is read from."""
        return f"{self.name}.{self.watermark}"

    def describe(self) -> str:
        """How messages name it."""
        return f"shop table {self.name!r} (source table {self.source.name})"

    @property
    def partition_column(self) -> str:
        """The shop column holding the partition time (a required column, so always present)."""
        return self.columns[self.source.partition_column]

    def clause(self) -> sa.TableClause:
        """The table with the columns the pipeline reads (build a query's columns from one clause)."""
        used = {shop for shop in self.columns.values() if shop is not None} | {self.watermark}
        return sa.table(self.name, *(sa.column(name) for name in sorted(used)))


@dataclass(frozen=True)
class Changes:
    """Rows changed since a watermark: the days they belong to and the latest change among them."""

    days: frozenset[dt.date]
    latest: dt.datetime | None


def _redacted(text: str, url: URL) -> str:
    """``text`` with the URL's passwords blanked, should a driver ever quote one."""
    for secret in url_secrets(url):
        text = text.replace(secret, HIDDEN)
    return text


@contextmanager
def _named_errors(action: str, url: URL) -> Iterator[None]:
    """Turn a database error into a :class:`SourceError` that names ``action`` and the URL without password."""
    try:
        yield
    except sa.exc.SQLAlchemyError as error:
        # The driver's own message (error.orig) rather than SQLAlchemy's, which adds the statement
        # and its parameters. Not chained, so that no traceback carries an unredacted text.
        detail = _redacted(str(getattr(error, "orig", None) or error), url).strip()
        raise SourceError(f"{action} ({safe_url(url)}) failed: {detail}") from None


def _utc_session(dbapi_connection: DBAPIConnection, _record: object) -> None:
    """Make PostgreSQL speak UTC, so that ``timestamptz`` values and day bounds are UTC days."""
    cursor = dbapi_connection.cursor()
    cursor.execute("set time zone 'UTC'")
    cursor.close()
    # Committed: a rollback when the pool resets the connection would undo the setting.
    dbapi_connection.commit()


@contextmanager
def shop_connection(url: URL) -> Iterator[Connection]:
    """A connection to the shop's database; a failure to connect names the URL (without password)."""
    with _named_errors("opening the shop database", url):
        try:
            engine = sa.create_engine(url)
        except ImportError as error:
            raise SourceError(
                f"the database driver of {safe_url(url)} is not installed ({error}); "
                "for PostgreSQL use postgresql+psycopg://"
            ) from None
    if engine.dialect.name == "postgresql":
        sa.event.listen(engine, "connect", _utc_session)
    try:
        with _named_errors("connecting to the shop database", url):
            connection = engine.connect()
        with connection:
            yield connection
    finally:
        engine.dispose()


def _watermark_column(table: SourceTable, mapping: SourceMapping, present: set[str]) -> str:
    """The shop column that says when a row changed: the mapping's, else the version column if the shop has it,
    else the partition column."""
    named = mapping.watermark(table)
    if named is not None:
        return named
    if table.version_column is not None and mapping.shop_column(table, table.version_column) in present:
        return mapping.shop_column(table, table.version_column)
    return mapping.shop_column(table, table.partition_column)


def find_shop_table(shop_db: Connection, table: SourceTable, mapping: SourceMapping, url: URL) -> ShopTable | None:
    """``table`` in the shop's database, None for an optional table it lacks; a missing table or required
    column fails naming it."""
    name = mapping.shop_table(table)
    where = f"source table {table.name} ({safe_url(url)})"
    with _named_errors(f"inspecting shop table {name!r} for source table {table.name}", url):
        inspector = sa.inspect(shop_db)
        if not inspector.has_table(name):
            if table.optional:
                return None
            raise SourceError(
                f"shop table {name!r} for {where} does not exist; name the shop's table in "
                "ANALYTICS_SOURCE_MAPPING (see docs/source-schema.md)"
            )
        present = {column["name"] for column in inspector.get_columns(name)}
    columns = {column.name: mapping.shop_column(table, column.name) for column in table.columns}
    watermark = _watermark_column(table, mapping, present)
    missing = [
        f"{shop} (for {source})"
        for source, shop in columns.items()
        if table.column(source).required and shop not in present
    ]
    if watermark not in present:
        missing.append(f"{watermark} (the watermark)")
    if missing:
        raise SourceError(
            f"shop table {name!r} for {where} lacks column(s) {', '.join(missing)}; name the shop's columns in "
            "ANALYTICS_SOURCE_MAPPING (see docs/source-schema.md)"
        )
    return ShopTable(
        source=table,
        name=name,
        columns={source: shop if shop in present else None for source, shop in columns.items()},
        watermark=watermark,
    )


def _day(day: dt.date) -> sa.BindParameter:
    # Bound as a date: PostgreSQL compares a timestamp with the day's midnight, and SQLite
    # compares the ISO text 'YYYY-MM-DD', which sorts right against any 'YYYY-MM-DD hh:mm' value.
    return sa.literal(day, sa.Date)


def _between(column: sa.ColumnClause, since: dt.date | None, until: dt.date) -> sa.ColumnElement[bool]:
    """``since <= column < until`` (no lower bound when ``since`` is None)."""
    lower = [] if since is None else [column >= _day(since)]
    return sa.and_(*lower, column < _day(until))


def _undated(column: sa.ColumnClause, dialect: str) -> sa.ColumnElement[bool]:
    """Rows whose partition value is no time at all: they belong to no day, and every load reports them.

    SQLite stores any value in any column, so there text that is no date counts too (which makes
    SQLite scan the table: acceptable at the sizes SQLite shops have, and nothing is lost silently).
    """
    if dialect == "sqlite":
        return sa.func.date(column).is_(None)
    return column.is_(None)


def _rows_query(
    shop: ShopTable, days: Iterable[dt.date], dialect: str, options: PullOptions, today: dt.date
) -> sa.Select:
    """Every row of ``days`` (whole days) and every row that belongs to no partition, as the source
    schema's columns: undated, dated before ``first_day`` (the partitions' first), or on ``today``
    (UTC) or later, where the rows in the future are; validation rejects those and leaves today's
    other rows to their night. The database is read by UTC days (a date bound compares right in every
    database), each bound reaching :func:`utc_day_margin` further; the load keeps its store days' rows."""
    table = shop.clause()
    partition = table.c[shop.partition_column]
    margin = utc_day_margin(options.store_timezone)
    on_days = [_between(partition, first - margin, end + margin) for first, end in day_ranges(days)]
    outside = [partition < _day(options.first_day + margin), partition >= _day(today - margin)]
    selected = [
        table.c[column].label(name) if column is not None else sa.null().label(name)
        for name, column in shop.columns.items()
    ]
    # A stable order, so that _row_number and "the last row read" of duplicates mean the same every run.
    order = shop.columns[shop.source.id_column or shop.source.partition_column]
    return (
        sa.select(*selected)
        .select_from(table)
        .where(sa.or_(*on_days, *outside, _undated(partition, dialect)))
        .order_by(table.c[order])
    )


def _changes_query(shop: ShopTable, since: dt.date | None, until: dt.date) -> sa.Select:
    """The partition value and change time of every row changed in ``[since, until)``.

    A row without a change time (an optional ``updated_at`` left empty) counts as changed when
    its partition time is in the range, so that new rows are found either way.
    """
    table = shop.clause()
    partition, changed_at = table.c[shop.partition_column], table.c[shop.watermark]
    changed = _between(changed_at, since, until)
    if shop.watermark != shop.partition_column:
        changed = sa.or_(changed, sa.and_(changed_at.is_(None), _between(partition, since, until)))
    return sa.select(partition.label("_partition"), changed_at.label("_changed")).where(changed)


def _arrow_column(values: Sequence[object]) -> pa.Array:
    """One column of a chunk as Arrow, typed as the driver returned it.

    Times with a zone become UTC times without one (DuckDB would read the wall time and drop the
    zone). A column of mixed types (SQLite keeps any value in any column) is passed on as text,
    so that its bad values reach validation as written, as a CSV file's do.
    """
    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if value is None else str(value) for value in values], pa.string())
    if pa.types.is_timestamp(array.type) and array.type.tz is not None:
        return array.cast(pa.timestamp(array.type.unit))
    return array


def _land(
    con: duckdb.DuckDBPyConnection, shop_db: Connection, query: sa.Select, *, target: str, chunk_rows: int
) -> None:
    """Copy the rows of ``query`` into the DuckDB temp table ``target`` (text columns and ``_row_number``),
    ``chunk_rows`` at a time."""
    names = [column.name for column in query.selected_columns]
    text_columns = ", ".join(f"{quote(name)} varchar" for name in names)
    con.execute(f"create or replace temp table {target} ({text_columns}, _row_number bigint)")
    landed = 0
    result = shop_db.execute(query.execution_options(yield_per=chunk_rows))
    for chunk in result.partitions():
        numbers = pa.array(range(landed + 1, landed + len(chunk) + 1), pa.int64())
        batch = pa.table([*map(_arrow_column, zip(*chunk, strict=True)), numbers], names=[*names, "_row_number"])
        con.register(CHUNK_VIEW, batch)
        try:
            con.execute(f"insert into {target} by name select * from {CHUNK_VIEW}")
        finally:
            con.unregister(CHUNK_VIEW)
        landed += len(chunk)


def _find_changes(
    con: duckdb.DuckDBPyConnection,
    shop_db: Connection,
    shop: ShopTable,
    *,
    since: dt.date | None,
    until: dt.date,
    options: PullOptions,
) -> Changes:
    """The store days and latest change time of the rows changed in ``[since, until)`` (UTC days)."""
    _land(con, shop_db, _changes_query(shop, since, until), target="_sql_changes", chunk_rows=options.chunk_rows)
    column = shop.source.column(shop.source.partition_column)
    day = partition_day(column, "try_cast(_partition as timestamp)", options.store_timezone)
    # Parsed by DuckDB as validation parses them, so a changed day is the day its row is loaded on.
    latest = con.execute(
        "select max(try_cast(coalesce(_changed, _partition) as timestamp)) from _sql_changes"
    ).fetchone()[0]
    days = con.execute(
        f"select distinct day from (select {day} as day from _sql_changes) where day is not null"
    ).fetchall()
    con.execute("drop table _sql_changes")
    return Changes(days=frozenset(day for (day,) in days), latest=latest)


def _changes_since(
    con: duckdb.DuckDBPyConnection,
    shop_db: Connection,
    shop: ShopTable,
    *,
    previous: dt.datetime | None,
    until: dt.date,
    options: PullOptions,
) -> Changes:
    """Rows changed since the watermark ``previous`` less the look-back; their days only count if ``previous`` is set.

    Without a watermark nothing of the table was loaded by this source yet, so there is no day to
    repair: the run loads its window, and the latest change starts the watermark.
    """
    since = None if previous is None else previous.date() - dt.timedelta(days=options.lookback_days)
    if since is not None and since >= until:
        # A backfill of days older than the watermark: their changes were all seen already.
        return Changes(days=NO_CHANGES, latest=None)
    changes = _find_changes(con, shop_db, shop, since=since, until=until, options=options)
    if previous is None:
        return Changes(days=NO_CHANGES, latest=changes.latest)
    # Days before the first partition are never loaded; days from `until` on belong to later runs.
    return Changes(
        days=frozenset(day for day in changes.days if options.first_day <= day < until), latest=changes.latest
    )


def _advanced(shop: ShopTable, previous: dt.datetime | None, latest: dt.datetime | None) -> Watermark | None:
    """The watermark to record, if the changes seen move it forward."""
    if latest is None or (previous is not None and latest <= previous):
        return None
    return Watermark(source_table=shop.source.name, origin=shop.origin, value=latest)


def register_sql_rows(
    con: duckdb.DuckDBPyConnection,
    table: SourceTable,
    *,
    url: URL,
    mapping: SourceMapping,
    start: dt.date,
    end: dt.date,
    options: PullOptions,
) -> LoadPlan:
    """Land the rows of the window ``[start, end)`` and of the days changed since the watermark as ``_src``.

    Returns the days to replace and the watermark to record with them. An optional table the shop
    lacks has no rows: its window's days are replaced by none.
    """
    with shop_connection(url) as shop_db:
        shop = find_shop_table(shop_db, table, mapping, url)
        if shop is None:
            register_no_rows(con, table)
            return LoadPlan(days=days_between(start, end))
        previous = read_watermark(con, table.name, shop.origin)
        with _named_errors(f"reading {shop.describe()}", url):
            changes = _changes_since(con, shop_db, shop, previous=previous, until=end, options=options)
            days = days_between(start, end) | changes.days
            _land(
                con,
                shop_db,
                _rows_query(shop, days, shop_db.dialect.name, options, dt.datetime.now(dt.UTC).date()),
                target="_sql_rows",
                chunk_rows=options.chunk_rows,
            )
    con.execute(
        f"create or replace temp view _src as select *, {literal(shop.label)} as _source_file, 0 as _file_index "
        "from _sql_rows"
    )
    return LoadPlan(days=days, watermark=_advanced(shop, previous, changes.latest))


def _day_of(value: object, shop: ShopTable) -> dt.date:
    """The day of a partition value as the driver returned it (a datetime, a date or ISO text)."""
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise SourceError(
            f"{shop.describe()} column {shop.partition_column} holds {value!r}, which is no date"
        ) from None


def day_range(
    url: URL, mapping: SourceMapping, table: SourceTable, margin: dt.timedelta
) -> tuple[dt.date, dt.date] | None:
    """First and last day of ``table``'s rows in the shop's database, None if it has no dated row (or,
    an optional table, is not there):
    their UTC days, widened by ``margin`` (:func:`utc_day_margin`) to hold their store days."""
    with shop_connection(url) as shop_db:
        shop = find_shop_table(shop_db, table, mapping, url)
        if shop is None:
            return None
        partition = shop.clause().c[shop.partition_column]
        query = sa.select(sa.func.min(partition), sa.func.max(partition)).where(
            sa.not_(_undated(partition, shop_db.dialect.name))
        )
        with _named_errors(f"reading {shop.describe()}", url):
            first, last = shop_db.execute(query).one()
    if first is None:
        return None
    return _day_of(first, shop) - margin, _day_of(last, shop) + margin
