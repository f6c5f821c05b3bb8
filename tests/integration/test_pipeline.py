"""The whole pipeline: revenue marts against an independent computation, dbt tests as blocking
asset checks, the Dagster definitions and the nightly schedule."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest
from dagster import AssetCheckEvaluation, AssetCheckSeverity, AssetKey, ExecuteInProcessResult, build_schedule_context
from pydantic import ValidationError

from pipelines.assets.dbt import BROKEN_RULES_METADATA, dbt_models, prune_target_folders
from pipelines.assets.ml import ml_assets
from pipelines.assets.serving import serving_snapshot
from pipelines.definitions import build_definitions
from pipelines.defs.resources import build_resources
from pipelines.defs.run_errors import first_step_error
from pipelines.sample_store.usd_amounts import transactions_in_usd
from pipelines.settings import Settings, WarehouseSettings
from pipelines.source_schema import SOURCE_TABLES
from pipelines.warehouse.snapshot import current_exports
from tests.support.csv_store import write_store
from tests.support.pipeline_runs import (
    DBT_MODELS,
    INGEST,
    SAMPLE_FIRST_DAY,
    SAMPLE_SPEC,
    cli_environment,
    isolated_settings,
    query,
    run_pipeline,
)

REPO = Path(__file__).resolve().parents[2]
RAW_KEYS = {AssetKey(["raw", table]) for table in SOURCE_TABLES}
ML_KEYS = {key for assets in ml_assets for key in assets.keys}
SERVING_KEY = serving_snapshot.key


def test_revenue_daily_net_revenue_equals_an_independent_pandas_computation(sample_store, sample_warehouse):
    # In USD: EUR and GBP orders converted with their day's rate (pandas' as-of merge, not the ingest's SQL).
    transactions = transactions_in_usd(sample_store)
    # Net revenue of a day: amounts of the orders created that day that were paid and not
    # refunded, i.e. status 'completed'; days without any such order count as 0.
    completed = transactions[transactions["status"] == "completed"]
    expected = completed.groupby(completed["created_at"].dt.date)["amount"].sum()
    days = pd.date_range(SAMPLE_FIRST_DAY, SAMPLE_SPEC.end_date).date
    expected = expected.reindex(days, fill_value=0.0)

    actual = dict(query(sample_warehouse, "select revenue_date, net_revenue from marts.revenue_daily"))

    assert sorted(actual) == list(days), "one row per day of the sample"
    # Exact to the cent: the source's two-decimal amounts summed, not a float near them.
    assert [actual[day] for day in days] == [Decimal(f"{expected[day]:.2f}") for day in days]


# The columns of a published table that say when its run happened, and so differ between two
# builds of the same data: the time the forecast model was trained (ml.revenue_forecast and
# ml.model_performance carry it on every row). Nothing else may.
RUN_TIME_COLUMNS = {
    "ml.model_performance": ["trained_at"],
    "ml.revenue_forecast": ["trained_at"],
    "ml.customer_model_fits": ["fitted_at"],
}


def test_two_builds_of_the_same_store_publish_byte_identical_parquet_exports(sample_store, sample_warehouse, tmp_path):
    again = isolated_settings(tmp_path / "data", sample_store)
    run_pipeline(again, SAMPLE_FIRST_DAY, SAMPLE_SPEC.end_date)
    first, second = current_exports(sample_warehouse.serving_file), current_exports(again.serving_file)

    files = sorted(path.name for path in first.glob("*.parquet"))
    assert files == sorted(path.name for path in second.glob("*.parquet"))
    assert {"marts.kpi_summary.parquet", "marts.customer_rfm.parquet", "ml.customer_scores.parquet"} <= set(files)
    differing = [name for name in files if (first / name).read_bytes() != (second / name).read_bytes()]
    assert differing == sorted(f"{table}.parquet" for table in RUN_TIME_COLUMNS)
    # Those differ in their run times alone: the same rows otherwise, in the same order.
    with duckdb.connect() as con:
        for table, run_columns in RUN_TIME_COLUMNS.items():
            sql = f"select * exclude ({', '.join(run_columns)}) from read_parquet(?)"
            rows = [con.execute(sql, [str(folder / f"{table}.parquet")]).fetchall() for folder in (first, second)]
            assert rows[0] == rows[1] and rows[0]


def test_raw_transactions_hold_every_sample_transaction(sample_store, sample_warehouse):
    source_rows = len(pd.read_parquet(sample_store / "transactions", columns=["transaction_id"]))

    assert query(sample_warehouse, "select count(*) from raw.transactions") == [(source_rows,)]
    assert query(sample_warehouse, "select count(*) from raw.rejected_rows") == [(0,)]


def failed_checks(result: ExecuteInProcessResult) -> list[tuple[AssetKey, str, AssetCheckSeverity]]:
    """Asset, name and severity of every asset check that failed in the run."""
    return [
        (evaluation.asset_key, evaluation.check_name, evaluation.severity)
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed
    ]


def broken_rules(evaluation: AssetCheckEvaluation) -> list[list[str]]:
    """The rows (column, rule, failing rows) of the table of broken rules of a failed column_rules check."""
    table = evaluation.metadata[BROKEN_RULES_METADATA].value
    rows = [line.strip("| ").split(" | ") for line in table.splitlines()]
    assert rows[0] == ["column", "rule", "failing rows"]
    return rows[2:]


def materialized_keys(result: ExecuteInProcessResult) -> set[AssetKey]:
    """Every asset materialized in the run."""
    return {event.asset_key for event in result.get_asset_materialization_events()}


TRANSACTION_RULES_CHECK = "stg_transactions_column_rules"
DUPLICATE_CUSTOMER_CHECK = "stg_customers_column_rules"
DUPLICATE_SPEND_CHECK = "stg_marketing_spend_column_rules"


def test_a_failing_dbt_test_fails_its_check_and_blocks_everything_downstream(tmp_path, make_settings):
    settings = make_settings(write_store(tmp_path / "store"))
    run_pipeline(settings, dt.date(2025, 1, 1), dt.date(2025, 1, 2), selection=INGEST)
    # A load that went wrong outside the pipeline: customer C1 (signed up 1 Jan, an order on 2 Jan,
    # so that the nightly test reads its rows) is there twice, which breaks the unique rule of
    # stg_customers.customer_id (error severity); and the social spend of 1 Jan is there twice, which
    # breaks the unique combination (spend_date, channel) of stg_marketing_spend. The nightly run
    # below reloads only 2 Jan, so the rows of 1 Jan are still there when dbt builds.
    with duckdb.connect(str(settings.warehouse_file)) as con:
        con.execute("insert into raw.customers select * from raw.customers where customer_id = 'C1'")
        con.execute("insert into raw.marketing_spend select * from raw.marketing_spend where spend_date = '2025-01-01'")

    # Every asset, as the nightly job runs them: ingest, dbt, ml and serving.
    result = run_pipeline(settings, dt.date(2025, 1, 2), dt.date(2025, 1, 2), raise_on_error=False)

    assert sorted(failed_checks(result)) == [
        (AssetKey(["staging", "stg_customers"]), DUPLICATE_CUSTOMER_CHECK, AssetCheckSeverity.ERROR),
        (AssetKey(["staging", "stg_marketing_spend"]), DUPLICATE_SPEND_CHECK, AssetCheckSeverity.ERROR),
    ]
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    # A duplicated key counts its rows: C1's two rows, the two social rows of 1 Jan.
    assert broken_rules(evaluations[DUPLICATE_CUSTOMER_CHECK]) == [["customer_id", "unique", "2"]]
    assert broken_rules(evaluations[DUPLICATE_SPEND_CHECK]) == [["spend_date, channel", "unique", "2"]]
    # The run's error (the last line of `make run`) is one line naming each failed test's broken rules.
    message = first_step_error(result.get_step_failure_events())
    assert message.startswith("step dbt_models: pipelines.assets.dbt.DbtBuildFailed: dbt build failed at ")
    assert "\n" not in message
    assert f"{DUPLICATE_CUSTOMER_CHECK}: customer_id unique (2 failing)" in message
    assert f"{DUPLICATE_SPEND_CHECK}: spend_date, channel unique (2 failing)" in message
    materialized = materialized_keys(result)
    assert materialized >= RAW_KEYS, "the ingest assets upstream of the failure ran"
    assert AssetKey(["staging", "stg_transactions"]) in materialized
    assert AssetKey(["staging", "stg_costs"]) in materialized, "models not downstream of the failure still build"
    assert AssetKey(["marts", "revenue_daily"]) not in materialized
    assert AssetKey(["marts", "kpi_summary"]) not in materialized
    assert not materialized & ML_KEYS, "no ml table is built on a table that failed its tests"
    assert SERVING_KEY not in materialized
    assert not settings.serving_file.exists(), "nothing was published for readers"
    # The failed check failed the dbt step and the steps after it never started: on this tiny store
    # the ml steps would fail on their own, so only "never started" shows that the check stopped them.
    assert [event.step_key for event in result.get_step_failure_events()] == [dbt_models.op.name]
    started = {event.step_key for event in result.all_events if event.is_step_start}
    assert dbt_models.op.name in started
    assert started.isdisjoint({serving_snapshot.op.name, *(assets.op.name for assets in ml_assets)})
    assert not result.success


def test_the_row_tests_of_loaded_tables_read_the_days_of_the_latest_load(tmp_path, make_settings):
    settings = make_settings(write_store(tmp_path / "store"))
    run_pipeline(settings, dt.date(2025, 1, 1), dt.date(2025, 1, 2), selection=INGEST)
    run_pipeline(settings, dt.date(2025, 1, 2), dt.date(2025, 1, 2), selection=DBT_MODELS)
    # Written outside the pipeline, on 1 Jan: T1 twice in raw and an event without a session, which
    # the ingest never lets happen (after a first build, so that the nightly builds below leave the
    # sessions of 1 Jan as they are).
    with duckdb.connect(str(settings.warehouse_file)) as con:
        con.execute("insert into raw.transactions select * from raw.transactions where transaction_id = 'T1'")
        con.execute(
            "insert into raw.funnel_events values "
            "('E-planted', null, null, 'visit', '2025-01-01 10:00', '2025-01-01', 'planted', current_timestamp)"
        )
    checks = {
        (
            AssetKey(["staging", "stg_transactions"]),
            "stg_transactions_column_rules",
        ),
        (AssetKey(["staging", "stg_funnel_events"]), "stg_funnel_events_column_rules"),
    }
    dbt_only = DBT_MODELS

    def failed(result) -> set[tuple[AssetKey, str]]:
        return {(key, name) for key, name, severity in failed_checks(result) if severity == AssetCheckSeverity.ERROR}

    # The latest loads hold 1 and 2 Jan: the tests read both and fail.
    result = run_pipeline(settings, dt.date(2025, 1, 2), dt.date(2025, 1, 2), selection=dbt_only, raise_on_error=False)
    assert failed(result) >= checks

    # After a load of 2 Jan alone the tests read 2 Jan: the rows of 1 Jan were checked when they came
    # (the ingest keeps ids unique across days), so a nightly test does not read the whole history again.
    # (The models built on the two T1 rows of January still break rules of their own.)
    run_pipeline(settings, dt.date(2025, 1, 2), dt.date(2025, 1, 2), selection=INGEST)
    result = run_pipeline(settings, dt.date(2025, 1, 2), dt.date(2025, 1, 2), selection=dbt_only, raise_on_error=False)
    evaluations = {(e.asset_key, e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert {check: evaluations[check] for check in checks} == dict.fromkeys(checks, True)

    # A full refresh (make run over every day) reads every row again.
    result = run_pipeline(
        settings, dt.date(2025, 1, 2), dt.date(2025, 1, 2), selection=dbt_only, raise_on_error=False, full_refresh=True
    )
    assert failed(result) >= checks


@pytest.mark.parametrize("store_timezone", ["UTC", "America/New_York"])
def test_a_nightly_run_tests_the_rows_its_load_changed_and_a_full_refresh_every_row(
    tmp_path, make_settings, store_timezone
):
    settings = make_settings(write_store(tmp_path / "store"), schedule={"store_timezone": store_timezone})
    # The last half hour of 2 Jan in the store's zone: in New York 04:30 on 3 Jan in UTC, the time raw keeps.
    late_on_2_jan = dt.datetime(2025, 1, 2, 23, 30, tzinfo=ZoneInfo(store_timezone)).astimezone(dt.UTC)
    run_pipeline(settings, dt.date(2025, 1, 1), dt.date(2025, 1, 2), selection=INGEST)
    run_pipeline(settings, dt.date(2025, 1, 2), dt.date(2025, 1, 2), selection=INGEST)
    # Written outside the pipeline after the night's load of 2 Jan, rows the ingest never lets in. On
    # 2 Jan: customer C2 (signed up and ordered 1 Jan) again, a customer C3-2025-01-02 without a
    # signup time and, late in the day, an order T8 without its exchange rate. Of earlier days: a
    # customer C1-2025-01-01 without a signup time (no orders) and an order T9 of an unknown status
    # on 31 Dec (out of the hours a day in another zone than UTC widens the night's read by).
    with duckdb.connect(str(settings.warehouse_file)) as con:
        con.execute(
            "insert into raw.customers select * replace (date '2025-01-02' as _partition_date, "
            "timestamp '2025-01-02 08:00' as signup_at) from raw.customers where customer_id = 'C2'"
        )
        con.execute(
            "insert into raw.customers select * replace (customer_id || '-' || _partition_date as customer_id, "
            "null as signup_at) from raw.customers where customer_id in ('C1', 'C3')"
        )
        con.execute(
            "insert into raw.transactions select * replace ('T8' as transaction_id, null as exchange_rate, "
            "? as created_at) from raw.transactions where transaction_id = 'T3'",
            [late_on_2_jan.replace(tzinfo=None)],
        )
        con.execute(
            "insert into raw.transactions select * replace ('T9' as transaction_id, 'shipped' as status, "
            "created_at - interval 1 day as created_at, _partition_date - 1 as _partition_date) "
            "from raw.transactions where transaction_id = 'T1'"
        )

    def broken(full_refresh: bool) -> dict[str, list[list[str]]]:
        result = run_pipeline(
            settings,
            dt.date(2025, 1, 2),
            dt.date(2025, 1, 2),
            selection=DBT_MODELS,
            raise_on_error=False,
            full_refresh=full_refresh,
        )
        return {
            evaluation.check_name: sorted(broken_rules(evaluation))
            for evaluation in result.get_asset_check_evaluations()
            if evaluation.check_name in {DUPLICATE_CUSTOMER_CHECK, TRANSACTION_RULES_CHECK} and not evaluation.passed
        }

    # The night reads the rows of 2 Jan (and every row of a customer with a raw row of 2 Jan): C2's
    # two rows, C3-2025-01-02 and T8; not C1-2025-01-01 nor T9.
    assert broken(full_refresh=False) == {
        DUPLICATE_CUSTOMER_CHECK: [["customer_id", "unique", "2"], ["signup_at", "not_null", "1"]],
        TRANSACTION_RULES_CHECK: [["exchange_rate", "not_null", "1"]],
    }
    # A full refresh (make run over every day) reads every row.
    assert broken(full_refresh=True) == {
        DUPLICATE_CUSTOMER_CHECK: [["customer_id", "unique", "2"], ["signup_at", "not_null", "2"]],
        TRANSACTION_RULES_CHECK: [
            ["exchange_rate", "not_null", "1"],
            ["status", "accepted_values: pending, completed, failed, refunded, cancelled", "1"],
        ],
    }


def test_a_failing_warn_dbt_test_only_warns_and_the_run_still_publishes(sample_store, make_settings):
    settings = make_settings(sample_store)
    run_pipeline(settings, SAMPLE_FIRST_DAY, SAMPLE_SPEC.end_date, selection=INGEST)
    # Events recorded out of order, planted like the failure above: session P1's signup is stamped
    # an hour before its visit, so its visit row in funnel_session_stages has minutes_to_next_stage
    # = -60, which int_funnel_stage_times counts and its warn-severity accepted_range (min 0) rule
    # flags. The day is not the one the run below reloads.
    planted_day = SAMPLE_FIRST_DAY + dt.timedelta(days=10)
    visit_at = dt.datetime.combine(planted_day, dt.time(10, 0))
    with duckdb.connect(str(settings.warehouse_file)) as con:
        con.executemany(
            "insert into raw.funnel_events values (?, 'P1', null, ?, ?, ?, 'planted', current_timestamp)",
            [
                ["P1-visit", "visit", visit_at, planted_day],
                ["P1-signup", "signup", visit_at - dt.timedelta(hours=1), planted_day],
            ],
        )

    result = run_pipeline(settings, SAMPLE_SPEC.end_date, SAMPLE_SPEC.end_date, raise_on_error=False)

    stage_times = AssetKey(["intermediate", "int_funnel_stage_times"])
    check_name = "int_funnel_stage_times_column_rules_warn"
    assert failed_checks(result) == [(stage_times, check_name, AssetCheckSeverity.WARN)]
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == check_name]
    assert evaluation.metadata["dagster_dbt/failed_row_count"].value == 1, "exactly the planted visit's time"
    assert broken_rules(evaluation) == [["minutes_to_next_stage", "accepted_range: min_value 0", "1"]]
    assert result.success
    downstream = {AssetKey(["marts", name]) for name in ("funnel_stages", "funnel_daily", "kpi_summary")}
    assert downstream | ML_KEYS | {stage_times, SERVING_KEY} <= materialized_keys(result)
    assert settings.serving_file.exists(), "the snapshot was published"


def test_a_cost_category_outside_the_list_counts_as_other_and_warns(sample_store, make_settings):
    settings = make_settings(sample_store)
    run_pipeline(settings, SAMPLE_FIRST_DAY, SAMPLE_SPEC.end_date, selection=INGEST)
    planted_day = SAMPLE_FIRST_DAY + dt.timedelta(days=10)
    month = planted_day.replace(day=1)
    with duckdb.connect(str(settings.warehouse_file)) as con:
        con.execute(
            "insert into raw.costs values (?, 'rent', 1234.5, 'USD', ?, 'planted', current_timestamp)",
            [planted_day, planted_day],
        )
        (others,) = con.execute(
            "select coalesce(sum(amount), 0) from raw.costs "
            "where category = 'other' and date_trunc('month', cost_date) = ?",
            [month],
        ).fetchone()

    result = run_pipeline(settings, SAMPLE_FIRST_DAY, SAMPLE_SPEC.end_date, selection=DBT_MODELS, raise_on_error=False)

    ((key, check_name, severity),) = failed_checks(result)
    assert (key, severity) == (AssetKey(["staging", "stg_costs"]), AssetCheckSeverity.WARN)
    assert check_name == "stg_costs_column_rules_warn"
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == check_name]
    assert evaluation.metadata["dagster_dbt/failed_row_count"].value == 1, "one failing value: rent"
    ((column, rule, failing_rows),) = broken_rules(evaluation)
    assert (column, rule.split(":")[0], failing_rows) == ("category", "accepted_values", "1")
    assert result.success
    # The rent is not lost: its month's `other` column is the planted amount plus the real 'other' costs.
    assert _cost_other_of(settings, month) == others + Decimal("1234.50")


def _cost_other_of(settings: Settings, month: dt.date) -> Decimal:
    with duckdb.connect(str(settings.warehouse_file), read_only=True) as con:
        return con.execute("select cost_other from marts.roi_monthly where roi_month = ?", [month]).fetchone()[0]


def project_cli(command: str, *args: str, dagster_home: Path) -> subprocess.CompletedProcess:
    """The ``dagster`` or ``dg`` command of this environment in the project's folder."""
    bin_dir = Path(sys.executable).parent
    return subprocess.run(
        [str(bin_dir / command), *args],
        cwd=REPO,
        env={**os.environ, "DAGSTER_HOME": str(dagster_home), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_definitions_validate_on_the_workspace_and_list_the_sensors(tmp_path):
    validated = project_cli("dagster", "definitions", "validate", "-w", "workspace.yaml", dagster_home=tmp_path)
    sensors = project_cli("dagster", "sensor", "list", "-w", "workspace.yaml", dagster_home=tmp_path)

    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "Validation successful for code location storefront_metrics" in validated.stdout + validated.stderr
    assert sensors.returncode == 0, sensors.stdout + sensors.stderr
    listed = set(re.findall(r"Sensor: (\w+) \[RUNNING\]", sensors.stdout))
    assert listed == {
        "revenue_drop_sensor",
        "churn_risk_sensor",
        "conversion_drop_sensor",
        "nightly_run_failure_sensor",
        "nightly_run_success_sensor",
    }


def test_dg_checks_the_project(tmp_path):
    checked = project_cli("dg", "check", "defs", dagster_home=tmp_path)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr


def test_the_dbt_models_are_grouped_by_their_layer(tmp_path):
    defs = build_definitions(Settings().updated(warehouse={"data_dir": tmp_path}))
    graph = defs.resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}

    assert groups["staging/stg_transactions"] == "staging"
    assert groups["marts/revenue_daily"] == "marts"
    assert groups["raw/transactions"] == "ingest"
    assert "dbt" not in groups.values()


def test_the_nightly_schedule_is_built_from_the_partitioned_job_and_refreshes_yesterdays_partition(tmp_path):
    tick = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)
    defs = build_definitions(Settings().updated(warehouse={"data_dir": tmp_path}, schedule={"store_timezone": "UTC"}))
    nightly_refresh_schedule = defs.get_schedule_def("nightly_refresh_schedule")
    context = build_schedule_context(scheduled_execution_time=tick, repository_def=defs.get_repository_def())

    (request,) = nightly_refresh_schedule.evaluate_tick(context).run_requests

    assert nightly_refresh_schedule.cron_schedule == "0 2 * * *"
    assert nightly_refresh_schedule.job_name == "nightly_refresh"
    assert request.partition_key == "2026-03-09"
    assert request.tags["dagster/partition_set"] == "nightly_refresh_partition_set", "the UI's partition set"
    job_partitions = defs.resolve_job_def("nightly_refresh").partitions_def
    assert job_partitions == defs.resolve_assets_def(AssetKey(["raw", "transactions"])).partitions_def


