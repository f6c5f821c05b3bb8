"""The alert sensors: they judge the finished tables when they are rebuilt, store what fires in
``alerts.alerts`` and deliver it.

- ``revenue_drop_sensor``, ``conversion_drop_sensor``, ``churn_risk_sensor``: multi-asset sensors
  on the tables of their check (:mod:`pipelines.alerts.checks`). A tick judges the data once every
  watched table has a new materialization, so it never compares a new mart with a stale forecast.
  Every tick also delivers the alerts still pending or failed on a configured channel.
- ``nightly_run_failure_sensor`` raises a ``run_failure`` alert when a ``nightly_refresh`` run
  fails; ``nightly_run_success_sensor`` resolves it when a later run of the same days succeeds.

The data sensors never open the warehouse while a run is in progress (DuckDB allows one writing
process per file, and dbt, which opens the file without waiting, would fail), but never wait on a
run whose process is gone either: they mark it failed (:mod:`pipelines.defs.run_liveness`). The
tick's work itself, judging, recording and delivering, is :mod:`pipelines.alerts.tick`'s; these
sensors decide when it runs and report it to Dagster. They are built from the alert settings by
:func:`build_alert_sensors` (interval, whether they start running).
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetSpec,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    JobDefinition,
    MultiAssetSensorEvaluationContext,
    ResourceParam,
    RunFailureSensorContext,
    RunStatusSensorContext,
    SensorDefinition,
    SensorResult,
    SkipReason,
    SupersessionWarning,
    multi_asset_sensor,
    run_failure_sensor,
    run_status_sensor,
)
from dagster_duckdb import DuckDBResource

from analytics_ml.alert_rules import RUN_FAILURE, Alert, RuleResult
from pipelines.alerts.checks import ALERT_CHECKS, AlertCheck
from pipelines.alerts.tick import Alerting, TickReport, WarehouseBusy, process_alerts
from pipelines.defs.dagster_compat import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from pipelines.defs.resources import ServingSnapshot
from pipelines.defs.run_errors import first_step_error
from pipelines.defs.run_liveness import settle_active_runs
from pipelines.settings import AlertSettings
from pipelines.warehouse.alert_store import ALERTS_SCHEMA

ALERTS_ASSET = AssetKey([ALERTS_SCHEMA, "alerts"])


def table_key(table: str) -> AssetKey:
    """Asset key of a ``schema.table`` (dagster-dbt's and the ml assets' keys are ``[schema, table]``)."""
    return AssetKey(table.split("."))


alerts_table = AssetSpec(
    ALERTS_ASSET,
    group_name=ALERTS_SCHEMA,
    kinds={"duckdb"},
    deps=[table_key(table) for table in sorted({table for check in ALERT_CHECKS for table in check.monitored})],
    description="Every fired alert, once per rule and day or entity, open or resolved, with its delivery on each "
    "channel (view alerts.alert_feed: open first, latest first). Written by the alert sensors, not by a run.",
)


def active_run(instance: DagsterInstance) -> str | None:
    """Id of a run in progress on the instance, if any. A run whose process is known to be gone is
    not waited on: it is marked failed (:mod:`pipelines.defs.run_liveness`), and the run-failure
    sensor alerts on it."""
    live = settle_active_runs(instance, marked_by="an alert sensor").live
    return live[0].run_id if live else None


def tick_result(report: TickReport) -> SensorResult:
    """The sensor's result: the summary, and a materialization of the alerts table if it changed."""
    events = [AssetMaterialization(asset_key=ALERTS_ASSET, metadata=report.figures())] if report.changed else []
    return SensorResult(skip_reason=report.summary(), asset_events=events)


def evaluate_check(
    context: MultiAssetSensorEvaluationContext,
    check: AlertCheck,
    warehouse: DuckDBResource,
    alerting: Alerting,
    serving: ServingSnapshot,
) -> SensorResult | SkipReason:
    """One tick of a check's sensor: judge the data if every watched table is new, deliver what waits.

    The cursor advances only once the data has been judged and recorded, so a tick that could not
    open the warehouse leaves the new materializations for the next one.
    """
    running = active_run(context.instance)
    if running is not None:
        return SkipReason(f"run {running} is in progress: alerts wait until it ends")
    path = Path(warehouse.database)
    if not path.exists():
        return SkipReason(f"no warehouse at {path} yet")
    fresh = all(record is not None for record in context.latest_materialization_records_by_key().values())
    evaluate = (lambda con: check.evaluate(con, alerting.thresholds)) if fresh else None
    try:
        report = process_alerts(path, evaluate, alerting, context.log, Path(serving.path))
    except WarehouseBusy as busy:
        return SkipReason(f"{busy}; trying again next tick")
    if fresh:
        context.advance_all_cursors()
    return tick_result(report)


def check_sensor(check: AlertCheck, interval_seconds: int, default_status: DefaultSensorStatus) -> SensorDefinition:
    """The multi-asset sensor of ``check``, named after it."""

    def _sensor(
        context: MultiAssetSensorEvaluationContext,
        warehouse: DuckDBResource,
        alerting: ResourceParam[Alerting],
        serving: ServingSnapshot,
    ) -> SensorResult | SkipReason:
        return evaluate_check(context, check, warehouse, alerting, serving)

    # Dagster steers run-launching sensors to declarative automation; storing and sending alerts is
    # the side effect it keeps multi-asset sensors for, so its supersession warning does not apply.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SupersessionWarning)
        return multi_asset_sensor(
            monitored_assets=[table_key(table) for table in check.monitored],
            name=check.sensor_name,
            description=check.description,
            minimum_interval_seconds=interval_seconds,
            default_status=default_status,
        )(_sensor)


