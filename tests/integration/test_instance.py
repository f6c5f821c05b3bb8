"""The persistent Dagster instance of `make run`: its batched event log records what Dagster's own does,
and ANALYTICS_BATCHED_EVENT_LOG turns it off and on."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml
from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    MaterializeResult,
    MetadataValue,
    asset,
    materialize,
)
from dagster._core.events.log import EventLogEntry
from dagster._core.instance import RUNLESS_RUN_ID
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from pipelines.cli.instance import EVENT_BATCH_SIZE_FLAG, INSTANCE_FILE, RUN_MONITORING, prepare_instance
from pipelines.defs.dagster_compat import KEPT_ENGINES, BatchedSqliteEventLogStorage, instance_at
from pipelines.source_schema import SOURCE_TABLES
from tests.support.pipeline_runs import SAMPLE_FIRST_DAY, run_pipeline

REPOSITORY = Path(__file__).resolve().parents[2]
DAYS = 5
LAST_DAY = SAMPLE_FIRST_DAY + dt.timedelta(days=DAYS - 1)


@pytest.mark.parametrize(
    "event_log",
    # "2" splits the five days of each table into batches of 2, 2 and 1 (the last is flushed at the end);
    # without the batched event log, Dagster's own stores the same events one by one.
    [(True, "1000"), (True, "2"), (False, None)],
)
def test_a_range_run_records_one_materialization_per_day_in_the_instance(
    sample_store, make_settings, tmp_path, monkeypatch, event_log
):
    batched, batch_size = event_log
    if batch_size is None:
        monkeypatch.delenv(EVENT_BATCH_SIZE_FLAG, raising=False)
    else:
        monkeypatch.setenv(EVENT_BATCH_SIZE_FLAG, batch_size)
    home = tmp_path / "dagster_home"
    prepare_instance(home, batched_event_log=batched)
    settings = make_settings(sample_store)

    with DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.event_log_storage, BatchedSqliteEventLogStorage) == batched
        assert isinstance(instance.event_log_storage, SqliteEventLogStorage)
        result = run_pipeline(
            settings, SAMPLE_FIRST_DAY, LAST_DAY, selection=AssetSelection.groups("ingest"), instance=instance
        )
        days = {(SAMPLE_FIRST_DAY + dt.timedelta(days=offset)).isoformat() for offset in range(DAYS)}
        for table in SOURCE_TABLES:
            key = AssetKey(["raw", table])
            assert instance.get_materialized_partitions(key) == days, table
            latest = instance.get_latest_materialization_event(key)
            assert (latest.run_id, latest.dagster_event.partition) == (result.run_id, LAST_DAY.isoformat())
        records = instance.fetch_materializations(AssetKey(["raw", "transactions"]), limit=100).records
        assert sorted(record.partition_key for record in records) == sorted(days)
        # The asset's own row (what the asset pages read first) names its latest materialization.
        (asset,) = instance.get_asset_records([AssetKey(["raw", "transactions"])])
        assert asset.asset_entry.last_materialization_record.storage_id == max(r.storage_id for r in records)
        assert asset.asset_entry.last_run_id == result.run_id
        # The run's own log (what the UI's run page shows) holds the same events as the index.
        assert (
            len(instance.all_logs(result.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION))
            == len(SOURCE_TABLES) * DAYS
        )


def prepare_with_env(home: Path, batched_event_log: str) -> None:
    """``make install``'s step: ``python -m pipelines.cli.instance HOME`` with ANALYTICS_BATCHED_EVENT_LOG set."""
    env = {**os.environ, "ANALYTICS_BATCHED_EVENT_LOG": batched_event_log}
    subprocess.run([sys.executable, "-m", "pipelines.cli.instance", str(home)], check=True, cwd=REPOSITORY, env=env)


def test_make_install_prepares_an_instance_that_dagster_loads_and_follows_the_setting(tmp_path):
    home = tmp_path / "dagster_home"

    prepare_with_env(home, "true")
    with DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.event_log_storage, BatchedSqliteEventLogStorage)
        assert instance.event_log_storage._base_dir == str(home / "history" / "runs")
        # The daemon watches the runs it launches: a lost one is failed, never resumed.
        assert instance.run_monitoring_enabled
        assert (instance.run_monitoring_start_timeout_seconds, instance.run_monitoring_cancel_timeout_seconds) == (
            RUN_MONITORING["start_timeout_seconds"],
            RUN_MONITORING["cancel_timeout_seconds"],
        )
        assert instance.run_monitoring_max_resume_run_attempts == 0
    prepare_with_env(home, "false")
    with DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.event_log_storage) is SqliteEventLogStorage
    assert "telemetry" in yaml.safe_load((home / INSTANCE_FILE).read_text())


def test_a_dagster_yaml_written_before_the_module_moved_is_rewritten(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / INSTANCE_FILE).write_text(
        "event_log_storage:\n  module: pipelines.instance\n  class: BatchedSqliteEventLogStorage\n"
    )

    prepare_instance(home, batched_event_log=True)

    with DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.event_log_storage, BatchedSqliteEventLogStorage)