def test_the_nightly_schedule_asks_for_the_store_day_that_just_ended_across_dst_changes(tmp_path):
    settings = Settings().updated(
        warehouse={"data_dir": tmp_path},
        schedule={"store_timezone": "America/New_York", "partition_start": dt.date(2024, 1, 1)},
    )
    defs = build_definitions(settings)
    schedule = defs.get_schedule_def("nightly_refresh_schedule")
    new_york = ZoneInfo("America/New_York")

    def partition_asked_at(*wall_clock: int) -> str:
        tick = dt.datetime(*wall_clock, tzinfo=new_york)
        context = build_schedule_context(scheduled_execution_time=tick, repository_def=defs.get_repository_def())
        (request,) = schedule.evaluate_tick(context).run_requests
        return request.partition_key

    # Each night asks for the store day that ended at its midnight, whatever the UTC offset:
    assert [
        partition_asked_at(2024, 3, 10, 3, 0),  # 02:00 does not exist on 10 Mar (02:00 EST is 03:00 EDT)
        partition_asked_at(2024, 3, 11, 2, 0),  # 02:00 EDT, 06:00 UTC, after a 23-hour store day
        partition_asked_at(2024, 11, 3, 2, 0),  # 02:00 EST, 07:00 UTC, after 01:00-02:00 passed twice
        partition_asked_at(2024, 11, 4, 2, 0),  # 02:00 EST, after a 25-hour store day
    ] == ["2024-03-09", "2024-03-10", "2024-11-02", "2024-11-03"]
    partitions = defs.resolve_assets_def(AssetKey(["raw", "transactions"])).partitions_def
    hours = {
        # Through timestamps: Python subtracts two times of the same zone by their wall clocks.
        key: (window.end.timestamp() - window.start.timestamp()) / 3600
        for key in ("2024-03-10", "2024-03-11", "2024-11-03")
        for window in [partitions.time_window_for_partition_key(key)]
    }
    assert hours == {"2024-03-10": 23, "2024-03-11": 24, "2024-11-03": 25}, "store days end at the store's midnight"


