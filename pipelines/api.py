"""The JSON API and the dashboard (``make serve``): read-only views of the readers' snapshot.

Every answer is read from the serving DuckDB file that the ``serving`` asset publishes; nothing is
computed from raw rows on a request. Answers are shaped for charts: a table is an object of
columns (``{"date": [...], "net_revenue": [...]}``), and each carries the snapshot's build time.
Every endpoint but ``health-check`` needs the bearer token ``ANALYTICS_API_TOKEN``.

Run with ``make serve`` (``python -m pipelines.api``) or ``uvicorn --factory pipelines.api:create_app``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import math
import secrets
import sys
import threading
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote_plus

import duckdb
import plotly
import pyarrow.parquet as pq
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from pipelines.alert_store import FEED_ORDER, FEED_VIEW, OPEN, RESOLVED
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
ACCESS_LOGGER = "uvicorn.access"
REDACTED = "[redacted]"

Columns = dict[str, list[object]]


class SnapshotReader:
    """Read-only access to the serving file, reopened when a new snapshot has replaced it, with
    each answer computed once per snapshot.

    A request checks the file's inode and modification time, which the atomic replace changes;
    when they differ the new file is attached and the answers computed from the old one are
    dropped. A snapshot never changes, so an answer computed from it stays right until then, and
    most requests are a ``stat`` and a lookup. Requests already under way keep the old connection,
    and so the old snapshot, to their end; the old connection is closed when the last of them is
    done (closing it earlier would close their cursors with it). The file is attached to an
    in-memory database rather than opened by path, because DuckDB hands a second ``connect`` of
    the same path the instance already open, and so the old file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._snapshot: _OpenSnapshot | None = None

    @contextlib.contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on the current snapshot, its catalog the default one, for the block's duration."""
        with self._reading() as (_, cursor):
            yield cursor

    def cached(self, key: Hashable) -> bytes | None:
        """The answer stored under ``key`` for the current snapshot, if any."""
        with self._lock:
            return self._follow_file().answers.get(key)

    def compute(self, key: Hashable, compute: Callable[[duckdb.DuckDBPyConnection, SnapshotInfo], object]) -> bytes:
        """``compute``'s answer as JSON, stored under ``key`` for as long as the snapshot lasts."""
        with self._reading() as (snapshot, cursor):
            body = json.dumps(compute(cursor, read_snapshot_info(cursor))).encode()
        with self._lock:
            # Stored with the snapshot it was computed from: if a newer one has replaced it
            # meanwhile, the answer goes with the old one and the newer one computes its own.
            snapshot.answers[key] = body
        return body

    def answer_keys(self) -> set[Hashable]:
        """The keys of the answers stored for the current snapshot: what the cache holds."""
        with self._lock:
            return set(self._follow_file().answers)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[tuple[_OpenSnapshot, duckdb.DuckDBPyConnection]]:
        """The current snapshot and a cursor on it; the snapshot counts the cursor as a user until the block ends."""
        with self._lock:
            snapshot = self._follow_file()
            snapshot.users += 1
        try:
            cursor = snapshot.connection.cursor()
            try:
                cursor.execute(f"use {SNAPSHOT_CATALOG}")
                yield snapshot, cursor
            finally:
                cursor.close()
        finally:
            with self._lock:
                snapshot.users -= 1
                snapshot.close_if_unused()

    def _follow_file(self) -> _OpenSnapshot:
        """The open snapshot of the file as it is now (called with the lock held)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, f"no snapshot at {self.path} yet: run `make run` to publish one"
            ) from None
        identity = (stat.st_ino, stat.st_mtime_ns)
        if self._snapshot is None or self._snapshot.identity != identity:
            replaced = self._snapshot
            self._snapshot = _OpenSnapshot(connection=open_snapshot(self.path), identity=identity)
            if replaced is not None:
                replaced.replaced = True
                replaced.close_if_unused()
        return self._snapshot


@dataclass
class _OpenSnapshot:
    """One attached snapshot file, the answers computed from it, and how many requests read it now."""

    connection: duckdb.DuckDBPyConnection
    identity: tuple[int, int]
    answers: dict[Hashable, bytes] = field(default_factory=dict)
    users: int = 0
    replaced: bool = False

    def close_if_unused(self) -> None:
        """Close the connection once a newer snapshot has replaced this one and no request reads it."""
        if self.replaced and self.users == 0:
            self.connection.close()


def open_snapshot(path: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory database with ``path`` attached read-only as the snapshot catalog.

    A 503 naming the file unless it is a snapshot this API reads (not a DuckDB file at all, a
    corrupt one, one published by an older version, or another DuckDB file configured by
    mistake), rather than a 500 on every request.
    """
    connection = duckdb.connect(":memory:")
    try:
        connection.execute(f"attach {literal(str(path))} as {SNAPSHOT_CATALOG} (read_only)")
        connection.execute(f"use {SNAPSHOT_CATALOG}")
        read_snapshot_info(connection)
    except duckdb.Error as error:
        connection.close()
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"{path} is not a snapshot this API can read ({type(error).__name__}: {error}); "
            "publish a new one with `make run` or check ANALYTICS_SERVING_PATH",
        ) from None
    return connection


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
    """``body`` with the snapshot's build time and run id, and when it was published (later than
    the build when the alert sensors republished it)."""
    return {
        "snapshot_built_at": info.built_at.isoformat(),
        "snapshot_published_at": info.published_at.isoformat(),
        "run_id": info.run_id,
        **body,
    }


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