def test_prepare_instance_keeps_a_users_own_dagster_yaml(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / INSTANCE_FILE).write_text("telemetry:\n  enabled: true\n")

    prepare_instance(home, batched_event_log=True)

    assert yaml.safe_load((home / INSTANCE_FILE).read_text()) == {"telemetry": {"enabled": True}}


def test_runs_beyond_the_kept_engines_are_all_recorded_and_read_back(sample_store, make_settings, tmp_path):
    home = tmp_path / "dagster_home"
    prepare_instance(home, batched_event_log=True)
    settings = make_settings(sample_store)
    runs = KEPT_ENGINES + 2  # the first runs' engines are disposed of while later runs write

    with DagsterInstance.from_config(str(home)) as instance:
        run_ids = [
            run_pipeline(
                settings,
                SAMPLE_FIRST_DAY,
                SAMPLE_FIRST_DAY,
                selection=AssetSelection.assets(["raw", "costs"]),
                instance=instance,
            ).run_id
            for _ in range(runs)
        ]
        assert len(instance.event_log_storage._engines) <= KEPT_ENGINES

    # A second instance on the same files, as the UI opens them.
    with DagsterInstance.from_config(str(home)) as reader:
        for run_id in run_ids:
            assert len(reader.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)) == 1
            assert len(reader.all_logs(run_id, of_type=DagsterEventType.RUN_SUCCESS)) == 1
        assert reader.get_latest_materialization_event(AssetKey(["raw", "costs"])).run_id == run_ids[-1]


def test_the_instance_of_a_folder_is_a_dagster_instance_on_that_folder(tmp_path):
    instance = instance_at(tmp_path)
    try:
        assert isinstance(instance, DagsterInstance)
        assert Path(instance.root_directory) == tmp_path
    finally:
        instance.dispose()


def test_the_batched_event_log_keeps_dagsters_state_of_initialised_files(tmp_path):
    storage = BatchedSqliteEventLogStorage(str(tmp_path))
    try:
        # _connect reads these attributes of Dagster's storage.
        assert isinstance(storage._initialized_dbs, set)
        assert storage._db_lock is not None
        with storage.index_connection() as conn:
            assert conn is not None
        assert len(storage._engines) == 1
    finally:
        storage.dispose()


@asset(
    check_specs=[
        AssetCheckSpec("has_orders", asset="orders"),
        AssetCheckSpec("amounts_positive", asset="orders", description="warns"),
    ]
)
def orders() -> MaterializeResult:
    """An asset with one passing and one failing (warning) check, each with metadata."""
    return MaterializeResult(
        metadata={"rows": 3},
        check_results=[
            AssetCheckResult(check_name="has_orders", passed=True, metadata={"rows": 3}),
            AssetCheckResult(
                check_name="amounts_positive", passed=False, severity=AssetCheckSeverity.WARN, metadata={"bad": 1}
            ),
        ],
    )


def metadata_values(metadata: Mapping[str, MetadataValue]) -> dict[str, object]:
    return {key: value.value for key, value in metadata.items()}


def recorded_checks(instance: DagsterInstance) -> dict[str, tuple[str, dict[str, object]]]:
    """Each check of ``orders``: the status of its latest execution and its evaluation's metadata."""
    recorded = {}
    for name in ("has_orders", "amounts_positive"):
        (record,) = instance.event_log_storage.get_asset_check_execution_history(
            AssetCheckKey(AssetKey("orders"), name), limit=10
        )
        evaluation = record.event.dagster_event.asset_check_evaluation_data
        recorded[name] = (record.status.value, metadata_values(evaluation.metadata))
    return recorded


def test_the_batched_event_log_records_a_runs_checks_and_materializations_as_dagsters_own(tmp_path, monkeypatch):
    # A batch size makes Dagster hand the run's planned materialization and planned checks to
    # store_event_batch as one batch.
    monkeypatch.setenv(EVENT_BATCH_SIZE_FLAG, "1000")
    read_back = {}
    for batched in (True, False):
        home = tmp_path / f"batched_{batched}"
        prepare_instance(home, batched_event_log=batched)
        with DagsterInstance.from_config(str(home)) as instance:
            assert isinstance(instance.event_log_storage, BatchedSqliteEventLogStorage) == batched
            run_id = materialize([orders], instance=instance).run_id
            latest = instance.get_latest_materialization_event(AssetKey("orders"))
            read_back[batched] = (
                [record.event_log_entry.dagster_event_type for record in instance.get_records_for_run(run_id).records],
                metadata_values(latest.asset_materialization.metadata),
                recorded_checks(instance),
            )

    event_types, metadata, checks = read_back[True]
    assert checks == {"has_orders": ("SUCCEEDED", {"rows": 3}), "amounts_positive": ("FAILED", {"bad": 1})}
    assert metadata == {"rows": 3}
    assert event_types.count(DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED) == 2
    assert read_back[True] == read_back[False]