# Evaluates the code location's schedule at the tick given as argv[1] (ISO 8601 with offset) and
# prints its timezone and the partitions it asks for. A process of its own, whose code location is
# loaded as Dagster loads it: the lazy loader reads ANALYTICS_STORE_TIMEZONE.
SCHEDULE_PROBE = """
import datetime as dt
import json
import sys

from dagster import build_schedule_context

from pipelines.definitions import defs as load_defs

defs = load_defs()
schedule = defs.get_schedule_def("nightly_refresh_schedule")
tick = dt.datetime.fromisoformat(sys.argv[1])
context = build_schedule_context(scheduled_execution_time=tick, repository_def=defs.get_repository_def())
requests = schedule.evaluate_tick(context).run_requests
print(json.dumps({"timezone": schedule.execution_timezone, "partitions": [r.partition_key for r in requests]}))
"""


def schedule_probe(tick: dt.datetime, data_dir: Path, **variables: str) -> subprocess.CompletedProcess:
    """Run SCHEDULE_PROBE at ``tick`` with the environment's ``variables``."""
    return subprocess.run(
        [sys.executable, "-c", SCHEDULE_PROBE, tick.isoformat()],
        cwd=REPO,
        env=cli_environment(data_dir, **variables),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("timezone", "expected_partition"),
    [
        # 02:00 PDT on 10 Mar: Los Angeles' 9 Mar ended two hours ago.
        ("America/Los_Angeles", "2026-03-09"),
        # 02:00 JST on 10 Mar is 17:00 UTC on 9 Mar. The partitions are Tokyo's days, so Tokyo's 9 Mar,
        # which ended at its midnight, is asked for (when they were UTC days, UTC's 9 Mar had 7 hours
        # to go and the schedule asked for 8 Mar).
        ("Asia/Tokyo", "2026-03-09"),
    ],
)
def test_the_nightly_schedule_runs_at_2_in_the_stores_timezone(tmp_path, timezone, expected_partition):
    tick = dt.datetime(2026, 3, 10, 2, 0, tzinfo=ZoneInfo(timezone))

    probe = schedule_probe(tick, tmp_path, ANALYTICS_STORE_TIMEZONE=timezone)

    assert probe.returncode == 0, probe.stderr[-3000:]
    assert json.loads(probe.stdout.splitlines()[-1]) == {"timezone": timezone, "partitions": [expected_partition]}


