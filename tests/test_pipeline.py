"""The whole pipeline: revenue marts against an independent computation, dbt tests as blocking
asset checks, the Dagster definitions and the nightly schedule."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dagster import AssetKey, AssetSelection, build_schedule_context
from pydantic import ValidationError

from pipelines.assets.dbt import prune_target_folders
from pipelines.definitions import defs
from pipelines.resources import build_resources
from pipelines.schedules import nightly_refresh_schedule
from pipelines.settings import Settings
from tests.csv_store import write_store
from tests.pipeline_runs import SAMPLE_FIRST_DAY, SAMPLE_SPEC, query, run_pipeline

REPO = Path(__file__).resolve().parent.parent
DBT = AssetSelection.groups("dbt")


def test_revenue_daily_net_revenue_equals_an_independent_pandas_computation(sample_store, sample_warehouse):
    transactions = pd.read_parquet(sample_store / "transactions")
    # Net revenue of a day: amounts of the orders created that day that were paid and not
    # refunded, i.e. status 'completed'; days without any such order count as 0.
    completed = transactions[transactions["status"] == "completed"]
    expected = completed.groupby(completed["created_at"].dt.date)["amount"].sum()
    days = pd.date_range(SAMPLE_FIRST_DAY, SAMPLE_SPEC.end_date).date
    expected = expected.reindex(days, fill_value=0.0)

    actual = dict(query(sample_warehouse, "select revenue_date, net_revenue from marts.revenue_daily"))

    assert sorted(actual) == list(days), "one row per day of the sample"
    assert max(abs(actual[day] - expected[day]) for day in days) < 0.005


def test_raw_transactions_hold_every_sample_transaction(sample_store, sample_warehouse):
    source_rows = len(pd.read_parquet(sample_store / "transactions", columns=["transaction_id"]))

    assert query(sample_warehouse, "select count(*) from raw.transactions") == [(source_rows,)]
    assert query(sample_warehouse, "select count(*) from raw.rejected_rows") == [(0,)]


def test_a_failing_dbt_test_fails_its_check_and_blocks_everything_downstream(tmp_path, make_settings):
    settings = make_settings(write_store(tmp_path / "store"))
    run_pipeline(settings, dt.date(2025, 1, 1), dt.date(2025, 1, 2), selection=AssetSelection.groups("ingest"))
    # A load that went wrong outside the pipeline: T1 is in raw twice, which breaks the unique
    # test of stg_transactions.transaction_id (error severity).
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("insert into raw.transactions select * from raw.transactions where transaction_id = 'T1'")

    result = run_pipeline(settings, dt.date(2025, 1, 1), dt.date(2025, 1, 2), selection=DBT, raise_on_error=False)

    failed_checks = [
        (evaluation.asset_key, evaluation.check_name)
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed
    ]
    assert failed_checks == [(AssetKey(["staging", "stg_transactions"]), "unique_stg_transactions_transaction_id")]
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert AssetKey(["staging", "stg_transactions"]) in materialized
    assert AssetKey(["staging", "stg_costs"]) in materialized, "models not downstream of the failure still build"
    assert AssetKey(["marts", "revenue_daily"]) not in materialized
    assert AssetKey(["marts", "kpi_summary"]) not in materialized
    assert not result.success


def dagster_cli(*args: str, dagster_home: Path) -> subprocess.CompletedProcess:
    """The ``dagster`` command of this environment on the project's workspace."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), *args, "-w", "workspace.yaml"],
        cwd=REPO,
        env={**os.environ, "DAGSTER_HOME": str(dagster_home)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_definitions_validate_on_the_workspace_and_list_the_sensors(tmp_path):
    validated = dagster_cli("definitions", "validate", dagster_home=tmp_path)
    sensors = dagster_cli("sensor", "list", dagster_home=tmp_path)

    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert sensors.returncode == 0, sensors.stdout + sensors.stderr
    listed = set(re.findall(r"Sensor: (\w+) \[RUNNING\]", sensors.stdout))
    assert listed == {
        "revenue_drop_sensor",
        "churn_risk_sensor",
        "conversion_drop_sensor",
        "nightly_run_failure_sensor",
        "nightly_run_success_sensor",
    }


def test_the_nightly_schedule_refreshes_yesterdays_partition():
    tick = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)
    context = build_schedule_context(scheduled_execution_time=tick, repository_def=defs.get_repository_def())

    requests = nightly_refresh_schedule.evaluate_tick(context).run_requests

    assert nightly_refresh_schedule.cron_schedule == "0 2 * * *"
    assert [request.partition_key for request in requests] == ["2026-03-09"]
    assert nightly_refresh_schedule.job_name == "nightly_refresh"


def test_only_the_newest_dbt_target_folders_are_kept(tmp_path):
    for age in range(12):
        folder = tmp_path / f"dbt_models-{age:07d}-abc"
        folder.mkdir()
        os.utime(folder, (1_700_000_000 - age, 1_700_000_000 - age))
    (tmp_path / "compiled").mkdir()

    prune_target_folders(tmp_path, "dbt_models", keep=10)

    kept = sorted(path.name for path in tmp_path.iterdir())
    assert kept == ["compiled", *(f"dbt_models-{age:07d}-abc" for age in range(10))]


def test_the_duckdb_memory_limit_reaches_the_warehouse_and_dbt(tmp_path):
    settings = Settings(data_dir=tmp_path, duckdb_memory_limit="512MB")

    with build_resources(settings)["warehouse"].get_connection() as con:
        (limit,) = con.execute("select current_setting('memory_limit')").fetchone()

    assert limit == "488.2 MiB", "512 MB is 488.3 MiB"
    assert settings.dbt_var_overrides()["duckdb_memory_limit"] == "512MB"
    with pytest.raises(ValidationError, match="duckdb_memory_limit"):
        Settings(duckdb_memory_limit="a lot")
