"""The one corner of the project that relies on Dagster's (and dagster-dbt's) private API.

Everything here reaches below the public interface, so an upgrade of Dagster may change it without
notice; ``tests/unit/test_dagster_compat.py`` checks each thing relied on (the tags' values, the
event log's methods, dagster-dbt's invocation and the helpers its ``cli`` uses), and
``tests/integration/test_instance.py`` what needs an instance (the instance of a folder, what the
event log writes), so that an upgrade that breaks one fails there, by name, rather than somewhere
in a run.

- **Run tags.** The tags Dagster puts on a run of one partition or of a partition range, read by
  the run-failure alerts and written by ``make run`` to launch a backfill as one run.
- **The instance by folder.** ``InstanceRef.from_dir``: a Dagster instance of a given folder without
  setting ``DAGSTER_HOME`` in this process (the benchmark reads several).
- **dbt in this process.** :class:`StorefrontDbtCliResource` does what dagster-dbt's ``cli`` does
  (with its helpers for the run's selection and target folder) but hands dagster-dbt's invocation a
  thread running dbt (:mod:`pipelines.defs.dbt_in_process`) where it would start a ``dbt`` process,
  with no ``dbt --version`` before and no dbt adapter built in this process that nothing uses.
- **The batched event log.** :class:`BatchedSqliteEventLogStorage`, Dagster's own SQLite event log
  on one kept connection per file, storing a batch of one run's events in one transaction per file
  (Dagster's ``store_event`` per event, its writes joining the batch's); ``dagster.yaml`` names it
  when ``ANALYTICS_BATCHED_EVENT_LOG`` is on (:mod:`pipelines.cli.instance`). Why it exists and what
  it saves against Dagster's supported options: ``docs/architecture.md``.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    DagsterInstance,
    OpExecutionContext,
    get_dagster_logger,
)
from dagster._core.events.log import EventLogEntry
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from dagster._serdes import ConfigurableClassData
from dagster_dbt import DagsterDbtTranslator, DbtCliInvocation, DbtCliResource, DbtProject
from dagster_dbt.asset_utils import extract_runtime_selection_from_args, get_updated_cli_invocation_params_for_context
from dagster_dbt.compat import DBT_PYTHON_VERSION
from dagster_dbt.core.dbt_cli_invocation import PARTIAL_PARSE_FILE_NAME, _get_dbt_target_path
from dagster_dbt.dagster_dbt_translator import validate_opt_translator
from dagster_dbt.dbt_manifest import validate_manifest
from pydantic import Field
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool, StaticPool

from pipelines.defs.dbt_in_process import DbtThread

__all__ = [
    "ASSET_PARTITION_RANGE_END_TAG",
    "ASSET_PARTITION_RANGE_START_TAG",
    "PARTITION_NAME_TAG",
    "BatchedSqliteEventLogStorage",
    "StorefrontDbtCliResource",
    "instance_at",
    "range_run_tags",
]

KEPT_ENGINES = 8
"""SQLite files whose SQLAlchemy engine and open connection the event log keeps: the index and the
latest runs' files."""


def range_run_tags(first_day: str, last_day: str) -> dict[str, str]:
    """The tags that make a run a backfill of the partitions ``first_day .. last_day`` as one run."""
    return {ASSET_PARTITION_RANGE_START_TAG: first_day, ASSET_PARTITION_RANGE_END_TAG: last_day}


