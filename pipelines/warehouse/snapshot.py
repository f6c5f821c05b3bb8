"""The readers' snapshot: a serving DuckDB file and Parquet exports of every finished table.

The pipeline builds in one DuckDB file; readers (the API, the dashboard, BI tools) open another.
:func:`publish_snapshot` copies every table of the published schemas into a new file next to the
serving one and then renames it over the serving file. On POSIX a rename is atomic and leaves
open handles on the old file intact, so a reader holding the snapshot open keeps reading the old
one, whole, until it opens the file again; it never sees a half-written or mixed-version table,
and it never holds a lock the build needs (the build writes a different file). A run that fails
before publishing leaves the previous snapshot in place.

The Parquet exports are written into a new folder per snapshot, and the ``current`` link is then
switched to it in one rename, for the same reasons. The folder it pointed to before stays until
the next publication, so that a reader part way through reading several of its files finds the
rest; only older folders are removed.

Two publishers never interleave: both :func:`publish_snapshot` (the ``serving`` asset) and
:func:`refresh_alerts` (the alert sensors) work through a read-write connection to the build file,
which DuckDB lets one process hold at a time, and they rename before giving it back. So a sensor
can never put an older snapshot back over a newer one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.warehouse.alert_store import ALERTS_SCHEMA, ensure_alert_tables
from pipelines.warehouse.sql import literal, qualified, quote, transaction

PUBLISHED_SCHEMAS = ("marts", "ml", ALERTS_SCHEMA)
"""What readers see: every table of these schemas. The build-only layers (``raw``, ``staging``,
``intermediate``: one row per session or paid order, tens of millions at scale) stay behind."""
SNAPSHOT_TABLE = "main.snapshot"
"""One row: when the snapshot was built and by which run, when it was last published (later than
the build when the alert sensors republished it with new alerts), and the currency of its amounts."""
ROW_COUNTS_TABLE = "main.snapshot_tables"
"""Each published table (``schema.table``) with its row count."""
SNAPSHOT_ALIAS = "snapshot"
CURRENT_EXPORTS = "current"
EXPORT_KEYS = {"marts.customer_rfm": ("customer_id",), "ml.customer_scores": ("customer_id",)}
"""The key that orders the Parquet export of a table of a row per customer (the largest tables
published): one column compared instead of every one of them. Both are unique by it
(customer_rfm's `unique` rule; customer_scores scores each customer of int_customer_orders once). Any
other table is ordered by every column."""
READER_STORAGE_VERSION = "v1.0.0"
"""The storage format the snapshot is written in: DuckDB 2.0's own format cannot be opened by DuckDB
1.x, which BI tools' drivers and many notebooks still bundle; this one can, by DuckDB 1.0 and later
(docs/bi-tools.md). A republication copies the file, which keeps its format."""


@dataclass(frozen=True)
class SnapshotInfo:
    """What a published snapshot holds."""

    built_at: dt.datetime
    run_id: str
    row_counts: dict[str, int]
    published_at: dt.datetime
    """Changes with every publication, the alerts' republishing included: what readers poll."""
    currency: str | None
    """The reporting currency of every amount (``ANALYTICS_CURRENCY`` of the build that published it);
    None in a snapshot published before the currency was recorded."""


def published_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """``schema.table`` of every table and view of the published schemas in the connection's own
    database."""
    schemas = ", ".join(literal(schema) for schema in PUBLISHED_SCHEMAS)
    rows = con.execute(
        f"""select table_schema || '.' || table_name from information_schema.tables
        where table_schema in ({schemas}) and table_catalog = current_database()
        order by 1"""
    ).fetchall()
    return [name for (name,) in rows]


def publish_snapshot(build: duckdb.DuckDBPyConnection, serving_path: Path, run_id: str, currency: str) -> SnapshotInfo:
    """Copy every published table of the build warehouse (``build``, a read-write connection to it)
    into a new snapshot of amounts in ``currency``, then put it in place of ``serving_path`` and its
    Parquet exports."""
    ensure_alert_tables(build)
    staging_path = _staging_path(serving_path)
    with _attached(build, staging_path, storage_version=READER_STORAGE_VERSION):
        for schema in PUBLISHED_SCHEMAS:
            build.execute(f"create schema if not exists {SNAPSHOT_ALIAS}.{quote(schema)}")
        built_at = dt.datetime.now(dt.UTC)
        with transaction(build):
            counts = {name: _copy_table(build, name) for name in published_tables(build)}
            build.execute(
                f"create table {SNAPSHOT_ALIAS}.{SNAPSHOT_TABLE} "
                "(built_at timestamptz, run_id varchar, published_at timestamptz, currency varchar)"
            )
            build.execute(
                f"insert into {SNAPSHOT_ALIAS}.{SNAPSHOT_TABLE} values (?, ?, ?, ?)",
                [built_at, run_id, built_at, currency],
            )
            build.execute(f"create table {SNAPSHOT_ALIAS}.{ROW_COUNTS_TABLE} (table_name varchar, row_count bigint)")
            build.executemany(f"insert into {SNAPSHOT_ALIAS}.{ROW_COUNTS_TABLE} values (?, ?)", list(counts.items()))
    info = SnapshotInfo(built_at, run_id, counts, built_at, currency)
    _put_in_place(staging_path, serving_path, info)
    return info


def refresh_alerts(build: duckdb.DuckDBPyConnection, serving_path: Path) -> SnapshotInfo | None:
    """Republish the snapshot with the build's current alerts tables and the rest unchanged (the
    alert sensors call this after recording alerts; a failed run's half-built marts never reach
    readers this way, because the other tables come from the current snapshot, not the build).

    ``build`` is a read-write connection to the build warehouse (see the module docstring for why
    it must be the one connection, held until this returns). The build time and run id stay the
    snapshot's; ``published_at`` moves on, so a dashboard polling it reloads. Returns None when
    nothing has been published yet (there is no snapshot to add alerts to).
    """
    if not serving_path.exists():
        return None
    # A sensor may run before any alert was recorded: the tables always exist in a snapshot.
    ensure_alert_tables(build)
    staging_path = _staging_path(serving_path)
    shutil.copyfile(serving_path, staging_path)
    alerts = [name for name in published_tables(build) if name.startswith(f"{ALERTS_SCHEMA}.")]
    with _attached(build, staging_path), transaction(build):
        for name in alerts:
            build.execute(f"drop table if exists {qualified(name, SNAPSHOT_ALIAS)}")
        counts = {name: _copy_table(build, name) for name in alerts}
        build.execute(
            f"delete from {SNAPSHOT_ALIAS}.{ROW_COUNTS_TABLE} where table_name in ({', '.join('?' * len(alerts))})",
            alerts,
        )
        build.executemany(f"insert into {SNAPSHOT_ALIAS}.{ROW_COUNTS_TABLE} values (?, ?)", list(counts.items()))
        # Snapshots published before ``published_at`` existed get the column here.
        build.execute(
            f"alter table {SNAPSHOT_ALIAS}.{SNAPSHOT_TABLE} add column if not exists published_at timestamptz"
        )
        build.execute(f"update {SNAPSHOT_ALIAS}.{SNAPSHOT_TABLE} set published_at = ?", [dt.datetime.now(dt.UTC)])
    with duckdb.connect(str(staging_path), read_only=True) as snapshot:
        info = read_snapshot_info(snapshot)
    _put_in_place(staging_path, serving_path, info)
    return info


def read_snapshot_info(con: duckdb.DuckDBPyConnection) -> SnapshotInfo:
    """The build time, run id, row counts and publication time recorded in an open snapshot."""
    # `select *`: a snapshot published before the currency was recorded has no column of it.
    result = con.execute(f"select * from {SNAPSHOT_TABLE}")
    recorded = dict(zip([column[0] for column in result.description], result.fetchone(), strict=True))
    counts = dict(con.execute(f"select table_name, row_count from {ROW_COUNTS_TABLE} order by 1").fetchall())
    return SnapshotInfo(
        recorded["built_at"], recorded["run_id"], counts, recorded["published_at"], recorded.get("currency")
    )


def exports_root(serving_path: Path) -> Path:
    """Folder of the Parquet exports of ``serving_path`` (``<name>_exports``, beside it)."""
    return serving_path.with_name(f"{serving_path.stem}_exports")


def current_exports(serving_path: Path) -> Path:
    """The folder of the current snapshot's Parquet files, one ``<schema>.<table>.parquet`` a table."""
    return exports_root(serving_path) / CURRENT_EXPORTS


def _copy_table(build: duckdb.DuckDBPyConnection, name: str) -> int:
    """Copy one table into the attached snapshot (a view as the table of its rows, so the snapshot
    needs nothing of the build); returns its row count."""
    build.execute(f"create table {qualified(name, SNAPSHOT_ALIAS)} as select * from {qualified(name)}")
    return build.execute(f"select count(*) from {qualified(name, SNAPSHOT_ALIAS)}").fetchone()[0]


def _staging_path(serving_path: Path) -> Path:
    """A fresh file beside the serving one (same file system, so the final rename is atomic)."""
    serving_path.parent.mkdir(parents=True, exist_ok=True)
    staging_path = serving_path.with_name(f".{serving_path.name}.{os.getpid()}.new")
    staging_path.unlink(missing_ok=True)
    return staging_path


@contextlib.contextmanager
def _attached(
    build: duckdb.DuckDBPyConnection, snapshot_path: Path, *, storage_version: str | None = None
) -> Iterator[None]:
    """``snapshot_path`` attached to the build connection as :data:`SNAPSHOT_ALIAS` (the build file
    cannot be attached from a second connection while the run holds it); a new file is written in
    ``storage_version``'s format, an existing one keeps its own."""
    options = f" (storage_version {literal(storage_version)})" if storage_version else ""
    build.execute(f"attach {literal(str(snapshot_path))} as {SNAPSHOT_ALIAS}{options}")
    try:
        yield
    finally:
        build.execute(f"detach {SNAPSHOT_ALIAS}")


def _put_in_place(staging_path: Path, serving_path: Path, info: SnapshotInfo) -> None:
    """Write the staged snapshot's exports, then rename both into place."""
    exports = _write_exports(staging_path, serving_path, info)
    os.replace(staging_path, serving_path)
    _switch_exports(exports_root(serving_path), exports)


def _write_exports(snapshot_path: Path, serving_path: Path, info: SnapshotInfo) -> Path:
    """Parquet files of every table of the snapshot at ``snapshot_path``, in a new folder."""
    # A new folder for each publication (a refresh of the alerts keeps the snapshot's build time).
    folder = exports_root(serving_path) / f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True, exist_ok=False)
    with duckdb.connect(str(snapshot_path), read_only=True) as snapshot:
        for name in info.row_counts:
            # Sorted by its key, or by every column: a table's rows come in the order its build's
            # threads finished them, and two builds of the same data must give the same files.
            order = ", ".join(quote(column) for column in EXPORT_KEYS.get(name, ())) or "all"
            snapshot.execute(
                f"copy (select * from {qualified(name)} order by {order}) "
                f"to {literal(str(folder / f'{name}.parquet'))} (format parquet)"
            )
    return folder


