"""The alert sensors: they judge the finished tables when they are rebuilt, store what fires in
``alerts.alerts`` and deliver it.

- ``revenue_drop_sensor``, ``conversion_drop_sensor``, ``churn_risk_sensor``: multi-asset sensors
  on the tables of their check (:mod:`pipelines.alert_checks`). A tick judges the data once every
  watched table has a new materialization, so it never compares a new mart with a stale forecast.
  Every tick also delivers the alerts still pending or failed on a configured channel.
- ``nightly_run_failure_sensor`` raises a ``run_failure`` alert when a ``nightly_refresh`` run
  fails; ``nightly_run_success_sensor`` resolves it when a later run of the same days succeeds.

The data sensors never open the warehouse while a run is in progress (DuckDB allows one writing
process per file, and dbt, which opens the file without waiting, would fail); no sensor holds it
while it sends: a tick reads and records in one short connection, delivers, then records the
deliveries in a second one. Whatever a data sensor's tick cannot do now it leaves for the next.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetSpec,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    MultiAssetSensorDefinition,
    MultiAssetSensorEvaluationContext,
    ResourceParam,
    RunFailureSensorContext,
    RunsFilter,
    RunStatusSensorContext,
    SensorResult,
    SkipReason,
    SupersessionWarning,
    multi_asset_sensor,
    run_failure_sensor,
    run_status_sensor,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from dagster_duckdb import DuckDBResource

from analytics_ml.alert_rules import RUN_FAILURE, Alert, RuleResult
from pipelines.alert_checks import ALERT_CHECKS, CHURN_CHECK, CONVERSION_CHECK, REVENUE_CHECK, AlertCheck
from pipelines.alert_delivery import DeliveryOutcome, Logger, deliver
from pipelines.alert_store import (
    ALERTS_SCHEMA,
    RecordSummary,
    ensure_alert_tables,
    pending_deliveries,
    record_delivery,
    record_results,
)
from pipelines.jobs import nightly_refresh
from pipelines.resources import Alerting, ServingSnapshot
from pipelines.serving import refresh_alerts
from pipelines.settings import load_settings

ALERTS_ASSET = AssetKey([ALERTS_SCHEMA, "alerts"])
alerts_table = AssetSpec(
    ALERTS_ASSET,
    group_name=ALERTS_SCHEMA,
    kinds={"duckdb"},
    deps=sorted({key for check in ALERT_CHECKS for key in check.monitored}, key=lambda key: key.to_user_string()),
    description="Every fired alert, once per rule and day or entity, open or resolved, with its delivery on each "
    "channel (view alerts.alert_feed: open first, latest first). Written by the alert sensors, not by a run.",
)
ACTIVE_RUN_STATUSES = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
DEFAULT_STATUS = DefaultSensorStatus.RUNNING if load_settings().alert_sensors_running else DefaultSensorStatus.STOPPED
INTERVAL_SECONDS = load_settings().alert_sensor_interval_seconds

Evaluation = Callable[[duckdb.DuckDBPyConnection], list[RuleResult]]


@dataclass
class TickReport:
    """What one tick did to the alerts table."""

    recorded: RecordSummary = field(default_factory=RecordSummary)
    deliveries: list[DeliveryOutcome] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.recorded.fired or self.recorded.resolved or self.deliveries)

    def summary(self) -> str:
        """One line for the tick's history in the UI."""
        failed = [outcome for outcome in self.deliveries if not outcome.delivered]
        return (
            f"fired {len(self.recorded.fired)}, still open {len(self.recorded.still_open)}, "
            f"resolved {len(self.recorded.resolved)}; deliveries {len(self.deliveries) - len(failed)} done, "
            f"{len(failed)} failed" + "".join(f"; {o.channel} {o.alert_key}: {o.error}" for o in failed)
        )

    def materialization(self) -> AssetMaterialization:
        """The alerts table's materialization, for the asset catalog."""
        return AssetMaterialization(
            asset_key=ALERTS_ASSET,
            metadata={
                "fired": len(self.recorded.fired),
                "resolved": len(self.recorded.resolved),
                "delivered": sum(outcome.delivered for outcome in self.deliveries),
                "delivery_failures": sum(not outcome.delivered for outcome in self.deliveries),
                "fired_keys": ", ".join(self.recorded.fired) or "none",
            },
        )


