"""The ``alerts`` schema of the build warehouse: every fired alert, once per key, with its status and
its delivery on each channel.

``alerts.alerts`` has one row per alert key (rule + day or entity, see
:attr:`analytics_ml.alert_rules.Alert.key`), so evaluating the same data again, a repeated sensor
tick or a re-run of the same day updates a row and never adds one. ``alerts.alert_feed`` is the
view readers show: open alerts first, latest first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import duckdb

from analytics_ml.alert_rules import Alert, RuleResult
from pipelines.warehouse.sql import transaction

ALERTS_SCHEMA = "alerts"
ALERTS_TABLE = f"{ALERTS_SCHEMA}.alerts"
FEED_VIEW = f"{ALERTS_SCHEMA}.alert_feed"
CHANNELS = ("log", "webhook", "slack")
OPEN, RESOLVED = "open", "resolved"
PENDING, DELIVERED, FAILED, OFF = "pending", "delivered", "failed", "off"
"""Delivery states of a channel: not tried yet, done, tried and failed (retried next tick), not configured."""

CREATE_TABLE_SQL = f"""
create table if not exists {ALERTS_TABLE} (
    alert_key varchar primary key,
    rule varchar not null,
    severity varchar not null,
    subject varchar not null,
    alert_date date,
    metric varchar not null,
    observed double,
    expected double,
    threshold double,
    message varchar not null,
    status varchar not null,
    fired_at timestamptz not null,
    resolved_at timestamptz,
    evaluated_at timestamptz not null,
    {", ".join(f"{channel}_delivery varchar not null" for channel in CHANNELS)},
    delivery_attempts integer not null,
    delivery_error varchar
)"""

FEED_ORDER = (
    f"status = '{OPEN}' desc, fired_at desc, case severity when 'critical' then 0 when 'warning' then 1 else 2 end, "
    "alert_key"
)
"""The feed's order: open alerts first, then latest first, the most severe first among equals."""
CREATE_FEED_SQL = f"""
create or replace view {FEED_VIEW} as
select
    status,
    severity,
    fired_at,
    resolved_at,
    rule,
    subject,
    alert_date,
    message,
    metric,
    observed,
    expected,
    threshold,
    {", ".join(f"{channel}_delivery" for channel in CHANNELS)},
    delivery_error,
    alert_key
from {ALERTS_TABLE}
order by {FEED_ORDER}
"""

MEASURE_COLUMNS = ("severity", "metric", "observed", "expected", "threshold", "message")
"""What a re-evaluation may change about an alert without firing it again."""


@dataclass
class RecordSummary:
    """Keys of the alerts a recording fired (new or reopened), kept open and resolved."""

    fired: list[str] = field(default_factory=list)
    still_open: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PendingDelivery:
    """An alert (its row as a mapping) and the configured channels it still has to reach."""

    alert: Mapping[str, object]
    channels: tuple[str, ...]


