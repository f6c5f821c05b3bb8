"""An alert written straight into a build warehouse, as an alert sensor would have recorded it, for
tests of what readers see of alerts (the sensors themselves are tested in tests/integration/test_alerts.py)."""

from __future__ import annotations

import datetime as dt

import duckdb

from pipelines.warehouse.alert_store import ALERTS_TABLE, OPEN, RESOLVED, ensure_alert_tables


def plant_alert(
    build: duckdb.DuckDBPyConnection,
    key: str,
    fired_at: dt.datetime,
    resolved_at: dt.datetime | None = None,
    message: str = "revenue fell",
) -> None:
    """One revenue-drop alert in the build's ``alerts.alerts``, open unless ``resolved_at`` is given."""
    ensure_alert_tables(build)
    build.execute(
        f"""insert into {ALERTS_TABLE} (alert_key, rule, severity, subject, alert_date, metric, observed, expected,
            threshold, message, status, fired_at, resolved_at, evaluated_at, log_delivery, webhook_delivery,
            slack_delivery, delivery_attempts)
        values (?, 'revenue_drop', 'critical', 'store', ?, 'net_revenue', 10, 100, 0.3, ?, ?, ?, ?, ?,
            'delivered', 'off', 'off', 1)""",
        [
            key,
            fired_at.date(),
            message,
            OPEN if resolved_at is None else RESOLVED,
            fired_at,
            resolved_at,
            resolved_at or fired_at,
        ],
    )