# ---------------------------------------------------------------------------------------------
# The app: the reader and the token live on app.state; the routes reach them through dependencies.

bearer = HTTPBearer(auto_error=False)
Compute = Callable[[duckdb.DuckDBPyConnection, SnapshotInfo], object]


async def authorized(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """Let the request through only with ``Authorization: Bearer <ANALYTICS_API_TOKEN>``."""
    token = request.app.state.token
    if credentials is None or not secrets.compare_digest(credentials.credentials.encode(), token.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid bearer token is required (Authorization: Bearer <ANALYTICS_API_TOKEN>)",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def stored(request: Request, compute: Compute, *parameters: Hashable) -> bytes:
    """The JSON answer of ``compute`` for this request's endpoint and its validated ``parameters``,
    computed once per snapshot (in a worker thread, so the event loop keeps serving stored answers
    meanwhile).

    Keyed by the matched route and the parameters, never by the raw query string: extra or
    reordered query parameters would otherwise each store one more copy of the same answer, and
    grow memory without bound.
    """
    reader: SnapshotReader = request.app.state.reader
    key = (request.scope["route"].path, *parameters)
    return reader.cached(key) or await run_in_threadpool(reader.compute, key, compute)


async def answer(request: Request, compute: Compute, *parameters: Hashable) -> Response:
    return Response(content=await stored(request, compute, *parameters), media_type="application/json")


def with_snapshot_of(body: Callable[[duckdb.DuckDBPyConnection], object]) -> Compute:
    """A computation whose answer is ``body``'s, with the snapshot's build time and run id."""
    return lambda cursor, info: with_snapshot(info, body(cursor))


router = APIRouter(prefix=API_PREFIX)
protected = APIRouter(prefix=API_PREFIX, dependencies=[Depends(authorized)])


@router.get("/health-check")
async def health_check(request: Request) -> dict[str, object]:
    """Snapshot age, the last nightly run's status and each table's row count (no token needed)."""
    snapshot = json.loads(await stored(request, lambda cursor, info: with_snapshot(info, health(cursor, info))))
    built_at = dt.datetime.fromisoformat(snapshot["snapshot_built_at"])
    age = (dt.datetime.now(dt.UTC) - built_at).total_seconds()
    return {
        **snapshot,
        "snapshot_age_seconds": round(age, 1),
        "dashboard_refresh_seconds": request.app.state.refresh_seconds,
    }


def health(cursor: duckdb.DuckDBPyConnection, info: SnapshotInfo) -> dict[str, object]:
    return {"status": "ok", "last_run_status": last_run_status(cursor, info), "tables": info.row_counts}


@protected.get("/comprehensive")
async def comprehensive(request: Request) -> Response:
    """Every headline figure at once: KPI cards, daily revenue, forecast, segments, funnel, ROI,
    insights and the number of open alerts."""
    return await answer(request, with_snapshot_of(comprehensive_answer))


def comprehensive_answer(cursor: duckdb.DuckDBPyConnection) -> dict[str, object]:
    return {
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
    }


@protected.get("/revenue-forecast")
async def revenue_forecast_endpoint(
    request: Request, days: Annotated[int, Query(ge=1, le=MAX_FORECAST_DAYS)] = 30
) -> Response:
    """Actuals with the fitted values and band, and the next ``days`` days of forecast."""
    return await answer(request, with_snapshot_of(lambda cursor: revenue_forecast(cursor, days)), days)


@protected.get("/customer-behavior")
async def customer_behavior_endpoint(request: Request) -> Response:
    """RFM segments, churn risk, top customers and cohort retention."""
    return await answer(request, with_snapshot_of(customer_behavior))


@protected.get("/conversion-funnel")
async def conversion_funnel_endpoint(request: Request) -> Response:
    """Funnel stages, their daily rates and payment conversion by hour."""
    return await answer(request, with_snapshot_of(conversion_funnel))


@protected.get("/roi-dashboard")
async def roi_dashboard_endpoint(request: Request) -> Response:
    """Monthly profit, ROI and CAC, and the cost breakdown."""
    return await answer(request, with_snapshot_of(roi_dashboard))


@protected.get("/predictive")
async def predictive_endpoint(request: Request) -> Response:
    """Seasonality, churn and CLV scores, and the forecast model's quality."""
    return await answer(request, with_snapshot_of(predictive))


@protected.get("/business-insights")
async def business_insights_endpoint(request: Request) -> Response:
    """The ranked insights with their recommendations."""
    return await answer(request, with_snapshot_of(lambda cursor: {"insights": business_insights(cursor)}))


@protected.get("/alerts")
async def alerts_endpoint(request: Request) -> Response:
    """Every alert, open first, latest first."""
    return await answer(request, with_snapshot_of(alerts))


@protected.get("/model-performance")
async def model_performance_endpoint(request: Request) -> Response:
    """Each trained forecast model version with its backtest figures."""
    return await answer(request, with_snapshot_of(lambda cursor: {"models": model_performance(cursor)}))


@protected.get("/export")
async def export(
    request: Request,
    table: Annotated[str, Query(description="A published table, e.g. marts.kpi_summary")],
    format: Annotated[Literal["csv", "parquet", "json"], Query()] = "csv",  # noqa: A002 (the API's name)
) -> Response:
    """One published table as CSV, Parquet or JSON columns (JSON answers are stored per snapshot;
    CSV and Parquet, which can be large, are written on each request)."""
    if format == "json":
        # Only a published table's answer is stored: an unknown one raises the 422 before.
        return await answer(request, lambda cursor, info: export_json(cursor, info, table), table)
    return await run_in_threadpool(export_file, request.app.state.reader, table, format)


def published_table(info: SnapshotInfo, table: str) -> str:
    """The SQL name of ``table`` if the snapshot publishes it (never text from the request), else a 422."""
    if table not in info.row_counts:
        raise HTTPException(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            f"unknown table {table!r}: published tables are {', '.join(sorted(info.row_counts))}",
        )
    return qualified(table)


def export_json(cursor: duckdb.DuckDBPyConnection, info: SnapshotInfo, table: str) -> dict[str, object]:
    name = published_table(info, table)
    return with_snapshot(info, {"table": table, "columns": columns(cursor, f"select * from {name}")})


def export_file(reader: SnapshotReader, table: str, format: Literal["csv", "parquet"]) -> Response:  # noqa: A002
    with reader.cursor() as cursor:
        select = f"select * from {published_table(read_snapshot_info(cursor), table)}"
        buffer = io.BytesIO()
        if format == "parquet":
            pq.write_table(cursor.sql(select).to_arrow_table(), buffer)
        else:
            cursor.sql(select).df().to_csv(buffer, index=False)
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


def redact_tokens(path: str) -> str:
    """``path`` (with its query) with the value of every query parameter named ``token`` or
    ending in it (``access_token``) replaced by :data:`REDACTED`; other parameters kept."""
    base, question_mark, query = path.partition("?")
    if not question_mark:
        return path
    return f"{base}?{'&'.join(_redacted_parameter(parameter) for parameter in query.split('&'))}"


def _redacted_parameter(parameter: str) -> str:
    """One ``name=value`` of a query, its value redacted if the name is a token's."""
    name, equals, _value = parameter.partition("=")
    # Decoded first: ``%74oken`` is ``token`` to the page and to Starlette alike.
    if equals and unquote_plus(name).lower().endswith("token"):
        return f"{name}={REDACTED}"
    return parameter


class TokenRedaction(logging.Filter):
    """Redacts tokens from the request lines of uvicorn's access log.

    The dashboard's link carries the token (``/?token=…``) and uvicorn logs each request's path
    with its query string, so without this the API token would be written to every log kept of
    ``make serve``. uvicorn passes the request line's parts as the record's arguments, and its
    access formatter reads them from there, so they are redacted in place.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_tokens(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


TOKEN_REDACTION = TokenRedaction()
"""One instance, so that creating the app again does not add the filter twice."""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API and dashboard over ``settings.serving`` (default: the environment's settings)."""
    settings = settings or load_settings()
    if settings.api_token is None:
        raise SettingsError(
            "ANALYTICS_API_TOKEN is not set: the API does not start without a bearer token for its readers; "
            "set it to a secret, e.g. ANALYTICS_API_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe())')"
        )
    app = FastAPI(title="Storefront metrics API", description="Read-only analytics from the published snapshot.")
    app.state.token = settings.api_token.get_secret_value()
    app.state.reader = SnapshotReader(settings.serving)
    app.state.refresh_seconds = settings.api_refresh_seconds
    # On the logger, not a handler: uvicorn replaces the logger's handlers when it configures
    # logging (before or after this, depending on how it is started) but keeps its filters.
    logging.getLogger(ACCESS_LOGGER).addFilter(TOKEN_REDACTION)
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
