"""Read-only access to the published snapshot for the API: the file attached to an in-memory DuckDB,
followed across publications, with each answer computed once per snapshot."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.warehouse.snapshot import SnapshotInfo, read_snapshot_info
from pipelines.warehouse.sql import literal

SNAPSHOT_CATALOG = "snapshot"


class SnapshotUnavailable(Exception):
    """There is no snapshot to read, or the file is not one: the API answers 503 with this message."""


class SnapshotReader:
    """Read-only access to the serving file, reopened when a new snapshot has replaced it, with
    each answer computed once per snapshot.

    A request checks the file's inode and modification time, which the atomic replace changes;
    when they differ the new file is attached and the answers computed from the old one are
    dropped. A snapshot never changes, so an answer computed from it stays right until then, and
    most requests are a ``stat`` and a lookup. Requests already under way keep the old connection,
    and so the old snapshot, to their end; the old connection is closed when the last of them is
    done (closing it earlier would close their cursors with it). The file is attached to an
    in-memory database rather than opened by path, because DuckDB hands a second ``connect`` of
    the same path the instance already open, and so the old file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._snapshot: _OpenSnapshot | None = None

    @contextlib.contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on the current snapshot, its catalog the default one, for the block's duration."""
        with self._reading() as (_, cursor):
            yield cursor

    def cached(self, key: Hashable) -> bytes | None:
        """The answer stored under ``key`` for the current snapshot, if any."""
        with self._lock:
            return self._follow_file().answers.get(key)

    def compute(self, key: Hashable, compute: Callable[[duckdb.DuckDBPyConnection, SnapshotInfo], object]) -> bytes:
        """``compute``'s answer as JSON, stored under ``key`` for as long as the snapshot lasts."""
        with self._reading() as (snapshot, cursor):
            body = json.dumps(compute(cursor, read_snapshot_info(cursor))).encode()
        with self._lock:
            # Stored with the snapshot it was computed from: if a newer one has replaced it
            # meanwhile, the answer goes with the old one and the newer one computes its own.
            snapshot.answers[key] = body
        return body

    def answer_keys(self) -> set[Hashable]:
        """The keys of the answers stored for the current snapshot: what the cache holds."""
        with self._lock:
            return set(self._follow_file().answers)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[tuple[_OpenSnapshot, duckdb.DuckDBPyConnection]]:
        """The current snapshot and a cursor on it; the snapshot counts the cursor as a user until the block ends."""
        with self._lock:
            snapshot = self._follow_file()
            snapshot.users += 1
        try:
            cursor = snapshot.connection.cursor()
            try:
                cursor.execute(f"use {SNAPSHOT_CATALOG}")
                yield snapshot, cursor
            finally:
                cursor.close()
        finally:
            with self._lock:
                snapshot.users -= 1
                snapshot.close_if_unused()

    def _follow_file(self) -> _OpenSnapshot:
        """The open snapshot of the file as it is now (called with the lock held)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise SnapshotUnavailable(f"no snapshot at {self.path} yet: run `make run` to publish one") from None
        identity = (stat.st_ino, stat.st_mtime_ns)
        if self._snapshot is None or self._snapshot.identity != identity:
            replaced = self._snapshot
            self._snapshot = _OpenSnapshot(connection=open_snapshot(self.path), identity=identity)
            if replaced is not None:
                replaced.replaced = True
                replaced.close_if_unused()
        return self._snapshot


@dataclass
class _OpenSnapshot:
    """One attached snapshot file, the answers computed from it, and how many requests read it now."""

    connection: duckdb.DuckDBPyConnection
    identity: tuple[int, int]
    answers: dict[Hashable, bytes] = field(default_factory=dict)
    users: int = 0
    replaced: bool = False

    def close_if_unused(self) -> None:
        """Close the connection once a newer snapshot has replaced this one and no request reads it."""
        if self.replaced and self.users == 0:
            self.connection.close()


def open_snapshot(path: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory database with ``path`` attached read-only as the snapshot catalog.

    :class:`SnapshotUnavailable` (a 503 of the API, not a 500 on every request) naming the file
    unless it is a snapshot this API reads (not a DuckDB file at all, a corrupt one, one published
    by an older version, or another DuckDB file configured by mistake).
    """
    connection = duckdb.connect(":memory:")
    try:
        connection.execute(f"attach {literal(str(path))} as {SNAPSHOT_CATALOG} (read_only)")
        connection.execute(f"use {SNAPSHOT_CATALOG}")
        read_snapshot_info(connection)
    except duckdb.Error as error:
        connection.close()
        raise SnapshotUnavailable(
            f"{path} is not a snapshot this API can read ({type(error).__name__}: {error}); "
            "publish a new one with `make run` or check ANALYTICS_SERVING_PATH"
        ) from None
    return connection