class WarehouseBusy(Exception):
    """The warehouse file cannot be opened now (another process holds it); the next tick tries again."""


@contextlib.contextmanager
def open_warehouse(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse that fails at once if another process holds the file, rather
    than waiting like the ``warehouse`` resource does (a sensor tick has a time limit)."""
    try:
        con = duckdb.connect(str(path))
    except duckdb.IOException as error:
        raise WarehouseBusy(f"the warehouse {path} cannot be opened now: {error}") from error
    try:
        yield con
    finally:
        con.close()


def active_run(instance: DagsterInstance) -> str | None:
    """Id of a run in progress on the instance, if any."""
    records = instance.get_run_records(RunsFilter(statuses=ACTIVE_RUN_STATUSES), limit=1)
    return records[0].dagster_run.run_id if records else None


def process_alerts(
    path: Path, evaluate: Evaluation | None, alerting: Alerting, log: Logger, serving: Path | None = None
) -> TickReport:
    """Record what ``evaluate`` finds (if given), then deliver every alert still pending or failed.

    When anything changed and ``serving`` is given, the readers' snapshot there is republished
    with the new alerts. Raises :class:`WarehouseBusy` when the warehouse cannot be opened; then nothing of this tick
    is recorded (or, if only the second opening fails, the deliveries are not, and the next tick
    sends them again: at least once).
    """
    channels = alerting.delivery.channel_names
    report = TickReport()
    now = dt.datetime.now(dt.UTC)
    with open_warehouse(path) as con:
        ensure_alert_tables(con)
        if evaluate is not None:
            report.recorded = record_results(con, evaluate(con), now, channels)
        pending = pending_deliveries(con, channels)
    report.deliveries = deliver(pending, alerting.delivery.channels(log), alerting.delivery.policy)
    if report.deliveries or (report.changed and serving is not None):
        with open_warehouse(path) as con:
            for outcome in report.deliveries:
                record_delivery(
                    con,
                    outcome.alert_key,
                    outcome.channel,
                    delivered=outcome.delivered,
                    attempts=outcome.attempts,
                    error=outcome.error,
                )
            if report.changed and serving is not None:
                # Readers see alerts through the snapshot: republish it with the new alerts only.
                refresh_alerts(con, serving)
    return report


def tick_result(report: TickReport) -> SensorResult:
    """The sensor's result: the summary, and a materialization of the alerts table if it changed."""
    return SensorResult(skip_reason=report.summary(), asset_events=[report.materialization()] if report.changed else [])


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


def check_sensor(check: AlertCheck) -> MultiAssetSensorDefinition:
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
            monitored_assets=list(check.monitored),
            name=check.sensor_name,
            description=check.description,
            minimum_interval_seconds=INTERVAL_SECONDS,
            default_status=DEFAULT_STATUS,
        )(_sensor)


revenue_drop_sensor = check_sensor(REVENUE_CHECK)
conversion_drop_sensor = check_sensor(CONVERSION_CHECK)
churn_risk_sensor = check_sensor(CHURN_CHECK)


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
    for event in context.get_step_failure_events():
        error = event.step_failure_data.error
        # Dagster wraps the asset's own exception; its message is the innermost cause's.
        while error is not None and error.cause is not None:
            error = error.cause
        if error is not None:
            return f"step {event.step_key}: {error.message.strip()}"
    return context.failure_event.message or "no error message"


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


@run_failure_sensor(
    name="nightly_run_failure_sensor",
    monitored_jobs=[nightly_refresh],
    description="Raises a run_failure alert when a nightly_refresh run fails.",
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=DEFAULT_STATUS,
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


@run_status_sensor(
    name="nightly_run_success_sensor",
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[nightly_refresh],
    description="Resolves the run_failure alert of a nightly_refresh run when a later run of the same days succeeds.",
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=DEFAULT_STATUS,
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


alert_sensors = [
    revenue_drop_sensor,
    conversion_drop_sensor,
    churn_risk_sensor,
    nightly_run_failure_sensor,
    nightly_run_success_sensor,
]
