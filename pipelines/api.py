"""The JSON API and the dashboard (``make serve``): read-only views of the readers' snapshot.

Every answer is read from the serving DuckDB file that the ``serving`` asset publishes; nothing is
computed from raw rows on a request. Answers are shaped for charts: a table is an object of
columns (``{"date": [...], "net_revenue": [...]}``), and each carries the snapshot's build time.
Every endpoint but ``health-check`` needs the bearer token ``ANALYTICS_API_TOKEN``.

Run with ``make serve`` (``python -m pipelines.api``) or ``uvicorn --factory pipelines.api:create_app``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import secrets
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

import duckdb
import plotly
import pyarrow.parquet as pq
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles

from pipelines.serving import SnapshotInfo, qualified, read_snapshot_info
from pipelines.settings import Settings, SettingsError, load_settings
from pipelines.sources.validation import literal

API_PREFIX = "/api/analytics"
DASHBOARD = Path(__file__).parent / "dashboard"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
MAX_FORECAST_DAYS = 90
SERVE_PORT = 8000
SNAPSHOT_CATALOG = "snapshot"
TOP_ROWS = 20
EXPORT_MEDIA_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet", "json": "application/json"}

Columns = dict[str, list[object]]


class SnapshotReader:
    """Read-only cursors on the serving file, reopened when a new snapshot has replaced it.

    One connection is shared (DuckDB cursors on it serve threads concurrently); a request checks
    the file's inode, which the atomic replace changes, and opens the new file when it differs.
    Requests already under way keep the old connection, and so the old snapshot, to their end.
    The file is attached to an in-memory database rather than opened by path, because DuckDB
    hands a second ``connect`` of the same path the instance already open, and so the old file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._identity: tuple[int, int] | None = None

    def cursor(self) -> duckdb.DuckDBPyConnection:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, f"no snapshot at {self.path} yet: run `make run` to publish one"
            ) from None
        with self._lock:
            if self._identity != (stat.st_ino, stat.st_mtime_ns):
                self._connection = duckdb.connect(":memory:")
                self._connection.execute(f"attach {literal(str(self.path))} as {SNAPSHOT_CATALOG} (read_only)")
                self._identity = (stat.st_ino, stat.st_mtime_ns)
            cursor = self._connection.cursor()
        cursor.execute(f"use {SNAPSHOT_CATALOG}")
        return cursor


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


def first_row(cursor: duckdb.DuckDBPyConnection, sql: str) -> dict[str, object] | None:
    """The first row of ``sql`` as an object, None if there is none."""
    result = cursor.execute(sql)
    names = [column[0] for column in result.description]
    rows = result.fetchall()
    return {name: json_value(value) for name, value in zip(names, rows[0], strict=True)} if rows else None


def kpi_cards(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, object]]:
    """Each KPI of ``marts.kpi_summary`` that has a prior-period value, with its relative change."""
    row = first_row(cursor, "select * from marts.kpi_summary") or {}
    cards = []
    for name, value in row.items():
        prior = row.get(f"{name}_prior", "missing")
        if prior == "missing" or name.endswith("_prior"):
            continue
        change = (value - prior) / abs(prior) if value is not None and prior else None
        cards.append({"metric": name, "value": value, "prior": prior, "change": change})
    return cards


def with_snapshot(info: SnapshotInfo, body: dict[str, object]) -> dict[str, object]:
    return {"snapshot_built_at": info.built_at.isoformat(), "run_id": info.run_id, **body}


# ---------------------------------------------------------------------------------------------
# The answers, one function each (the endpoints and `comprehensive` share them)