def instance_at(home: Path) -> DagsterInstance:
    """The Dagster instance whose folder (``DAGSTER_HOME``) is ``home``; the caller disposes of it."""
    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def dbt_executable() -> str:
    """The ``dbt`` next to this interpreter, which dagster-dbt names in its log lines (dbt itself runs
    in this process, :mod:`pipelines.defs.dbt_in_process`); ``dbt`` on the PATH where it is not
    installed (a checkout without ``make install``)."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


class StorefrontDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt CLI, with dbt run on a thread of this process (:mod:`pipelines.defs.dbt_in_process`)
    instead of as a child process, and no dbt adapter built in this process beforehand.

    :meth:`cli` is dagster-dbt's own (``DbtCliResource.cli`` and ``DbtCliInvocation.run``: the
    selection of the run's assets, a target folder per invocation seeded with the project's parse
    state) up to the point where it starts the ``dbt`` process: the environment it would hand that
    process becomes dbt's own arguments, and the invocation reads a :class:`DbtThread`. dagster-dbt
    also builds a dbt adapter in this process before every invocation, only for
    ``fetch_row_counts()`` and ``fetch_column_metadata()``, which the dbt asset does not call
    (pipelines/assets/dbt.py reads the relations' shapes itself): the invocation has none, as it has
    when building one fails.
    """

    file_log_level: Literal["debug", "info"] = Field(
        "debug",
        description="The level of the dbt.log each invocation writes in its target folder: `debug` adds "
        "every query dbt runs to the results of its nodes (ANALYTICS_LOG_LEVEL=DEBUG); `info` is the results only.",
    )

    def cli(  # ty: ignore[invalid-method-override]
        self,
        args: Sequence[str],
        *,
        raise_on_error: bool = True,
        manifest: Mapping[str, Any] | None = None,
        dagster_dbt_translator: DagsterDbtTranslator | None = None,
        context: OpExecutionContext | AssetExecutionContext | None = None,
        target_path: Path | None = None,
    ) -> DbtCliInvocation:
        cleaned_args, runtime_selects, runtime_excludes = extract_runtime_selection_from_args(args)
        params = get_updated_cli_invocation_params_for_context(
            context=context,
            manifest=validate_manifest(manifest) if manifest else {},
            dagster_dbt_translator=validate_opt_translator(dagster_dbt_translator) or DagsterDbtTranslator(),
            runtime_selects=runtime_selects,
            runtime_excludes=runtime_excludes,
        )
        project_dir = Path(params.dbt_project.project_dir if params.dbt_project else self.project_dir)
        target_path = target_path or self._get_unique_target_path(context=context)
        if not target_path.is_absolute():
            target_path = project_dir / target_path
        seed_partial_parse(project_dir / _get_dbt_target_path(), target_path)
        dbt_args = [
            *self.global_config_flags,
            *cleaned_args,
            *(["--profile", self.profile] if self.profile else []),
            *(["--target", self.target] if self.target else []),
            *params.selection_args,
            *(["--indirect-selection", params.indirect_selection] if params.indirect_selection else []),
            # What dagster-dbt sets in the dbt process's environment.
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(self.profiles_dir or project_dir),
            "--target-path",
            str(target_path),
            "--log-path",
            str(target_path),
            "--log-format-file",
            "json",
            # Set, or it would follow --log-level below.
            "--log-level-file",
            self.file_log_level,
            # dbt's events reach dagster-dbt through the thread, which prints them as it would a
            # process's: dbt itself prints nothing.
            "--log-level",
            "none",
        ]
        dbt = DbtThread(dbt_args)
        get_dagster_logger().info(f"Running dbt in this process: `{' '.join(dbt.args)}`.")
        return DbtCliInvocation(
            process=dbt,  # ty: ignore[invalid-argument-type]
            manifest=params.manifest,
            project=params.dbt_project,
            dagster_dbt_translator=params.dagster_dbt_translator,
            project_dir=project_dir,
            target_path=target_path,
            raise_on_error=raise_on_error,
            context=context,
            adapter=None,
            cli_version=DBT_PYTHON_VERSION,
        )


def seed_partial_parse(project_target: Path, invocation_target: Path) -> None:
    """Copy the project's ``partial_parse.msgpack`` into an invocation's target folder, as dagster-dbt
    does, so that dbt skips parsing the project again."""
    state = project_target / PARTIAL_PARSE_FILE_NAME
    if state.exists() and not (invocation_target / PARTIAL_PARSE_FILE_NAME).exists():
        invocation_target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(state, invocation_target / PARTIAL_PARSE_FILE_NAME)


