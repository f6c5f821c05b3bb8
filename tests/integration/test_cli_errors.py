"""A failure the user's data or settings cause is one line at the command line, naming the file,
column or setting, with no traceback unless ANALYTICS_LOG_LEVEL=DEBUG; and it is a failed Dagster
run, so the run-failure sensor can alert on it (docs/reliability.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterRunStatus, RunsFilter

from pipelines.definitions import build_definitions
from pipelines.defs.dagster_compat import instance_at
from tests.support.csv_store import write_store
from tests.support.pipeline_runs import cli_environment, isolated_settings, query, run_sensor_context

pytestmark = pytest.mark.adversarial

REPO = Path(__file__).resolve().parents[2]
MISSING_COLUMN = "source table 'costs' ({}) lacks required column(s) amount; see docs/source-schema.md"


def store_without_a_required_column(folder: Path) -> Path:
    store = write_store(folder)
    (store / "costs.csv").write_text("cost_date,category,currency\n2025-01-01,other,USD\n")
    return store


def make_run(data_dir: Path, store: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``python -m pipelines.cli.run`` over the files in ``store``, as `make run` starts it."""
    environment = cli_environment(
        data_dir,
        ANALYTICS_SOURCE="files",
        ANALYTICS_SOURCE_DIR=str(store),
        ANALYTICS_PARTITION_START="2025-01-01",
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli.run", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def failed_runs(data_dir: Path) -> list[tuple[str, str]]:
    """Run id and failure message of every failed run recorded in the data dir's Dagster instance."""
    with instance_at(data_dir / "dagster_home") as instance:
        records = instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.FAILURE]))
        return [
            (record.dagster_run.run_id, event.message)
            for record in records
            for event in instance.all_logs(record.dagster_run.run_id)
            if event.dagster_event is not None and event.dagster_event.event_type == DagsterEventType.RUN_FAILURE
        ]


def test_a_source_error_before_the_run_is_one_line_and_a_failed_run_alerted_on(tmp_path):
    store = store_without_a_required_column(tmp_path / "store")
    settings = isolated_settings(tmp_path / "data", store)

    done = make_run(tmp_path / "data", store)

    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    message = MISSING_COLUMN.format(store / "costs.csv")
    assert done.stderr.strip().splitlines()[-1].startswith("error: " + message)
    ((run_id, failure),) = failed_runs(tmp_path / "data")
    assert failure == message
    failure_sensor = build_definitions(settings).resolve_sensor_def("nightly_run_failure_sensor")
    with (
        instance_at(tmp_path / "data" / "dagster_home") as instance,
        run_sensor_context(failure_sensor.name, settings, instance, run_id, DagsterEventType.RUN_FAILURE) as context,
    ):
        failure_sensor(context.for_run_failure())
    (alert,) = query(settings, "select rule, status, message from alerts.alerts")
    assert alert[:2] == ("run_failure", "open")
    assert message in alert[2]


def test_a_source_error_inside_the_run_ends_in_one_line_naming_the_step(tmp_path):
    store = store_without_a_required_column(tmp_path / "store")

    done = make_run(tmp_path / "data", store, "--day", "2025-01-01")

    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert "Traceback" not in output and "Stack Trace" not in output
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the run ")
    assert last.endswith(
        "failed at step raw__costs: pipelines.sources.files.SourceError: " + MISSING_COLUMN.format(store / "costs.csv")
    )


def test_debug_shows_the_traceback(tmp_path):
    store = store_without_a_required_column(tmp_path / "store")

    done = make_run(tmp_path / "data", store, ANALYTICS_LOG_LEVEL="DEBUG")

    assert done.returncode == 2
    assert "Traceback (most recent call last)" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: source table 'costs'")