def revenue_forecast(cursor: duckdb.DuckDBPyConnection, days: int) -> dict[str, object]:
    return {
        "history": columns(
            cursor, "select date, actual, fitted, lower, upper from ml.revenue_fitted_history order by date"
        ),
        "forecast": columns(
            cursor, "select date, forecast, lower, upper from ml.revenue_forecast order by date limit ?", [days]
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
    feed = columns(cursor, "select * from alerts.alert_feed")
    return {"open": sum(status_ == "open" for status_ in feed.get("status", [])), "feed": feed}


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


# ---------------------------------------------------------------------------------------------
# The app: the reader and the token live on app.state; the routes reach them through dependencies.

bearer = HTTPBearer(auto_error=False)


def authorized(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    """Let the request through only with ``Authorization: Bearer <ANALYTICS_API_TOKEN>``."""
    token = request.app.state.token
    if credentials is None or not secrets.compare_digest(credentials.credentials.encode(), token.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid bearer token is required (Authorization: Bearer <ANALYTICS_API_TOKEN>)",
            headers={"WWW-Authenticate": "Bearer"},
        )


def open_snapshot(request: Request) -> Iterator[tuple[duckdb.DuckDBPyConnection, SnapshotInfo]]:
    """A cursor on the current snapshot and what it holds, for one request."""
    cursor = request.app.state.reader.cursor()
    try:
        yield cursor, read_snapshot_info(cursor)
    finally:
        cursor.close()


Snapshot = Annotated[tuple[duckdb.DuckDBPyConnection, SnapshotInfo], Depends(open_snapshot)]
router = APIRouter(prefix=API_PREFIX)
protected = APIRouter(prefix=API_PREFIX, dependencies=[Depends(authorized)])


@router.get("/health-check")
def health_check(request: Request, snap: Snapshot) -> dict[str, object]:
    """Snapshot age, the last nightly run's status and each table's row count (no token needed)."""
    cursor, info = snap
    age = (dt.datetime.now(dt.UTC) - info.built_at).total_seconds()
    return with_snapshot(
        info,
        {
            "status": "ok",
            "snapshot_age_seconds": round(age, 1),
            "last_run_status": last_run_status(cursor, info),
            "tables": info.row_counts,
            "dashboard_refresh_seconds": request.app.state.refresh_seconds,
        },
    )


@protected.get("/comprehensive")
def comprehensive(snap: Snapshot) -> dict[str, object]:
    """Every headline figure at once: KPI cards, daily revenue, forecast, segments, funnel, ROI,
    insights and the number of open alerts."""
    cursor, info = snap
    return with_snapshot(
        info,
        {
            "kpis": kpi_cards(cursor),
            "revenue_daily": columns(
                cursor, "select revenue_date as date, net_revenue, orders from marts.revenue_daily order by 1"
            ),
            "forecast": revenue_forecast(cursor, MAX_FORECAST_DAYS)["forecast"],
            "segments": customer_behavior(cursor)["segments"],
            "funnel": conversion_funnel(cursor)["stages"],
            "roi": roi_dashboard(cursor)["monthly"],
            "insights": business_insights(cursor),
            "open_alerts": alerts(cursor)["open"],
        },
    )


@protected.get("/revenue-forecast")
def revenue_forecast_endpoint(
    snap: Snapshot, days: Annotated[int, Query(ge=1, le=MAX_FORECAST_DAYS)] = 30
) -> dict[str, object]:
    """Actuals with the fitted values and band, and the next ``days`` days of forecast."""
    cursor, info = snap
    return with_snapshot(info, revenue_forecast(cursor, days))


@protected.get("/customer-behavior")
def customer_behavior_endpoint(snap: Snapshot) -> dict[str, object]:
    """RFM segments, churn risk, top customers and cohort retention."""
    cursor, info = snap
    return with_snapshot(info, customer_behavior(cursor))


@protected.get("/conversion-funnel")
def conversion_funnel_endpoint(snap: Snapshot) -> dict[str, object]:
    """Funnel stages, their daily rates and payment conversion by hour."""
    cursor, info = snap
    return with_snapshot(info, conversion_funnel(cursor))


@protected.get("/roi-dashboard")
def roi_dashboard_endpoint(snap: Snapshot) -> dict[str, object]:
    """Monthly profit, ROI and CAC, and the cost breakdown."""
    cursor, info = snap
    return with_snapshot(info, roi_dashboard(cursor))


@protected.get("/predictive")
def predictive_endpoint(snap: Snapshot) -> dict[str, object]:
    """Seasonality, churn and CLV scores, and the forecast model's quality."""
    cursor, info = snap
    return with_snapshot(info, predictive(cursor))


@protected.get("/business-insights")
def business_insights_endpoint(snap: Snapshot) -> dict[str, object]:
    """The ranked insights with their recommendations."""
    cursor, info = snap
    return with_snapshot(info, {"insights": business_insights(cursor)})


@protected.get("/alerts")
def alerts_endpoint(snap: Snapshot) -> dict[str, object]:
    """Every alert, open first, latest first."""
    cursor, info = snap
    return with_snapshot(info, alerts(cursor))


@protected.get("/model-performance")
def model_performance_endpoint(snap: Snapshot) -> dict[str, object]:
    """Each trained forecast model version with its backtest figures."""
    cursor, info = snap
    return with_snapshot(info, {"models": model_performance(cursor)})


@protected.get("/export")
def export(
    snap: Snapshot,
    table: Annotated[str, Query(description="A published table, e.g. marts.kpi_summary")],
    format: Annotated[Literal["csv", "parquet", "json"], Query()] = "csv",  # noqa: A002 (the API's name)
) -> Response:
    """One published table as CSV, Parquet or JSON columns."""
    cursor, info = snap
    if table not in info.row_counts:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY,
            f"unknown table {table!r}: published tables are {', '.join(sorted(info.row_counts))}",
        )
    # The name is one of the snapshot's own tables, never text from the request.
    select = f"select * from {qualified(table)}"
    if format == "json":
        body = with_snapshot(info, {"table": table, "columns": columns(cursor, select)})
        return Response(content=json.dumps(body), media_type=EXPORT_MEDIA_TYPES["json"])
    buffer = io.BytesIO()
    if format == "parquet":
        pq.write_table(cursor.execute(select).to_arrow_table(), buffer)
    else:
        cursor.execute(select).df().to_csv(buffer, index=False)
    return Response(
        content=buffer.getvalue(),
        media_type=EXPORT_MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{table}.{format}"'},
    )


pages = APIRouter()


@pages.get("/", include_in_schema=False)
def dashboard() -> FileResponse:
    return FileResponse(DASHBOARD / "index.html")


@pages.get("/static/plotly.min.js", include_in_schema=False)
def plotly_js() -> FileResponse:
    """Plotly.js from the installed plotly package: the dashboard needs no CDN."""
    return FileResponse(PLOTLY_JS, media_type="text/javascript")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API and dashboard over ``settings.serving`` (default: the environment's settings)."""
    settings = settings or load_settings()
    if settings.api_token is None:
        raise SettingsError("ANALYTICS_API_TOKEN is not set: the API needs a bearer token to ask of readers")
    app = FastAPI(title="Storefront metrics API", description="Read-only analytics from the published snapshot.")
    app.state.token = settings.api_token.get_secret_value()
    app.state.reader = SnapshotReader(settings.serving)
    app.state.refresh_seconds = settings.api_refresh_seconds
    for part in (router, protected, pages):
        app.include_router(part)
    app.mount("/static", StaticFiles(directory=DASHBOARD), name="static")
    return app


def main() -> int:
    """``make serve``: the API and dashboard on 127.0.0.1:8000, or a clear error about the settings."""
    try:
        app = create_app()
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    uvicorn.run(app, host="127.0.0.1", port=SERVE_PORT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