def test_an_unknown_timezone_stops_the_code_location_naming_the_setting(tmp_path):
    tick = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)

    unknown = schedule_probe(tick, tmp_path, ANALYTICS_STORE_TIMEZONE="Mars/Olympus_Mons")
    renamed = schedule_probe(tick, tmp_path, ANALYTICS_TIMEZONE="Europe/Paris")

    assert unknown.returncode != 0
    assert (
        "ANALYTICS_STORE_TIMEZONE='Mars/Olympus_Mons' is invalid: Value error, unknown IANA timezone" in unknown.stderr
    )
    assert renamed.returncode != 0
    assert "ANALYTICS_TIMEZONE is no longer read: set ANALYTICS_STORE_TIMEZONE instead" in renamed.stderr


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
    settings = Settings().updated(warehouse={"data_dir": tmp_path, "duckdb_memory_limit": "512MB"})

    with build_resources(settings)["warehouse"].get_connection() as con:
        (limit,) = con.execute("select current_setting('memory_limit')").fetchone()

    assert limit == "488.2 MiB", "512 MB is 488.3 MiB"
    assert settings.dbt_var_overrides()["duckdb_memory_limit"] == "512MB"
    with pytest.raises(ValidationError, match="duckdb_memory_limit"):
        WarehouseSettings(duckdb_memory_limit="a lot")


