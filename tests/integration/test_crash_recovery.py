"""Crashed runs and locks (docs/reliability.md): a run killed with kill -9 while dbt builds is marked
failed and alerted on and leaves nothing holding the warehouse, and a step that waits for the
warehouse file says who holds it."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import duckdb
import psutil
import pytest
from dagster import (
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    SensorResult,
    build_multi_asset_sensor_context,
    job,
)

from analytics_ml.alert_rules import RUN_FAILURE
from pipelines.alerts.checks import CONVERSION_CHECK
from pipelines.cli.instance import prepare_instance
from pipelines.cli.run import fail_orphaned_runs
from pipelines.definitions import build_definitions
from pipelines.defs.project import dbt_project
from pipelines.defs.resources import build_resources
from pipelines.defs.run_liveness import PID_TAG, process_tags
from pipelines.defs.sensors import table_key
from pipelines.settings import Settings
from pipelines.warehouse.alert_store import ALERTS_TABLE
from tests.support.csv_store import write_store
from tests.support.pipeline_runs import (
    DBT_MODELS,
    INGEST,
    cli_environment,
    isolated_settings,
    query,
    run_pipeline,
    run_sensor_context,
)
from tests.support.processes import ended_process_tags

pytestmark = pytest.mark.adversarial

REPOSITORY = Path(__file__).resolve().parents[2]
POLL_SECONDS = 0.1
DBT_POLL_SECONDS = 0.01
POLLS_FOR_DBT = 12000
"""Polls for dbt to run a node: the run loads the store and starts dbt within a few seconds, and
builds the test store's models in about two."""

POLLS_FOR_WAIT = 1200
"""Polls for the step to say it waits for the held warehouse."""


@contextmanager
def warehouse_held(path: Path) -> Iterator[subprocess.Popen]:
    """Another process holding ``path`` read-write (as a second run or a notebook would) until the
    test lets go (:func:`let_go`) or the block ends; yields the process."""
    code = f"import duckdb, sys\ncon = duckdb.connect({str(path)!r})\nprint('held', flush=True)\nsys.stdin.read()\n"
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        let_go(holder)
        holder.wait(timeout=30)


def let_go(holder: subprocess.Popen) -> None:
    """End the holding process's hold on the warehouse (the end of its input ends it)."""
    holder.stdin.close()


def wait_messages(instance: DagsterInstance) -> list[str]:
    """The "waiting" messages logged so far by the one run of ``instance``, once there is one."""
    for _ in range(POLLS_FOR_WAIT):
        runs = instance.get_runs()
        messages = [entry.user_message for entry in instance.all_logs(runs[0].run_id)] if runs else []
        waits = [message for message in messages if message.startswith("waiting ")]
        if waits:
            return waits
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"the step did not say it waits after {POLLS_FOR_WAIT} polls")


WAITING_STEPS = {"ingest": AssetSelection.assets(["raw", "costs"]), "dbt": DBT_MODELS}


@pytest.mark.parametrize("step", WAITING_STEPS)
def test_a_step_waiting_for_the_warehouse_says_which_process_holds_it_then_runs(tmp_path, make_settings, step):
    settings = make_settings(write_store(tmp_path / "store"))
    settings.warehouse_file.parent.mkdir(parents=True, exist_ok=True)
    first, last = dt.date(2025, 1, 1), dt.date(2025, 1, 2)
    if step == "dbt":
        run_pipeline(settings, first, last, selection=INGEST)

    # The hold lasts until the step has said it waits, however long the run takes to reach it. The
    # instance keeps its events in files, which the test reads from its thread while the run writes.
    (tmp_path / "dagster_home").mkdir()
    with (
        DagsterInstance.local_temp(str(tmp_path / "dagster_home")) as instance,
        warehouse_held(settings.warehouse_file) as holder,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        running = pool.submit(run_pipeline, settings, first, last, selection=WAITING_STEPS[step], instance=instance)
        waits = wait_messages(instance)
        let_go(holder)
        result = running.result()

    assert holder.returncode == 0
    assert result.success, "the step ran once the other process let go"
    assert all(f"the warehouse {settings.warehouse_file}: held by PID {holder.pid} (" in m for m in waits)


def dbt_target_folders() -> set[Path]:
    """The target folders of the dbt asset's builds (one per build)."""
    return set((dbt_project.project_dir / "target").glob("dbt_models-*"))


def stop_mid_dbt(cli: subprocess.Popen, earlier: set[Path]) -> None:
    """Stop (SIGSTOP) the run's process as soon as its dbt has started a node, and check that dbt
    had not finished: a stopped process stands for dbt deep in a long query, writing nothing."""
    for _ in range(POLLS_FOR_DBT):
        assert cli.poll() is None, "the run ended before dbt ran a node"
        logs = [folder / "dbt.log" for folder in dbt_target_folders() - earlier]
        logs = [log for log in logs if log.exists() and '"LogStartLine"' in log.read_text()]
        if logs:
            os.kill(cli.pid, signal.SIGSTOP)
            assert not (logs[0].parent / "run_results.json").exists(), "dbt ended before the run was stopped"
            return
        time.sleep(DBT_POLL_SECONDS)
    raise AssertionError(f"dbt ran no node after {POLLS_FOR_DBT} polls")


def child_commands(process: psutil.Process) -> list[list[str]]:
    """The command lines of the processes under ``process`` (those that end meanwhile left out)."""
    commands = []
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):  # ZombieProcess too: it has ended
            commands.append(child.cmdline())
    return commands


