"""The persistent Dagster instance under the data folder, with an event log that stores a batch of
asset events in one transaction.

A run over a range of days records one materialization per raw table and day: 3,650 events for
two years of five tables. Dagster's SQLite event log opens, commits and closes two SQLite
connections per event (the run's own file and the cross-run index), about 9 ms each here, which
made the event log the slowest part of a full build (30 s of 50 s on an almost empty store).
Dagster hands a partition range's materializations over as one batch when
``DAGSTER_EVENT_BATCH_SIZE`` is set; :class:`BatchedSqliteEventLogStorage` writes such a batch in
one transaction per file. The files and their tables are Dagster's own, so ``make ui`` and any
other Dagster process read them as usual.
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import yaml
from dagster._core.events import ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

EVENT_BATCH_SIZE_FLAG = "DAGSTER_EVENT_BATCH_SIZE"
RANGE_RUN_FLAGS = {
    # One "materialization planned" event per asset for the whole range instead of one per asset
    # and day: a 2-year build plans 3,650 fewer events (35 s on SQLite storage). The cost, per
    # Dagster: if the run fails, its partitions show as missing rather than failed.
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
    # Asset events Dagster buffers before handing them to the storage: a partition range's events
    # arrive as batches of at most this many (the last one is flushed at the end of the step).
    EVENT_BATCH_SIZE_FLAG: "1000",
}
"""Dagster's switches for recording a run over a range of days cheaply; the Makefile exports the
same defaults for `make ui`."""
INSTANCE_FILE = "dagster.yaml"
KEPT_ENGINES = 8
"""SQLite files whose SQLAlchemy engine the event log keeps: the index and the latest runs' files."""


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log, storing a batch of one run's asset events in one transaction
    per file instead of two connections per event; other batches are stored one event at a time.

    Every event, batched or not, reuses its file's SQLAlchemy engine (Dagster's own storage creates
    and disposes of one for each event, setting the dialect up afresh every time), and commits
    without an fsync (:func:`_relaxed_sync`): together about 2 s of a nightly run's 600 events,
    most of them the dbt tests' checks. Connections are still opened per event and never pooled,
    as Dagster's are, so other processes (the UI, the daemon) share the files as before.
    """

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(  # ty: ignore[invalid-method-override]
        cls, inst_data: ConfigurableClassData | None, config_value: dict[str, str]
    ) -> BatchedSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # As SqliteEventLogStorage._connect, with the engine kept (the least recently used beyond
        # KEPT_ENGINES disposed of).
        with self._db_lock:
            engine = self._engines.pop(shard, None)
            if engine is None:
                engine = create_engine(
                    self.conn_string_for_shard(shard),
                    poolclass=NullPool,
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
                )
                event.listen(engine, "connect", _relaxed_sync)
                if shard not in self._initialized_dbs:
                    self._initdb(engine)
                    self._initialized_dbs.add(shard)
            self._engines[shard] = engine
            while len(self._engines) > KEPT_ENGINES:
                self._engines.popitem(last=False)[1].dispose()
            with engine.connect() as conn, conn.begin():
                yield conn

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        super().dispose()

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        run_ids = {event.run_id for event in events}
        if len(run_ids) != 1 or not all(
            event.is_dagster_event and event.dagster_event_type in ASSET_EVENTS for event in events
        ):
            super().store_event_batch(events)
            return
        statements = [self.prepare_insert_event(event) for event in events]
        # The same writes as SqliteEventLogStorage.store_event makes for an asset event.
        with self.run_connection(run_ids.pop()) as conn:
            for statement in statements:
                conn.execute(statement)
        with self.index_transaction() as conn:
            event_ids = []
            for statement in statements:
                with db_result(conn, statement) as result:
                    event_ids.append(result.inserted_primary_key[0])
            self._store_asset_event_tags(conn, events, event_ids)
            for event, event_id in zip(events, event_ids, strict=True):
                self._store_asset_event(conn, event, event_id)


def _relaxed_sync(dbapi_connection: object, _record: object) -> None:
    """No fsync on every commit: in WAL mode SQLite stays consistent, a power cut loses at most the last events."""
    cursor = dbapi_connection.cursor()
    cursor.execute("pragma synchronous = normal")
    cursor.close()


def instance_config(home: Path) -> dict[str, object]:
    """``dagster.yaml`` of an instance in ``home``: Dagster's defaults, with the batched event log and
    without telemetry (nothing here may reach outside the machine)."""
    return {
        "event_log_storage": {
            # Spelled out: run as ``python -m pipelines.instance`` this module's __name__ is __main__.
            "module": "pipelines.instance",
            "class": BatchedSqliteEventLogStorage.__name__,
            "config": {"base_dir": str(home.resolve() / "history" / "runs")},
        },
        "telemetry": {"enabled": False},
    }


def prepare_instance(home: Path) -> None:
    """Create the instance folder ``home`` with its ``dagster.yaml`` (unless the user wrote one) and
    turn on :data:`RANGE_RUN_FLAGS` for this process (unless set already)."""
    home.mkdir(parents=True, exist_ok=True)
    config_file = home / INSTANCE_FILE
    if not config_file.exists():
        config_file.write_text(yaml.safe_dump(instance_config(home), sort_keys=False))
    for flag, value in RANGE_RUN_FLAGS.items():
        os.environ.setdefault(flag, value)


def main(argv: list[str]) -> int:
    """``python -m pipelines.instance HOME``: prepare the instance folder (``make install`` does, so
    that ``make ui`` runs on the same ``dagster.yaml`` as ``make run``)."""
    if len(argv) != 1:
        print("usage: python -m pipelines.instance DAGSTER_HOME", file=sys.stderr)
        return 2
    prepare_instance(Path(argv[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