def _switch_exports(root: Path, folder: Path) -> None:
    """Point ``root/current`` at ``folder`` in one rename, then remove every folder but the new one
    and the one ``current`` pointed to until now.

    The previous folder is kept until the next publication: a reader that resolved ``current``
    just before the switch may still be reading its files one by one. (A folder left by a
    publication that failed before switching is neither, and goes too.)

    A ``current`` that is a folder, not a link (the data folder copied by a tool that follows
    links, such as ``cp -L`` or Python's ``shutil.copytree``), is the previous folder: it is renamed
    aside first, as no rename can put a link over a folder.
    """
    link = root / CURRENT_EXPORTS
    previous = os.readlink(link) if link.is_symlink() else None
    if previous is None and link.is_dir():
        previous = f"{CURRENT_EXPORTS}-copied-{uuid.uuid4().hex[:8]}"
        link.rename(root / previous)
    staging_link = root / f".{CURRENT_EXPORTS}.{os.getpid()}.new"
    staging_link.unlink(missing_ok=True)
    staging_link.symlink_to(folder.name, target_is_directory=True)
    os.replace(staging_link, link)
    kept = {folder.name, previous}
    for old in root.iterdir():
        if old.is_dir() and not old.is_symlink() and old.name not in kept:
            shutil.rmtree(old)
