"""Trained forecast models in ``ml.model_performance``: record a version, load one back.

Each row is one trained forecast version with its backtest figures and, as plain JSON
(``ForecastModel.to_json``, never pickle), the regression that describes the store's trend and
seasonality, which ``ml.seasonal_patterns`` reloads. Recording a version again replaces its row:
a re-run on the same data and settings is idempotent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass

import duckdb
import pandas as pd

from analytics_ml.forecast import RevenueForecast
from analytics_ml.trend_model import ForecastModel

FORECAST_MODEL = "revenue_forecast"
PERFORMANCE_TABLE = "ml.model_performance"

_CREATE_PERFORMANCE_TABLE = f"""
create table if not exists {PERFORMANCE_TABLE} (
    model varchar not null,
    version varchar not null,
    trained_at timestamptz not null,
    spec varchar not null,
    trend varchar not null,
    window_days integer,
    data_start date not null,
    data_end date not null,
    horizon_days integer not null,
    backtest_origins integer not null,
    confidence_level double not null,
    r2 double,
    mae double,
    mape double,
    mase double,
    naive_mae double,
    relative_mae double,
    out_of_sample_coverage double,
    out_of_sample_total_coverage double,
    coverage_windows integer not null,
    total_coverage_windows integer not null,
    n_obs integer not null,
    n_points integer not null,
    parameters varchar not null,
    candidates varchar not null
)"""


@dataclass(frozen=True)
class ModelRecord:
    """One row of ``ml.model_performance`` (columns of the same names)."""

    model: str
    version: str
    trained_at: dt.datetime
    spec: str
    trend: str
    window_days: int | None
    data_start: dt.date
    data_end: dt.date
    horizon_days: int
    backtest_origins: int
    confidence_level: float
    r2: float
    mae: float
    mape: float
    mase: float
    naive_mae: float
    relative_mae: float
    out_of_sample_coverage: float | None
    out_of_sample_total_coverage: float | None
    coverage_windows: int
    total_coverage_windows: int
    n_obs: int
    n_points: int
    parameters: str
    candidates: str


@dataclass(frozen=True, eq=False)
class StoredForecastModel:
    """A recorded forecast model loaded back: its version, settings and the model itself."""

    version: str
    trained_at: dt.datetime
    horizon_days: int
    confidence_level: float
    model: ForecastModel


def forecast_model_version(trained: RevenueForecast, describing: ForecastModel, confidence_level: float) -> str:
    """Deterministic id of a trained forecast and how it was chosen.

    A hash of the chosen forecaster, the regression that describes trend and seasonality (its
    JSON holds the data range and the fitted parameters), the forecast itself (the last weeks of
    data, which seasonal naive repeats, are in it), the horizon, the backtest origins and the
    levels: the same data and settings always give the same version, anything else a new one.
    """
    identity = {
        "chosen": trained.chosen.label,
        "model": describing.to_json(),
        "forecast": [float(value) for value in trained.forecast],
        "horizon": trained.horizon,
        "origins": len(trained.backtest.origins),
        "levels": list(trained.levels),
        "confidence_level": confidence_level,
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return f"rf-{digest[:12]}"


def forecast_model_record(
    trained: RevenueForecast,
    describing: ForecastModel,
    fitted: pd.DataFrame,
    candidates: dict[str, object],
    *,
    confidence_level: float,
    trained_at: dt.datetime,
) -> ModelRecord:
    """The performance row of ``trained``: the chosen forecaster (spec, trend: its trend or its kind,
    window) and its backtest figures at ``confidence_level``, the days of its ``fitted`` history
    (data_start, data_end), ``candidates`` (``candidates_json``) and, as parameters, the JSON of
    the regression ``describing`` trend and seasonality (``seasonal_patterns`` loads it back)."""
    metrics = trained.backtest_metrics(confidence_level)
    spec = trained.chosen.spec
    return ModelRecord(
        model=FORECAST_MODEL,
        version=forecast_model_version(trained, describing, confidence_level),
        trained_at=trained_at,
        spec=trained.chosen.label,
        trend=trained.chosen.kind if spec is None else spec.trend,
        window_days=None if spec is None else spec.window_days,
        data_start=fitted["date"].min().date(),
        data_end=fitted["date"].max().date(),
        horizon_days=trained.horizon,
        backtest_origins=trained.selection.origins,
        confidence_level=confidence_level,
        r2=metrics["r2"],
        mae=metrics["mae"],
        mape=metrics["mape"],
        mase=metrics["mase"],
        naive_mae=metrics["naive_mae"],
        relative_mae=metrics["relative_mae"],
        out_of_sample_coverage=_null_if_nan(metrics["out_of_sample_coverage"]),
        out_of_sample_total_coverage=_null_if_nan(metrics["out_of_sample_total_coverage"]),
        coverage_windows=metrics["coverage_windows"],
        total_coverage_windows=metrics["total_coverage_windows"],
        n_obs=len(trained.values),
        n_points=metrics["n_points"],
        parameters=json.dumps(describing.to_json()),
        candidates=json.dumps(candidates),
    )


def _null_if_nan(value: float) -> float | None:
    """A coverage over no window (NaN) as SQL NULL: no denominator, no figure."""
    return None if math.isnan(value) else value


def record_model(con: duckdb.DuckDBPyConnection, record: ModelRecord) -> None:
    """Add ``record`` to ``ml.model_performance``, replacing an earlier row of the same version.

    Runs in the caller's transaction, if any.
    """
    con.execute("create schema if not exists ml")
    con.execute(_CREATE_PERFORMANCE_TABLE)
    _upgrade_performance_table(con)
    con.execute(f"delete from {PERFORMANCE_TABLE} where model = ? and version = ?", [record.model, record.version])
    values = dataclasses.astuple(record)
    columns = ", ".join(item.name for item in dataclasses.fields(ModelRecord))
    con.execute(f"insert into {PERFORMANCE_TABLE} ({columns}) values ({', '.join('?' * len(values))})", list(values))


def _upgrade_performance_table(con: duckdb.DuckDBPyConnection) -> None:
    """Bring a table written before the coverage was measured out of sample up to date: its
    ``coverage`` was the bands' in-sample coverage (calibrated on the errors it counted), a figure
    that looked better than the bands are, so it is dropped rather than kept beside the new ones."""
    for column, sql_type in (
        ("out_of_sample_coverage", "double"),
        ("out_of_sample_total_coverage", "double"),
        ("coverage_windows", "integer"),
        ("total_coverage_windows", "integer"),
    ):
        con.execute(f"alter table {PERFORMANCE_TABLE} add column if not exists {column} {sql_type}")
    con.execute(f"alter table {PERFORMANCE_TABLE} drop column if exists coverage")


def load_forecast_model(con: duckdb.DuckDBPyConnection, version: str | None = None) -> StoredForecastModel:
    """The recorded forecast model ``version``, or the most recently trained one when None."""
    row = con.execute(
        f"""select version, trained_at, horizon_days, confidence_level, parameters
from {PERFORMANCE_TABLE}
where model = ? and (? is null or version = ?)
order by trained_at desc
limit 1""",
        [FORECAST_MODEL, version, version],
    ).fetchone()
    if row is None:
        wanted = "any version" if version is None else f"version {version!r}"
        raise LookupError(f"{PERFORMANCE_TABLE} holds no {FORECAST_MODEL} model of {wanted}")
    version, trained_at, horizon_days, confidence_level, parameters = row
    return StoredForecastModel(
        version=version,
        trained_at=trained_at,
        horizon_days=horizon_days,
        confidence_level=confidence_level,
        model=ForecastModel.from_json(json.loads(parameters)),
    )