READER = textwrap.dedent(
    """
    import json, sys
    from dagster import AssetKey, AssetMaterialization, DagsterEventType, DagsterInstance
    from tests.integration.test_instance import recorded_checks

    home, run_id = sys.argv[1:]
    with DagsterInstance.from_config(home) as instance:
        materializations = instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
        successes = instance.all_logs(run_id, of_type=DagsterEventType.RUN_SUCCESS)
        checks = recorded_checks(instance)
        instance.report_runless_asset_event(AssetMaterialization("orders", metadata={"by": "another process"}))
    print(json.dumps({"materializations": len(materializations), "successes": len(successes), "checks": checks}))
    """
)


def test_another_process_reads_and_writes_the_files_while_a_run_holds_its_connections(tmp_path):
    home = tmp_path / "dagster_home"
    prepare_instance(home, batched_event_log=True)

    with DagsterInstance.from_config(str(home)) as instance:
        first = materialize([orders], instance=instance).run_id
        # The run's instance keeps its connections to the run's file and the index open meanwhile.
        assert instance.event_log_storage._engines
        other = subprocess.run(
            [sys.executable, "-c", READER, str(home), first],
            check=True,
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
        )
        second = materialize([orders], instance=instance).run_id
        records = instance.fetch_materializations(AssetKey("orders"), limit=10).records

    assert json.loads(other.stdout) == {
        "materializations": 1,
        "successes": 1,
        "checks": {"has_orders": ["SUCCEEDED", {"rows": 3}], "amounts_positive": ["FAILED", {"bad": 1}]},
    }
    # Newest first: this process's second run, the other process's materialization, the first run.
    assert [(record.run_id, metadata_values(record.asset_materialization.metadata)) for record in records] == [
        (second, {"rows": 3}),
        (RUNLESS_RUN_ID, {"by": "another process"}),
        (first, {"rows": 3}),
    ]


def log_entry(run_id: str, message: str) -> EventLogEntry:
    return EventLogEntry(
        error_info=None, level=logging.INFO, user_message=message, run_id=run_id, timestamp=time.time()
    )


def test_a_watcher_of_a_run_on_another_storage_sees_each_event_as_it_is_stored(tmp_path):
    # The UI's live run page: Dagster's watcher reacts to a change of the run's file, then reads it.
    writer = BatchedSqliteEventLogStorage(str(tmp_path))
    reader = BatchedSqliteEventLogStorage(str(tmp_path))
    seen: list[str] = []
    arrived = threading.Condition()

    def on_event(event: EventLogEntry, _cursor: str) -> None:
        with arrived:
            seen.append(event.user_message)
            arrived.notify_all()

    try:
        writer.store_event(log_entry("run-1", "first"))
        reader.watch("run-1", None, on_event)
        for count, message in enumerate(("second", "third"), start=2):
            writer.store_event(log_entry("run-1", message))
            with arrived:
                # A bound, not a timing: without a change of the file the event never arrives.
                assert arrived.wait_for(lambda count=count: len(seen) == count, timeout=60), seen
        assert seen == ["first", "second", "third"]
    finally:
        reader.dispose()
        writer.dispose()


def test_a_forked_child_stores_events_on_connections_of_its_own(tmp_path):
    storage = BatchedSqliteEventLogStorage(str(tmp_path))
    try:
        storage.store_event(log_entry("run-1", "parent"))
        parents_engine = storage._engines["run-1"]  # kept referenced, so a new engine cannot reuse its id
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:
            # The child reports whether its engine for the run's file is a new one, after storing an event.
            os.close(read_end)
            storage.store_event(log_entry("run-1", "child"))
            os.write(write_end, b"new" if storage._engines["run-1"] is not parents_engine else b"old")
            os._exit(0)
        os.close(write_end)
        _, status = os.waitpid(child, 0)
        with os.fdopen(read_end, "rb") as answer:
            assert (os.waitstatus_to_exitcode(status), answer.read()) == (0, b"new")
        assert [record.event_log_entry.user_message for record in storage.get_records_for_run("run-1").records] == [
            "parent",
            "child",
        ]
    finally:
        storage.dispose()


def test_a_wiped_event_log_records_a_runs_events_in_its_new_file(tmp_path):
    # Dagster's wipe deletes the runs' files, to which the storage had kept connections open.
    storage = BatchedSqliteEventLogStorage(str(tmp_path))
    reader = BatchedSqliteEventLogStorage(str(tmp_path))
    try:
        storage.store_event(log_entry("run-1", "before"))
        storage.wipe()
        storage.store_event(log_entry("run-1", "after"))
        for instance_storage in (storage, reader):
            records = instance_storage.get_records_for_run("run-1").records
            assert [record.event_log_entry.user_message for record in records] == ["after"]
    finally:
        reader.dispose()
        storage.dispose()