class DescribedChecksDbtTranslator(DagsterDbtTranslator):
    """dagster-dbt's translator, whose asset checks are described: by the dbt test's own
    ``description`` if it has one, else by :meth:`describe_test` (dagster-dbt reads only a
    ``meta.description``, which no test here has, so every check's description was empty).
    ``get_asset_check_spec`` is not public API: tests/unit/test_dagster_compat.py checks it."""

    def get_asset_check_spec(
        self, asset_spec: AssetSpec, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        test = manifest["nodes"][unique_id]
        return AssetCheckSpec(
            name=spec.name,
            asset=spec.asset_key,
            description=test.get("description") or self.describe_test(test),
            additional_deps=spec.additional_deps,
            blocking=spec.blocking,
            metadata=spec.metadata,
        )

    def describe_test(self, test: Mapping[str, Any]) -> str:
        """What the dbt test node ``test`` (a manifest entry) checks, for people."""
        return f"dbt test {test['name']}"


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log on one kept connection per file, storing a batch of one run's
    events in one transaction per file.

    Dagster's own storage creates an engine and opens, commits and closes a connection for each of an
    event's writes (about five per event: closing the last connection checkpoints the file's WAL,
    with an fsync). Here each file keeps its engine and its one connection (the latest
    :data:`KEPT_ENGINES` files), used by one thread at a time under Dagster's lock, and commits
    without an fsync (:func:`_relaxed_sync`). A batch (:meth:`store_event_batch`) is stored by
    Dagster's own ``store_event`` per event, whose writes join the batch's transaction on each file,
    less the writes of an asset's row that a later event of the batch overwrites
    (:meth:`_store_asset_event`). Other processes (the UI, the daemon) read and write the same files as before: between
    transactions a kept connection holds no lock (WAL mode). They learn of new events as they did:
    Dagster's watchers (the UI's live run page) react to a change of the run's file, which Dagster's
    storage made by checkpointing at each close; here a write touches the file (:meth:`_connect`).
    """

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        self._transactions: dict[str, Connection] = {}
        self._superseded_asset_rows: set[int] = set()
        self._tables_present: set[str] = set()
        super().__init__(base_dir, inst_data=inst_data)
        # Reentrant, so that the writes of store_event can join a batch's transactions (_connect).
        self._db_lock = threading.RLock()

    @classmethod
    def from_config_value(  # ty: ignore[invalid-method-override]
        cls, inst_data: ConfigurableClassData | None, config_value: dict[str, str]
    ) -> BatchedSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # As SqliteEventLogStorage._connect, on the file's kept connection; inside a transaction open
        # on the file in this thread (a batch's), that transaction.
        with self._db_lock:
            joined = self._transactions.get(shard)
            if joined is not None:
                yield joined
                return
            with self._engine(shard).connect() as conn:
                sqlite = conn.connection.dbapi_connection
                changes_before = sqlite.total_changes
                with conn.begin():
                    self._transactions[shard] = conn
                    try:
                        yield conn
                    finally:
                        del self._transactions[shard]
                wrote = sqlite.total_changes != changes_before
            if wrote:
                # What Dagster's watchers of the file react to (watchdog: a modification).
                os.utime(self.path_for_shard(shard))

    def _engine(self, shard: str) -> Engine:
        """The kept engine of ``shard``'s file (the least recently used beyond KEPT_ENGINES disposed of),
        with one connection that any thread may use, set up by Dagster on first use in this process."""
        if os.getpid() != self._engines_pid:
            # A forked child must not use the parent's SQLite connections (nor close them).
            for engine in self._engines.values():
                engine.dispose(close=False)
            self._engines.clear()
            self._engines_pid = os.getpid()
        engine = self._engines.pop(shard, None)
        if engine is None:
            connection_string = self.conn_string_for_shard(shard)
            if shard not in self._initialized_dbs:
                # Dagster's set-up checks out connections of its own: on an engine that pools none.
                setup = create_engine(
                    connection_string, poolclass=NullPool, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
                )
                self._initdb(setup)
                setup.dispose()
                self._initialized_dbs.add(shard)
            engine = create_engine(
                connection_string,
                poolclass=StaticPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            event.listen(engine, "connect", _relaxed_sync)
        self._engines[shard] = engine
        while len(self._engines) > KEPT_ENGINES:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    def has_table(self, table_name: str) -> bool:
        # As SqliteEventLogStorage.has_table, on the index's kept connection instead of an engine of
        # its own. Dagster asks before every write of an asset event's tags or a check's result; a
        # table, once there, stays (migrations add tables; a wipe forgets them here), so a yes is kept.
        if table_name in self._tables_present:
            return True
        with self.index_connection() as conn:
            present = bool(conn.dialect.has_table(conn, table_name))
        if present:
            self._tables_present.add(table_name)
        return present

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()

    def wipe(self) -> None:
        # Dagster's wipe deletes the runs' files: their kept connections must not outlive them.
        with self._db_lock:
            self._dispose_engines()
            self._tables_present.clear()
            super().wipe()

    def _dispose_engines(self) -> None:
        """Close every kept connection and forget its engine."""
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        run_ids = {event.run_id for event in events}
        if len(run_ids) != 1:
            super().store_event_batch(events)
            return
        # Dagster's writes for each event, in one transaction on the run's file and one on the index.
        with self.run_connection(run_ids.pop()), self.index_transaction():
            self._superseded_asset_rows = superseded_asset_rows(events)
            try:
                for entry in events:
                    self.store_event(entry)
            finally:
                self._superseded_asset_rows = set()

    def _store_asset_event(self, conn: Connection, event: EventLogEntry, event_id: int) -> None:
        # Dagster rewrites the asset's row (its latest event, serialized) for every event; in a
        # batch (a range run: one materialization per asset and day) only the last write of each
        # kind survives the transaction, so the ones it overwrites are left out.
        if id(event) not in self._superseded_asset_rows:
            super()._store_asset_event(conn, event, event_id)


def superseded_asset_rows(events: Sequence[EventLogEntry]) -> set[int]:
    """The ``id()`` of each event of ``events`` followed by another of the same asset and event type:
    Dagster's write of the asset's row for the later event sets every column the earlier one sets."""
    later: set[tuple[str, str]] = set()
    superseded = set()
    for entry in reversed(events):
        asset_key = entry.dagster_event.asset_key if entry.dagster_event else None
        if asset_key is None:
            continue
        kind = (asset_key.to_string(), entry.dagster_event.event_type_value)
        if kind in later:
            superseded.add(id(entry))
        later.add(kind)
    return superseded


def _relaxed_sync(dbapi_connection: object, _record: object) -> None:
    """No fsync on every commit: in WAL mode SQLite stays consistent, a power cut loses at most the last events."""
    cursor = dbapi_connection.cursor()
    cursor.execute("pragma synchronous = normal")
    cursor.close()