# ---------------------------------------------------------------------------------------------
# Nightly runs


def run_days(run: DagsterRun) -> str:
    """The days a run covered: its partition, its partition range ``<first>...<last>``, or its id
    when it had neither."""
    tags = run.tags
    if PARTITION_NAME_TAG in tags:
        return tags[PARTITION_NAME_TAG]
    if ASSET_PARTITION_RANGE_START_TAG in tags:
        return f"{tags[ASSET_PARTITION_RANGE_START_TAG]}...{tags[ASSET_PARTITION_RANGE_END_TAG]}"
    return run.run_id


def run_subject(run: DagsterRun) -> str:
    """``<job>/<days>``: a failed run and the later run of the same days that succeeds share it."""
    return f"{run.job_name}/{run_days(run)}"


def run_failure_alert(run: DagsterRun, error: str, severity: str) -> Alert:
    """The alert of a failed run; its day is the run's partition when it had one."""
    days = run_days(run)
    partition_day = dt.date.fromisoformat(days) if PARTITION_NAME_TAG in run.tags else None
    return Alert(
        rule=RUN_FAILURE,
        severity=severity,
        subject=run_subject(run),
        alert_date=partition_day,
        metric="run_status",
        observed=1.0,
        expected=0.0,
        threshold=1.0,
        message=f"Run {run.run_id} of {run.job_name} for {days} failed: {error}",
    )


def run_failure_reason(context: RunFailureSensorContext) -> str:
    """The first failed step and its error (what someone needs to act), else the run's own message."""
    return first_step_error(context.get_step_failure_events()) or context.failure_event.message or "no error message"


def process_run_alert(
    context: RunStatusSensorContext,
    result: RuleResult,
    warehouse: DuckDBResource,
    alerting: Alerting,
    serving: ServingSnapshot,
) -> SensorResult:
    """Record ``result`` and deliver at once, even while another run is in progress (the file is
    held for milliseconds): Dagster shows a run status sensor each event once, so it cannot wait
    for a later tick. A warehouse that cannot be opened fails the tick, visibly."""
    report = process_alerts(Path(warehouse.database), lambda con: [result], alerting, context.log, Path(serving.path))
    return tick_result(report)


def run_failure_alert_sensor(
    job: JobDefinition, interval_seconds: int, default_status: DefaultSensorStatus
) -> SensorDefinition:
    """``nightly_run_failure_sensor``: a run_failure alert for each failed run of ``job``."""

    @run_failure_sensor(
        name="nightly_run_failure_sensor",
        monitored_jobs=[job],
        description=f"Raises a run_failure alert when a {job.name} run fails.",
        minimum_interval_seconds=interval_seconds,
        default_status=default_status,
    )
    def nightly_run_failure_sensor(
        context: RunFailureSensorContext,
        warehouse: DuckDBResource,
        alerting: ResourceParam[Alerting],
        serving: ServingSnapshot,
    ) -> SensorResult:
        """Store and deliver the failed run's alert (one per job and days: a failing retry fires no second one)."""
        error = run_failure_reason(context)
        alert = run_failure_alert(context.dagster_run, error, alerting.thresholds.run_failure_severity)
        result = RuleResult(RUN_FAILURE, (alert.subject,), (alert,))
        return process_run_alert(context, result, warehouse, alerting, serving)

    return nightly_run_failure_sensor


def run_success_alert_sensor(
    job: JobDefinition, interval_seconds: int, default_status: DefaultSensorStatus
) -> SensorDefinition:
    """``nightly_run_success_sensor``: a later successful run of the same days resolves their run_failure alert."""

    @run_status_sensor(
        name="nightly_run_success_sensor",
        run_status=DagsterRunStatus.SUCCESS,
        monitored_jobs=[job],
        description=f"Resolves the run_failure alert of a {job.name} run when a later run of the same days succeeds.",
        minimum_interval_seconds=interval_seconds,
        default_status=default_status,
    )
    def nightly_run_success_sensor(
        context: RunStatusSensorContext,
        warehouse: DuckDBResource,
        alerting: ResourceParam[Alerting],
        serving: ServingSnapshot,
    ) -> SensorResult:
        """Judge the run's days as not failed: an open run_failure alert for them resolves."""
        result = RuleResult(RUN_FAILURE, (run_subject(context.dagster_run),), ())
        return process_run_alert(context, result, warehouse, alerting, serving)

    return nightly_run_success_sensor


def build_alert_sensors(alerts: AlertSettings, job: JobDefinition) -> list[SensorDefinition]:
    """The three data sensors and the two run sensors of ``job``, ticking every
    ``ANALYTICS_ALERT_SENSOR_INTERVAL_SECONDS`` and running from the start unless
    ``ANALYTICS_ALERT_SENSORS_RUNNING`` is off."""
    interval = alerts.sensor_interval_seconds
    status = DefaultSensorStatus.RUNNING if alerts.sensors_running else DefaultSensorStatus.STOPPED
    return [
        *(check_sensor(check, interval, status) for check in ALERT_CHECKS),
        run_failure_alert_sensor(job, interval, status),
        run_success_alert_sensor(job, interval, status),
    ]