def ensure_alert_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ``alerts`` schema, its table and its feed view if they are missing."""
    con.execute(f"create schema if not exists {ALERTS_SCHEMA}")
    con.execute(CREATE_TABLE_SQL)
    con.execute(CREATE_FEED_SQL)


def record_results(
    con: duckdb.DuckDBPyConnection, results: Iterable[RuleResult], now: dt.datetime, channels: Sequence[str]
) -> RecordSummary:
    """Record the rules' results in one transaction; returns what changed.

    An alert whose key is new fires: a row with status open and every configured channel (of
    ``channels``) pending, the others off. An open alert that fires again only has its figures
    updated, so it is never delivered twice; a resolved one that fires again reopens and is
    delivered again (it is news). An open alert whose subject was judged without firing resolves.
    """
    results = list(results)
    summary = RecordSummary()
    with transaction(con):
        status = dict(con.execute(f"select alert_key, status from {ALERTS_TABLE}").fetchall())
        for result in results:
            for alert in result.alerts:
                if alert.key not in status:
                    _insert(con, alert, now, channels)
                    summary.fired.append(alert.key)
                elif status[alert.key] == RESOLVED:
                    _reopen(con, alert, now, channels)
                    summary.fired.append(alert.key)
                else:
                    _update_measures(con, alert, now)
                    summary.still_open.append(alert.key)
            fired = {alert.key for alert in result.alerts}
            for key in sorted(result.judged_keys - fired):
                if status.get(key) == OPEN:
                    con.execute(
                        f"update {ALERTS_TABLE} set status = ?, resolved_at = ?, evaluated_at = ? where alert_key = ?",
                        [RESOLVED, now, now, key],
                    )
                    summary.resolved.append(key)
    return summary


def pending_deliveries(con: duckdb.DuckDBPyConnection, channels: Sequence[str]) -> list[PendingDelivery]:
    """Alerts with a configured channel (of ``channels``) still pending or failed: those never tried
    first, then those that failed before, each oldest first.

    A failed alert goes last so that one the endpoint always refuses (a poisoned alert) cannot take
    a tick's delivery budget ahead of new alerts, tick after tick.
    """
    waiting = " or ".join(f"{channel}_delivery in ('{PENDING}', '{FAILED}')" for channel in channels)
    failed_before = " or ".join(f"{channel}_delivery = '{FAILED}'" for channel in channels)
    cursor = con.execute(
        f"select * from {ALERTS_TABLE} where {waiting} order by ({failed_before}), fired_at, alert_key"
    )
    columns = [column[0] for column in cursor.description]
    rows = [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]
    return [
        PendingDelivery(
            alert=row,
            channels=tuple(channel for channel in channels if row[f"{channel}_delivery"] in (PENDING, FAILED)),
        )
        for row in rows
    ]


def record_delivery(
    con: duckdb.DuckDBPyConnection, alert_key: str, channel: str, *, delivered: bool, attempts: int, error: str | None
) -> None:
    """Store one channel's delivery of an alert: delivered, or failed with the error (retried later).

    ``delivery_error`` holds the last failure as ``<channel>: <error>``; a later success on that
    channel clears it.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown alert channel {channel!r}; channels are {CHANNELS}")
    prefix = f"{channel}: "
    con.execute(
        f"""update {ALERTS_TABLE}
set {channel}_delivery = ?,
    delivery_attempts = delivery_attempts + ?,
    delivery_error = case
        when ? then (case when starts_with(delivery_error, ?) then null else delivery_error end)
        else ?
    end
where alert_key = ?""",
        [DELIVERED if delivered else FAILED, attempts, delivered, prefix, f"{prefix}{error}", alert_key],
    )


def _delivery_states(channels: Sequence[str]) -> list[str]:
    unknown = sorted(set(channels) - set(CHANNELS))
    if unknown:
        raise ValueError(f"unknown alert channels {unknown}; channels are {CHANNELS}")
    return [PENDING if channel in channels else OFF for channel in CHANNELS]


def _insert(con: duckdb.DuckDBPyConnection, alert: Alert, now: dt.datetime, channels: Sequence[str]) -> None:
    values = [
        alert.key,
        alert.rule,
        alert.severity,
        alert.subject,
        alert.alert_date,
        alert.metric,
        alert.observed,
        alert.expected,
        alert.threshold,
        alert.message,
        OPEN,
        now,
        None,
        now,
        *_delivery_states(channels),
        0,
        None,
    ]
    con.execute(f"insert into {ALERTS_TABLE} values ({', '.join('?' * len(values))})", values)


def _reopen(con: duckdb.DuckDBPyConnection, alert: Alert, now: dt.datetime, channels: Sequence[str]) -> None:
    deliveries = ", ".join(f"{channel}_delivery = ?" for channel in CHANNELS)
    con.execute(
        f"""update {ALERTS_TABLE}
set {", ".join(f"{column} = ?" for column in MEASURE_COLUMNS)}, status = ?, fired_at = ?, resolved_at = null,
    evaluated_at = ?, {deliveries}, delivery_error = null
where alert_key = ?""",
        [*_measures(alert), OPEN, now, now, *_delivery_states(channels), alert.key],
    )


def _update_measures(con: duckdb.DuckDBPyConnection, alert: Alert, now: dt.datetime) -> None:
    con.execute(
        f"""update {ALERTS_TABLE}
set {", ".join(f"{column} = ?" for column in MEASURE_COLUMNS)}, evaluated_at = ?
where alert_key = ?""",
        [*_measures(alert), now, alert.key],
    )


def _measures(alert: Alert) -> list[object]:
    return [getattr(alert, column) for column in MEASURE_COLUMNS]
