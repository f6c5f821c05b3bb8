"""A sensor tick's work, without Dagster: judge, record, deliver, republish.

A tick never holds the warehouse while it sends: it reads and records in one short connection,
delivers with none open, then records the deliveries (and republishes the readers' snapshot with
the new alerts) in a second one. DuckDB allows one writing process per file, so a connection that
cannot be had now is :class:`WarehouseBusy`, and the tick's caller leaves the work for the next tick.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from analytics_ml.alert_rules import AlertThresholds, RuleResult
from pipelines.alerts.checks import alert_thresholds
from pipelines.alerts.delivery import SLACK_API, DeliveryOutcome, Logger, configured_channels, deliver
from pipelines.settings import DeliverySettings, Settings
from pipelines.warehouse.alert_store import (
    RecordSummary,
    ensure_alert_tables,
    pending_deliveries,
    record_delivery,
    record_results,
)
from pipelines.warehouse.snapshot import refresh_alerts

Evaluation = Callable[[duckdb.DuckDBPyConnection], list[RuleResult]]


@dataclass(frozen=True)
class Alerting:
    """The alert rules' thresholds and the delivery channels (``ANALYTICS_ALERT_*``), for the sensors.

    A plain object rather than a Dagster ``ConfigurableResource``: Dagster shows a configurable
    resource's values in its UI, and the webhook URL and the Slack token are secrets.
    """

    thresholds: AlertThresholds
    delivery: DeliverySettings
    slack_base_url: str = SLACK_API
    """Slack's Web API; another only for a stand-in server (the tests' loopback one)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Alerting:
        """The alerting of ``settings``' alert and delivery sections."""
        return cls(thresholds=alert_thresholds(settings.alerts), delivery=settings.delivery)


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

    def figures(self) -> dict[str, int | str]:
        """The tick's counts, as the alerts table's materialization shows them."""
        return {
            "fired": len(self.recorded.fired),
            "resolved": len(self.recorded.resolved),
            "delivered": sum(outcome.delivered for outcome in self.deliveries),
            "delivery_failures": sum(not outcome.delivered for outcome in self.deliveries),
            "fired_keys": ", ".join(self.recorded.fired) or "none",
        }


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
    senders = configured_channels(alerting.delivery, log, alerting.slack_base_url)
    report.deliveries = deliver(pending, senders, alerting.delivery)
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
