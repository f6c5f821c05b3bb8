"""The JSON API and the dashboard (``make serve``): read-only views of the readers' snapshot.

Every answer is read from the serving DuckDB file that the ``serving`` asset publishes; nothing is
computed from raw rows on a request. Answers are shaped for charts: a table is an object of
columns (``{"date": [...], "net_revenue": [...]}``), and each carries the snapshot's build time.
Every endpoint but ``health-check`` needs the bearer token ``ANALYTICS_API_TOKEN``.

Run with ``make serve`` (``python -m pipelines.cli.serve``): its server also stops reading a request
whose headers grow past :data:`pipelines.readers.request_head.MAX_REQUEST_HEAD_BYTES`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import secrets
from collections.abc import Callable, Hashable
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Literal

import duckdb
import plotly
import pyarrow.parquet as pq
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from pipelines.readers.answers import (
    MAX_FORECAST_DAYS,
    alerts,
    business_insights,
    channels,
    columns,
    comprehensive_answer,
    conversion_funnel,
    customer_behavior,
    health,
    model_performance,
    predictive,
    products,
    revenue_forecast,
    roi_dashboard,
    with_snapshot,
)
from pipelines.readers.docs_pages import DOCS_ASSETS, DOCS_ASSETS_URL, docs_pages
from pipelines.readers.redaction import ACCESS_LOGGER, TOKEN_REDACTION
from pipelines.readers.request_head import RequestHeadLimit
from pipelines.readers.security_headers import SecurityHeaders
from pipelines.readers.snapshot_reader import SnapshotReader, SnapshotUnavailable
from pipelines.settings import Settings, SettingsError
from pipelines.warehouse.snapshot import SnapshotInfo, read_snapshot_info
from pipelines.warehouse.sql import qualified

API_PREFIX = "/api/analytics"
DASHBOARD = Path(__file__).parent / "dashboard"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
EXPORT_MEDIA_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet", "json": "application/json"}
# uvicorn's server log (named "error" but holding all its messages), which `make serve` writes to stderr.
SERVER_LOGGER = logging.getLogger("uvicorn.error")
SNAPSHOT_UNAVAILABLE = "no readable snapshot is available; the server log says why"


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


# HEAD too: monitors and load balancers probe with it, for the status without the body. (Two
# routes, not one of both methods, which would give both operations one id in the OpenAPI schema.)
@router.get("/health-check")
@router.head("/health-check")
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


@protected.get("/comprehensive")
async def comprehensive(request: Request) -> Response:
    """Every headline figure at once: the reporting currency (`ANALYTICS_CURRENCY` of the build) of every amount,
    KPI cards and the days they cover (`kpi_period`), daily revenue (net and gross revenue, refunds,
    orders and new customers a day, for sums over any range of days), forecast, segments, funnel,
    ROI, insights and the number of open alerts."""
    return await answer(request, lambda cursor, info: with_snapshot(info, comprehensive_answer(cursor, info.currency)))


@protected.get("/revenue-forecast")
async def revenue_forecast_endpoint(
    request: Request, days: Annotated[int, Query(ge=1, le=MAX_FORECAST_DAYS)] = 30
) -> Response:
    """Actuals with the fitted values and band, and the next ``days`` days of forecast, or as many as
    are stored (``available_days`` says how many)."""
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


@protected.get("/products")
async def products_endpoint(request: Request) -> Response:
    """Products: the top sellers of the last KPI window against the window before, each product's
    month by month (orders, net revenue, refund rate, share, growth) and over the whole history."""
    return await answer(request, with_snapshot_of(products))


@protected.get("/channels")
async def channels_endpoint(request: Request) -> Response:
    """Acquisition channels by month: new customers, marketing spend, CAC, first-order revenue, 90- and
    365-day LTV per customer, LTV/CAC, payback months and ROAS."""
    return await answer(request, with_snapshot_of(channels))


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


async def snapshot_unavailable(request: Request, error: SnapshotUnavailable) -> JSONResponse:
    """A 503 with a generic text, as FastAPI answers an HTTPException; the server log gets the file
    and the cause. A client, health-check's without a token too, learns nothing of the server's
    paths or its DuckDB's messages."""
    SERVER_LOGGER.warning("%s %s: 503, %s", request.method, request.url.path, error)
    return JSONResponse({"detail": SNAPSHOT_UNAVAILABLE}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)


def required_token(settings: Settings) -> str:
    """The API's bearer token; a :class:`SettingsError` if it is unset or blank. A blank one is a
    mistake (a variable set from an empty one, say): the server would start and turn away every
    reader with a 401, and the log would never say why."""
    token = settings.api.token.get_secret_value() if settings.api.token is not None else ""
    if not token.strip():
        state = "is not set" if settings.api.token is None else "is empty"
        raise SettingsError(
            f"ANALYTICS_API_TOKEN {state}: the API does not start without a bearer token for its readers; "
            "set it to a secret, e.g. ANALYTICS_API_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe())')"
        )
    return token


def create_app(settings: Settings) -> FastAPI:
    """The API and dashboard over the snapshot of ``settings`` (``ANALYTICS_SERVING_PATH``)."""
    token = required_token(settings)
    # The docs pages are docs_pages', which serve Swagger UI and Redoc without a CDN.
    app = FastAPI(
        title="Storefront metrics API",
        description="Read-only analytics from the published snapshot.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.token = token
    app.state.reader = SnapshotReader(settings.serving_file)
    app.state.refresh_seconds = settings.api.refresh_seconds
    app.add_exception_handler(SnapshotUnavailable, snapshot_unavailable)
    # On the logger, not a handler: uvicorn replaces the logger's handlers when it configures
    # logging (before or after this, depending on how it is started) but keeps its filters.
    logging.getLogger(ACCESS_LOGGER).addFilter(TOKEN_REDACTION)
    for part in (router, protected, pages, docs_pages):
        app.include_router(part)
    app.mount("/static", StaticFiles(directory=DASHBOARD), name="static")
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    # The last added is the outermost: the 431 of an oversized head carries the security headers too.
    app.add_middleware(RequestHeadLimit)
    app.add_middleware(SecurityHeaders, private_prefix=API_PREFIX)
    return app