def sensor_named(settings: Settings, name: str):
    """The real sensor ``name`` of the code location of ``settings``."""
    return next(sensor for sensor in build_definitions(settings).sensors if sensor.name == name)


def data_sensor_tick(settings: Settings, instance: DagsterInstance) -> SensorResult:
    """One tick of the real conversion_drop_sensor on ``instance``."""
    with build_multi_asset_sensor_context(
        monitored_assets=[table_key(table) for table in CONVERSION_CHECK.monitored],
        instance=instance,
        definitions=build_definitions(settings),
        resources=build_resources(settings),
    ) as context:
        return sensor_named(settings, CONVERSION_CHECK.sensor_name)(context)


LAUNCHES = {
    # make run: the run is tagged with its process at launch.
    "make-run": ([sys.executable, "-m", "pipelines.cli.run"], "2025-01-01...2025-01-02"),
    # A run executed by Dagster's own run worker, as the daemon launches the nightly schedule's: the
    # run is tagged with its process when its first step starts.
    "dagster-run-worker": (
        [
            str(Path(sys.executable).parent / "dagster"),
            *("job", "execute", "-m", "pipelines.definitions", "-j", "nightly_refresh"),
            *("--tags", '{"dagster/partition": "2025-01-02"}'),
        ],
        "2025-01-02",
    ),
}


@pytest.mark.parametrize("launch", LAUNCHES, ids=list(LAUNCHES))
def test_a_run_killed_mid_dbt_leaves_the_warehouse_free_and_is_marked_failed_and_alerted_on(tmp_path, launch):
    store = write_store(tmp_path / "store")
    data_dir = tmp_path / "data"
    settings = isolated_settings(data_dir, store)
    command, days = LAUNCHES[launch]
    prepare_instance(settings.dagster_home, batched_event_log=True)  # as make install does
    earlier_builds = dbt_target_folders()
    cli = subprocess.Popen(
        command,
        cwd=REPOSITORY,
        env=cli_environment(
            data_dir,
            ANALYTICS_SOURCE="files",
            ANALYTICS_SOURCE_DIR=str(store),
            ANALYTICS_PARTITION_START="2025-01-01",
            DAGSTER_HOME=str(settings.dagster_home),
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        stop_mid_dbt(cli, earlier_builds)
        children = child_commands(psutil.Process(cli.pid))
        os.kill(cli.pid, signal.SIGKILL)
        cli.wait()
    finally:
        cli.kill()
        cli.wait()

    # dbt ran on a thread of the run's process (its other children are Dagster's log tails and
    # Python's multiprocessing helper): no dbt process was started, so none outlives the run.
    assert not [command for command in children if any(Path(part).name == "dbt" for part in command[:2])], children
    duckdb.connect(str(settings.warehouse_file)).close()  # no process holds the warehouse: it opens at once
    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        (killed,) = instance.get_runs()
        assert (killed.status, killed.tags[PID_TAG]) == (DagsterRunStatus.STARTED, str(cli.pid))
        tick = data_sensor_tick(settings, instance)
        after_tick = instance.get_run_by_id(killed.run_id).status
        with run_sensor_context(
            "nightly_run_failure_sensor", settings, instance, killed.run_id, DagsterEventType.RUN_FAILURE
        ) as context:
            sensor_named(settings, "nightly_run_failure_sensor")(context.for_run_failure())

    assert "in progress" not in tick.skip_reason.skip_message, "the sensor did not wait on the dead run"
    assert after_tick == DagsterRunStatus.FAILURE
    ((rule, status, message),) = query(settings, f"select rule, status, message from {ALERTS_TABLE}")
    assert (rule, status) == (RUN_FAILURE, "open")
    assert f"Run {killed.run_id} of nightly_refresh for {days} failed" in message
    assert f"the process {cli.pid} on " in message and "is gone" in message


@job
def a_job() -> None:
    """A job to record runs of (nothing runs)."""


def test_the_next_make_run_marks_runs_whose_process_died_failed_and_leaves_live_ones(capsys):
    with DagsterInstance.ephemeral() as instance:
        dead = instance.create_run_for_job(a_job, status=DagsterRunStatus.STARTED, tags=ended_process_tags())
        live = instance.create_run_for_job(a_job, status=DagsterRunStatus.STARTED, tags=process_tags())
        fail_orphaned_runs(instance)
        statuses = {run.run_id: run.status for run in instance.get_runs()}
        (failure,) = instance.get_records_for_run(dead.run_id, of_type=DagsterEventType.RUN_FAILURE).records

    assert statuses == {dead.run_id: DagsterRunStatus.FAILURE, live.run_id: DagsterRunStatus.STARTED}
    assert "marked failed by the next `make run`" in failure.event_log_entry.dagster_event.message
    assert f"The run {dead.run_id} lost its process mid-run: marked failed." in capsys.readouterr().err
