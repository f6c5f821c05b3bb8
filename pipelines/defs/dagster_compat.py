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
  storing a batch of one run's asset events in one transaction per file; ``dagster.yaml`` names it
  when ``ANALYTICS_BATCHED_EVENT_LOG`` is on (:mod:`pipelines.cli.instance`). Why it exists and what
  it saves against Dagster's supported options: ``docs/architecture.md``.
"""

from __future__ import annotations

import shutil
import sys
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    DagsterInstance,
    OpExecutionContext,
    get_dagster_logger,
)
from dagster._core.events import ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.sqlalchemy_compat import db_result
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
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

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
"""SQLite files whose SQLAlchemy engine the event log keeps: the index and the latest runs' files."""


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
            "debug",
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
    """Dagster's SQLite event log, storing a batch of one run's asset events in one transaction
    per file instead of two connections per event; other batches are stored one event at a time.

    Every event, batched or not, reuses its file's SQLAlchemy engine (Dagster's own storage creates
    and disposes of one for each event, setting the dialect up afresh every time), and commits
    without an fsync (:func:`_relaxed_sync`). Connections are still opened per event and never
    pooled, as Dagster's are, so other processes (the UI, the daemon) share the files as before.
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
