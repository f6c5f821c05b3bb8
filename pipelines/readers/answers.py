"""The answers of the API, one function each, as SQL over the snapshot (the endpoints and
``comprehensive`` share them). A table is an object of columns (``{"date": [...], ...}``), the shape
charts take; values are JSON-ready (dates as ISO text, NaN and infinities as null)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import duckdb

from pipelines.readers.kpi_display import display_table, kpi_display, kpi_label
from pipelines.warehouse.alert_store import FEED_ORDER, FEED_VIEW, OPEN, RESOLVED
from pipelines.warehouse.snapshot import SnapshotInfo

MAX_FORECAST_DAYS = 90
TOP_ROWS = 20

Columns = dict[str, list[object]]


def json_value(value: object) -> object:
    """A value of a DuckDB row as JSON: dates as ISO text, NaN and infinities as null."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def columns(cursor: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> Columns:
    """The result of ``sql`` as an object of columns, the shape charts take."""
    result = cursor.execute(sql, params or [])
    names = [column[0] for column in result.description]
    rows = result.fetchall()
    return {name: [json_value(row[index]) for row in rows] for index, name in enumerate(names)}


def first_row(
    cursor: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None
) -> dict[str, object] | None:
    """The first row of ``sql`` (with ``params``) as an object, None if there is none."""
    result = cursor.execute(sql, params or [])
    names = [column[0] for column in result.description]
    rows = result.fetchall()
    return {name: json_value(value) for name, value in zip(names, rows[0], strict=True)} if rows else None


def missing_note(row: dict[str, object], metric: str) -> str | None:
    """Why a null KPI of ``marts.kpi_summary`` has no value, when the cause is data the store did
    not load or has not had time to make: what the dashboard shows instead of a number."""
    if metric in ("gross_margin", "net_margin") and row["has_cost_data"] is False:
        return "no cost data"
    if metric == "cac" and row["marketing_spend"] == 0:
        return "no marketing spend"
    if metric == "ltv_to_cac":
        # The headline cohort's (kpi_summary.ltv_cohort_month) LTV and CAC.
        if row["ltv_cohort_month"] is None:
            return f"no cohort {row['ltv_horizon_days']} days old yet"
        if row["cohort_cac"] is None:
            return "no marketing spend"
        if row["cohort_ltv"] is None:
            return "no cost data"
    return None


def kpi_cards(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, object]]:
    """Each KPI of ``marts.kpi_summary`` that has a prior-period value, with its label, its relative
    change, and for a KPI without a value the data it lacks (``note``). Flags (``has_cost_data``) are
    no KPI."""
    row = first_row(cursor, "select * from marts.kpi_summary") or {}
    cards = []
    for name, value in row.items():
        prior = row.get(f"{name}_prior", "missing")
        if prior == "missing" or name.endswith("_prior") or isinstance(value, bool):
            continue
        change = (value - prior) / abs(prior) if value is not None and prior else None
        note = missing_note(row, name) if value is None else None
        cards.append(
            {
                "metric": name,
                "label": kpi_label(row, name),
                "unit": kpi_display(name).unit,
                "lower_is_better": kpi_display(name).lower_is_better,
                "value": value,
                "prior": prior,
                "change": change,
                "note": note,
            }
        )
    return cards


def with_snapshot(info: SnapshotInfo, body: dict[str, object]) -> dict[str, object]:
    """``body`` with the snapshot's build time and run id, and when it was published (later than
    the build when the alert sensors republished it)."""
    return {
        "snapshot_built_at": info.built_at.isoformat(),
        "snapshot_published_at": info.published_at.isoformat(),
        "run_id": info.run_id,
        **body,
    }


def forecast_days(cursor: duckdb.DuckDBPyConnection) -> int:
    """How many days the stored forecast covers (``ANALYTICS_ML_DAYS_AHEAD`` of the run that built it)."""
    (days,) = cursor.execute("select count(*) from ml.revenue_forecast").fetchone()
    return days


def revenue_forecast(cursor: duckdb.DuckDBPyConnection, days: int) -> dict[str, object]:
    """The first ``days`` days of the stored forecast, or all of them if it is shorter. The answer says
    both numbers, so that a shorter forecast is never taken for the one asked for (a 422 would break
    clients, the dashboard among them, that ask for the most and draw what there is)."""
    return {
        "days_requested": days,
        "available_days": forecast_days(cursor),
        "history": columns(
            cursor, "select date, actual, fitted, lower, upper from ml.revenue_fitted_history order by date"
        ),
        "forecast": columns(
            cursor, "select date, forecast, lower, upper from ml.revenue_forecast order by date limit ?", [days]
        ),
        # The total of the days answered with its own band (analytics_ml.forecast: an interval of the
        # sum, narrower than the sum of the daily bounds): the last of them carries it.
        "total": first_row(
            cursor,
            """select row_number() over (order by date) as days, cumulative_forecast as forecast,
                cumulative_lower as lower, cumulative_upper as upper, confidence_level
            from ml.revenue_forecast
            qualify days = least(?, (select count(*) from ml.revenue_forecast))""",
            [days],
        ),
        "trend": first_row(cursor, "select * from ml.revenue_trend"),
        "model": first_row(
            cursor, "select model_version, confidence_level, trained_at from ml.revenue_forecast limit 1"
        ),
    }


def customer_behavior(cursor: duckdb.DuckDBPyConnection) -> dict[str, object]:
    return {
        "segments": columns(cursor, "select * from marts.customer_segments order by segment_order"),
        "metrics": first_row(cursor, "select * from marts.customer_metrics"),
        "churn_risk": columns(
            cursor, "select churn_risk, count(*) as customers from marts.customer_rfm group by 1 order by 1"
        ),
        "top_customers": columns(cursor, "select * from marts.top_customers order by ltv_rank limit ?", [TOP_ROWS]),
        "cohorts": columns(
            cursor, "select * from marts.cohort_retention order by cohort_month, months_since_first_order"
        ),
    }