def test_the_raw_tables_and_the_snapshot_are_due_by_4_in_the_stores_timezone(tmp_path):
    settings = Settings(warehouse=WarehouseSettings(data_dir=tmp_path)).updated(
        schedule={"store_timezone": "Asia/Tokyo"}
    )
    graph = build_definitions(settings).resolve_asset_graph()

    due = {key for key in graph.get_all_asset_keys() if graph.get(key).freshness_policy is not None}
    policy = graph.get(SERVING_KEY).freshness_policy

    assert due == RAW_KEYS | {SERVING_KEY}, "the night's inputs and its output; what lies between follows them"
    assert (policy.deadline_cron, policy.timezone) == ("0 4 * * *", "Asia/Tokyo")
    assert policy.lower_bound_delta == dt.timedelta(hours=2), "materialized by that night's run, after 02:00"


def test_every_dbt_test_is_a_check_that_says_what_it_checks():
    checks = {spec.name: spec for spec in dbt_models.check_specs}

    assert all(spec.description for spec in checks.values())
    relationship = checks["relationships_stg_transactions_customer_id__customer_id__ref_stg_customers_"]
    assert relationship.description == (
        "every `customer_id` is a `customer_id` of `stg_customers`, on the days of the latest load (every row on "
        "a full refresh) (blocking: a failure stops what depends on it)."
    )
    assert checks["stg_customers_column_rules"].description == (
        "`customer_id` is never null, is unique; `signup_at` is never null; `is_known_customer` is never null, on "
        "the rows of each `customer_id` of the latest load of customers, transactions (every row on a full refresh) "
        "(blocking: a failure stops what depends on it)."
    )
    assert checks["stg_marketing_spend_column_rules"].description == (
        "`spend_date` is never null; `amount` lies within [0, inf]; (`spend_date`, `channel`) is unique "
        "(blocking: a failure stops what depends on it)."
    )
    assert checks["stg_funnel_events_column_rules"].description == (
        "`event_id` is never null, is unique; `session_id` is never null; `stage` is never null, on the days of "
        "the latest load (every row on a full refresh) (blocking: a failure stops what depends on it)."
    )
    assert checks["funnel_sessions_column_rules"].description.startswith(
        "`session_id` is never null, is unique among the rows where "
        "`_build_number = (select max(_build_number) from intermediate.funnel_sessions)`; "
    )
    assert checks["int_funnel_stage_times_column_rules_warn"].description == (
        "`minutes_to_next_stage` lies within [0, inf] (warns)."
    )
    assert checks["funnel_hourly_column_rules"].description.endswith(
        "; the table has 24 rows (blocking: a failure stops what depends on it)."
    )
    assert "`entered` is never null, never grows along `stage_order` within each (session_date);" in (
        checks["funnel_daily_column_rules"].description
    )
    assert (
        "`customer_share` is null where `sum(customers) over ()` is 0 or null, lies within [0, 1], "
        "adds up to `1` where `sum(customers) > 0`"
    ) in checks["customer_segments_column_rules"].description