def conversion_funnel(cursor: duckdb.DuckDBPyConnection) -> dict[str, object]:
    return {
        "stages": columns(cursor, "select * from marts.funnel_stages order by stage_order"),
        "daily": columns(cursor, "select * from marts.funnel_daily order by session_date, stage_order"),
        "hourly": columns(cursor, "select * from marts.funnel_hourly order by hour_of_day"),
    }


def roi_dashboard(cursor: duckdb.DuckDBPyConnection) -> dict[str, object]:
    return {
        "monthly": columns(cursor, "select * from marts.roi_monthly order by roi_month"),
        "costs": columns(cursor, "select * from marts.cost_breakdown order by period, category_order"),
        "revenue_monthly": columns(cursor, "select * from marts.revenue_monthly order by revenue_month"),
    }


def products(cursor: duckdb.DuckDBPyConnection) -> dict[str, object]:
    return {
        "top": columns(cursor, "select * from marts.top_products order by revenue_rank"),
        "monthly": columns(
            cursor,
            "select * exclude (grain) from marts.product_performance where grain = 'month' "
            "order by order_month, product",
        ),
        "all_time": columns(
            cursor,
            "select * exclude (grain, order_month, net_revenue_previous_month, net_revenue_growth) "
            "from marts.product_performance where grain = 'all_time' order by net_revenue desc, product",
        ),
    }


def channels(cursor: duckdb.DuckDBPyConnection) -> dict[str, object]:
    return {"monthly": columns(cursor, "select * from marts.channel_performance order by acquisition_month, channel")}


def predictive(cursor: duckdb.DuckDBPyConnection) -> dict[str, object]:
    return {
        "seasonal_patterns": columns(cursor, "select * from ml.seasonal_patterns order by pattern, period_order"),
        "customer_scores": first_row(
            cursor,
            """select count(*) as customers, avg(churn_probability) as average_churn_probability,
                sum(expected_purchases_30d) as expected_purchases_30d,
                sum(expected_purchases_90d) as expected_purchases_90d,
                sum(predicted_clv) as predicted_clv, max(clv_horizon_days) as clv_horizon_days
            from ml.customer_scores""",
        ),
        "churn_distribution": columns(
            cursor,
            """select least(floor(churn_probability * 10), 9) / 10 as churn_probability_from, count(*) as customers
            from ml.customer_scores group by 1 order by 1""",
        ),
        "top_clv": columns(
            cursor,
            "select customer_id, predicted_clv, churn_probability from ml.customer_scores "
            "order by predicted_clv desc, customer_id limit ?",
            [TOP_ROWS],
        ),
        "model": first_row(
            cursor,
            "select * exclude (parameters, candidates) from ml.model_performance order by trained_at desc limit 1",
        ),
    }


def business_insights(cursor: duckdb.DuckDBPyConnection) -> Columns:
    return columns(cursor, "select * from ml.business_insights order by rank")


def alerts(cursor: duckdb.DuckDBPyConnection) -> dict[str, object]:
    # Ordered here too: a view copied into the snapshot is a table, whose row order SQL does not promise.
    feed = columns(
        cursor,
        f"select * from {FEED_VIEW} order by {FEED_ORDER}",
    )
    statuses = feed.get("status", [])
    return {"open": statuses.count(OPEN), "resolved": statuses.count(RESOLVED), "feed": feed}


def model_performance(cursor: duckdb.DuckDBPyConnection) -> Columns:
    return columns(cursor, "select * from ml.model_performance order by trained_at desc, version")


def last_run_status(cursor: duckdb.DuckDBPyConnection, info: SnapshotInfo) -> str:
    """``failed`` when a nightly run failed after this snapshot was built (the run failure sensor
    republishes the alerts with its open alert), else ``success`` (only a successful run publishes)."""
    (failed,) = cursor.execute(
        "select count(*) from alerts.alerts where rule = 'run_failure' and status = 'open' and fired_at > ?",
        [info.built_at],
    ).fetchone()
    return "failed" if failed else "success"


def health(cursor: duckdb.DuckDBPyConnection, info: SnapshotInfo) -> dict[str, object]:
    return {"status": "ok", "last_run_status": last_run_status(cursor, info), "tables": info.row_counts}


def comprehensive_answer(cursor: duckdb.DuckDBPyConnection, currency: str | None) -> dict[str, object]:
    """The headline figures; ``currency`` is the reporting currency every amount is in, as the snapshot
    recorded it."""
    return {
        "currency": currency,
        "kpis": kpi_cards(cursor),
        # Label, unit and direction of every KPI, the date-range cards' too.
        "kpi_display": display_table(),
        # The days the KPI cards cover: the last window_days ending on the reference date.
        "kpi_period": first_row(
            cursor,
            "select reference_date - window_days + 1 as start_date, reference_date as end_date, window_days "
            "from marts.kpi_summary",
        ),
        # The columns the dashboard sums over any range of days (its compare-to-previous-period cards).
        "revenue_daily": columns(
            cursor,
            "select revenue_date as date, net_revenue, gross_revenue, refunds, orders, new_customers "
            "from marts.revenue_daily order by 1",
        ),
        "forecast": revenue_forecast(cursor, MAX_FORECAST_DAYS)["forecast"],
        "segments": customer_behavior(cursor)["segments"],
        "funnel": conversion_funnel(cursor)["stages"],
        "roi": roi_dashboard(cursor)["monthly"],
        "insights": business_insights(cursor),
        "open_alerts": alerts(cursor)["open"],
    }
