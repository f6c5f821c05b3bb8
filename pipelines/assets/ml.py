"""The ``ml`` assets: revenue forecast, model performance, seasonal patterns, customer scores and
business insights, read from the marts and written to schema ``ml``.

The math is :mod:`analytics_ml`'s; these assets only read their inputs with DuckDB, call it and
write the results, one connection per asset and one transaction per materialization, so a
reader never sees a forecast without its model row. Settings come from the ``ml_settings``
resource (:class:`pipelines.defs.resources.MLAssetSettings`).
"""

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import duckdb
import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, MetadataValue, asset, multi_asset
from dagster_duckdb import DuckDBResource

from analytics_ml import clv, insights
from analytics_ml import purchase_model_choice as choice
from analytics_ml.backtest import MIN_SELECTION_ORIGINS
from analytics_ml.forecast import DEFAULT_LEVELS, RevenueForecast, bound_columns, fit_revenue_forecast
from analytics_ml.trend_model import ForecastModel, seasonal_patterns, trend_summary
from pipelines.defs.resources import MLAssetSettings
from pipelines.warehouse.customer_model_store import (
    CustomerModelFit,
    latest_customer_model_fit,
    record_customer_model_fit,
)
from pipelines.warehouse.model_store import (
    PERFORMANCE_TABLE,
    StoredForecastModel,
    forecast_model_record,
    load_forecast_model,
    record_model,
)
from pipelines.warehouse.sql import replace_table, transaction

ML_SCHEMA = "ml"
ML_GROUP = "ml"
KINDS = {"python", "duckdb"}
PREVIEW_ROWS = 10
EXPECTED_PURCHASE_DAYS = (30, 90)


def mart(name: str) -> AssetKey:
    """Key of a dbt mart, as dagster-dbt names it."""
    return AssetKey(["marts", name])


def ml_table(name: str) -> AssetKey:
    """Key of an ``ml`` table."""
    return AssetKey([ML_SCHEMA, name])


# ---------------------------------------------------------------------------------------------
# Metadata


def preview(frame: pd.DataFrame, rows: int = PREVIEW_ROWS) -> MetadataValue:
    """The first rows of ``frame`` as a markdown table for the Dagster UI."""
    return MetadataValue.md(frame.head(rows).to_markdown(index=False, floatfmt=".4g"))


def _json_number(value: float) -> float | None:
    """NaN (an undefined metric) as JSON null."""
    return None if math.isnan(value) else value


# ---------------------------------------------------------------------------------------------
# Revenue forecast, fitted history, trend and model performance


def read_revenue_series(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """DataFrame[date, net_revenue] of ``marts.revenue_daily``, by day: ``forecast_revenue``'s history.

    Its promo_share is not read: no source says which promotions are planned, so the forecast
    assumes none, in its backtest as ahead (docs/forecasting.md)."""
    return con.execute("select revenue_date as date, net_revenue from marts.revenue_daily order by revenue_date").df()


def forecast_levels(confidence_level: float) -> tuple[float, ...]:
    """The levels of the forecast's bands: 80 % and 95 %, and ANALYTICS_ML_CONFIDENCE_LEVEL."""
    return tuple(sorted({*DEFAULT_LEVELS, confidence_level}))


def train_forecast(revenue: pd.DataFrame, settings: MLAssetSettings) -> RevenueForecast:
    """``analytics_ml.forecast``'s forecast of the days_ahead days after ``revenue``, the model chosen
    by its backtest over up to backtest_origins weekly origins."""
    return fit_revenue_forecast(
        revenue,
        settings.days_ahead,
        forecast_levels(settings.confidence_level),
        model_type=settings.model_type,
        max_origins=settings.backtest_origins,
    )


def forecast_table(
    trained: RevenueForecast, confidence_level: float, version: str, trained_at: dt.datetime
) -> pd.DataFrame:
    """DataFrame[date, forecast, lower, upper, confidence_level, lower_<pct>, upper_<pct> per level,
    cumulative_forecast, cumulative_lower, cumulative_upper, total_forecast, total_lower, total_upper,
    model_version, trained_at]: the forecast with its band at ``confidence_level`` as lower/upper and
    at every level by name; on each row the total of the days up to it with that total's band, and on
    every row the horizon's total with its band (intervals of the sum, not sums of the daily bounds)."""
    frame = trained.table()
    lower, upper = bound_columns(confidence_level)
    total = frame.attrs["total"]
    cumulative = pd.DataFrame([trained.total(days) for days in range(1, trained.horizon + 1)])
    return pd.DataFrame(
        {
            "date": frame["date"].dt.date,
            "forecast": frame["forecast"],
            "lower": frame[lower],
            "upper": frame[upper],
            "confidence_level": confidence_level,
            **{column: frame[column] for column in frame.columns if column.startswith(("lower_", "upper_"))},
            "cumulative_forecast": cumulative["forecast"],
            "cumulative_lower": cumulative[lower],
            "cumulative_upper": cumulative[upper],
            "total_forecast": total["forecast"],
            "total_lower": total[lower],
            "total_upper": total[upper],
            "model_version": version,
            "trained_at": trained_at,
        }
    )


def fitted_history_table(fitted: pd.DataFrame, version: str) -> pd.DataFrame:
    """DataFrame[date, actual, fitted, lower, upper, model_version] of ``RevenueForecast.fitted_history``:
    over the days the chosen model describes, with the band of a forecast one day ahead."""
    return fitted.assign(date=fitted["date"].dt.date, model_version=version)


def trend_table(model: ForecastModel, chosen: str, confidence_level: float, version: str) -> pd.DataFrame:
    """One row: the trend's direction and growth (``trend_summary`` of the regression that describes
    it), the chosen forecaster's label and the version."""
    summary = trend_summary(model, confidence_level)
    return pd.DataFrame(
        [
            {
                "as_of": model.last_date.date(),
                **summary,
                "confidence_level": confidence_level,
                "spec": chosen,
                "trend_spec": model.spec.label,
                "model_version": version,
            }
        ]
    )


def candidates_json(trained: RevenueForecast) -> dict[str, object]:
    """The chosen label, why, and each candidate's selection scores by label (undefined ones null)."""
    return {
        "chosen": trained.chosen.label,
        "reason": trained.selection.reason,
        "scores": {
            score.candidate.label: {
                "mase": _json_number(score.mase),
                "std_error": _json_number(score.std_error),
                "mae": _json_number(score.mae),
                "relative_mae": _json_number(score.relative_mae),
            }
            for score in trained.selection.scores
        },
    }


def candidates_markdown(trained: RevenueForecast) -> MetadataValue:
    """The candidates' backtest figures, best MASE first, the chosen one marked."""
    frame = pd.DataFrame(
        [
            {
                "candidate": score.candidate.label + (" (chosen)" if score.candidate == trained.chosen else ""),
                "mase": score.mase,
                "std_error": score.std_error,
                "relative_mae": score.relative_mae,
                "mae": score.mae,
            }
            for score in trained.selection.scores
        ]
    ).sort_values(["mase", "mae"])
    return preview(frame, rows=len(frame))


@multi_asset(
    name="revenue_forecast_model",
    group_name=ML_GROUP,
    specs=[
        AssetSpec(
            ml_table("revenue_forecast"),
            deps=[mart("revenue_daily")],
            kinds=KINDS,
            description="Daily net revenue forecast for the next ANALYTICS_DAYS_AHEAD days with its "
            "prediction interval, confidence level and model version.",
        ),
        AssetSpec(
            ml_table("revenue_fitted_history"),
            deps=[mart("revenue_daily")],
            kinds=KINDS,
            description="Actual and fitted daily net revenue with the prediction band, over the model's window.",
        ),
        AssetSpec(
            ml_table("revenue_trend"),
            deps=[mart("revenue_daily")],
            kinds=KINDS,
            description="One row: direction and growth rate of the fitted revenue trend, and the chosen spec.",
        ),
        AssetSpec(
            ml_table("model_performance"),
            deps=[mart("revenue_daily")],
            kinds=KINDS,
            description="One row per trained forecast version: backtest accuracy (R², MAE, MAPE, MASE), "
            "the out-of-sample coverage of its bands and the model's parameters as JSON.",
        ),
    ],
)
def revenue_forecast_model(
    context: AssetExecutionContext, warehouse: DuckDBResource, ml_settings: MLAssetSettings
) -> Iterator[MaterializeResult]:
    """Choose the forecast spec by a rolling-origin backtest, fit it on all of ``marts.revenue_daily``
    and write the forecast, the fitted history, the trend and the model's performance row."""
    trained_at = dt.datetime.now(dt.UTC)
    level = ml_settings.confidence_level
    with warehouse.get_connection() as con:
        revenue = read_revenue_series(con)
        trained = train_forecast(revenue, ml_settings)
        describing = trained.describing_regression()
        fitted = trained.fitted_history(level, judged_days=ml_settings.alert_lookback_days)
        record = forecast_model_record(
            trained, describing, fitted, candidates_json(trained), confidence_level=level, trained_at=trained_at
        )
        history = fitted_history_table(fitted, record.version)
        predicted = forecast_table(trained, level, record.version, trained_at)
        trend = trend_table(describing, trained.chosen.label, level, record.version)
        with transaction(con):
            replace_table(con, f"{ML_SCHEMA}.revenue_forecast", predicted)
            replace_table(con, f"{ML_SCHEMA}.revenue_fitted_history", history)
            replace_table(con, f"{ML_SCHEMA}.revenue_trend", trend)
            record_model(con, record)
        versions = con.execute(f"select count(*) from {PERFORMANCE_TABLE}").fetchone()[0]
    if trained.selection.origins < MIN_SELECTION_ORIGINS:
        context.log.warning(f"{len(revenue)} days of revenue: {trained.selection.reason}")

    yield MaterializeResult(
        asset_key=ml_table("revenue_forecast"),
        metadata={
            "dagster/row_count": len(predicted),
            "model_version": record.version,
            "spec": record.spec,
            "selection": trained.selection.reason,
            "forecast_total": float(predicted.at[0, "total_forecast"]),
            "forecast_total_lower": float(predicted.at[0, "total_lower"]),
            "forecast_total_upper": float(predicted.at[0, "total_upper"]),
            "confidence_level": level,
            "preview": preview(predicted[["date", "forecast", "lower", "upper"]]),
        },
    )
    yield MaterializeResult(
        asset_key=ml_table("revenue_fitted_history"),
        metadata={"dagster/row_count": len(history), "fitted_by": trained.chosen.label},
    )
    yield MaterializeResult(
        asset_key=ml_table("revenue_trend"),
        metadata={
            "direction": str(trend.at[0, "direction"]),
            "daily_growth_rate": float(trend.at[0, "daily_growth_rate"]),
            "annualised_growth_rate": float(trend.at[0, "annualised_growth_rate"]),
            "trend_spec": describing.spec.label,
        },
    )
    yield MaterializeResult(
        asset_key=ml_table("model_performance"),
        metadata={
            "dagster/row_count": versions,
            "model_version": record.version,
            "spec": record.spec,
            "backtest_origins": record.backtest_origins,
            "backtest_points": record.n_points,
            "r2": record.r2,
            "mae": record.mae,
            "mape": record.mape,
            "mase": record.mase,
            "relative_mae": record.relative_mae,
            "out_of_sample_coverage": record.out_of_sample_coverage,
            "out_of_sample_total_coverage": record.out_of_sample_total_coverage,
            "coverage_windows": record.coverage_windows,
            "total_coverage_windows": record.total_coverage_windows,
            "candidates": candidates_markdown(trained),
        },
    )


# ---------------------------------------------------------------------------------------------
# Seasonal patterns


def seasonal_patterns_table(stored: StoredForecastModel, confidence_level: float) -> pd.DataFrame:
    """DataFrame[pattern, period, period_order, effect, std_error, lower, upper, unit,
    confidence_level, model_version]: weekday and month effects of the stored model.

    unit is 'log_revenue' for the loglinear trend (effects on log1p(revenue), about relative)
    and 'currency' (a day) otherwise.
    """
    frame = seasonal_patterns(stored.model, confidence_level)
    return frame.assign(
        period_order=frame.groupby("pattern").cumcount() + 1,
        unit="log_revenue" if stored.model.spec.trend == "loglinear" else "currency",
        confidence_level=confidence_level,
        model_version=stored.version,
    )


@asset(
    key=ml_table("seasonal_patterns"),
    group_name=ML_GROUP,
    kinds=KINDS,
    deps=[ml_table("model_performance")],
)
def seasonal_patterns_asset(
    context: AssetExecutionContext, warehouse: DuckDBResource, ml_settings: MLAssetSettings
) -> MaterializeResult:
    """Day-of-week and month effects of the latest forecast model (loaded back from
    ``ml.model_performance``) with standard errors and confidence bounds."""
    with warehouse.get_connection() as con:
        stored = load_forecast_model(con)
        table = seasonal_patterns_table(stored, ml_settings.confidence_level)
        with transaction(con):
            rows = replace_table(con, f"{ML_SCHEMA}.seasonal_patterns", table)
    return MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "model_version": stored.version,
            "unit": str(table.at[0, "unit"]),
            "preview": preview(table[["pattern", "period", "effect", "lower", "upper"]], rows=len(table)),
        }
    )


# ---------------------------------------------------------------------------------------------
# Customer scores


CUSTOMER_MODELS_FORMAT = "pipelines.customer_models/1"


def _purchase_params(model: str, fields: dict[str, object]) -> clv.PurchaseParams:
    """The fitted parameters of purchase model ``model`` (a key of clv.PURCHASE_MODELS) from their fields."""
    return clv.PURCHASE_MODELS[model].params_type(**fields)


@dataclass(frozen=True)
class CustomerModels:
    """The purchase model chosen on the store's calibration/holdout split and refitted on every
    customer, the choice's figures, and the Gamma-Gamma spend model; times in days."""

    purchases: clv.PurchaseParams
    choice: choice.PurchaseModelChoice
    gamma_gamma: clv.GammaGammaParams
    excluded_from_spend_fit: int

    @property
    def version(self) -> str:
        """Deterministic id: a hash of the fitted parameters and the choice's figures."""
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()
        return f"clv-{digest[:12]}"

    def to_json(self) -> dict[str, object]:
        """Plain JSON of the fits and the choice; ``from_json`` of it gives the same models and version."""
        return {"format": CUSTOMER_MODELS_FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> "CustomerModels":
        """The models of ``to_json``; raises ValueError on another format (a fit stored by other code)."""
        if data.get("format") != CUSTOMER_MODELS_FORMAT:
            raise ValueError(
                f"unsupported customer models format {data.get('format')!r}, expected {CUSTOMER_MODELS_FORMAT!r}"
            )
        chosen = data["choice"]
        candidates = [
            choice.HoldoutFigures(**{**figures, "params": _purchase_params(figures["model"], figures["params"])})
            for figures in chosen["candidates"]
        ]
        return cls(
            purchases=_purchase_params(chosen["chosen"], data["purchases"]),
            choice=choice.PurchaseModelChoice(**{**chosen, "candidates": candidates}),
            gamma_gamma=clv.GammaGammaParams(**data["gamma_gamma"]),
            excluded_from_spend_fit=data["excluded_from_spend_fit"],
        )

    @property
    def fits(self) -> dict[str, clv.PurchaseParams | clv.GammaGammaParams]:
        """The two fits by their model's key (the chosen purchase model's, ``gamma_gamma``)."""
        return {self.choice.chosen: self.purchases, "gamma_gamma": self.gamma_gamma}


MODEL_NAMES = {**choice.MODEL_NAMES, "gamma_gamma": "Gamma-Gamma"}


def convergence_metadata(models: CustomerModels) -> dict[str, bool | str]:
    """``<model>_converged`` and ``<model>_optimizer_message`` of each fit, for the asset's metadata."""
    metadata: dict[str, bool | str] = {}
    for name, fit in models.fits.items():
        metadata[f"{name}_converged"] = fit.converged
        metadata[f"{name}_optimizer_message"] = fit.optimizer_message
    return metadata


def convergence_warnings(models: CustomerModels) -> list[str]:
    """One warning per fit that stopped without converging, naming the model and the optimizer's message."""
    return [
        f"The {MODEL_NAMES[name]} fit did not converge ({fit.optimizer_message}): ml.customer_scores "
        "holds scores from the parameters where the optimizer stopped"
        for name, fit in models.fits.items()
        if not fit.converged
    ]


def choice_json(models: CustomerModels) -> dict[str, object]:
    """The purchase model's choice for the metadata: each candidate's holdout log-likelihood,
    frequency-group error, groups and calibration parameters, and which one was chosen."""
    return {
        "chosen": models.choice.chosen,
        "holdout_days": models.choice.holdout_days,
        "calibration_customers": models.choice.calibration_customers,
        "candidates": {figures.model: asdict(figures) for figures in models.choice.candidates},
    }


def choice_markdown(models: CustomerModels) -> MetadataValue:
    """One row per candidate: holdout log-likelihood and frequency-group error, the chosen one marked."""
    frame = pd.DataFrame(
        [
            {
                "model": MODEL_NAMES[figures.model] + (" (chosen)" if figures.model == models.choice.chosen else ""),
                "holdout_log_likelihood": figures.holdout_log_likelihood,
                "frequency_group_error": figures.frequency_group_error,
            }
            for figures in models.choice.candidates
        ]
    )
    return preview(frame, rows=len(frame))


PURCHASE_DAYS_SQL = """
    -- A purchase is a day with a paid order up to the reference date, the marts' one definition
    -- (intermediate.int_paid_orders: a refunded order was paid, and is worth 0 net), so x > 0 exactly
    -- for the marts' repeat customers. Recency and age are whole days, so several orders of a day
    -- are one purchase occasion.
    select distinct customer_id, order_date
    from intermediate.int_paid_orders
    where order_date <= $reference_date
"""

CUSTOMER_HISTORY_SQL = """
-- int_customer_orders counts each customer's purchase days (PURCHASE_DAYS_SQL's, from the same paid
-- orders up to the same reference date) and keeps them up to date incrementally: reading its one
-- row per customer spares a night the grouping of every paid order.
select
    customer_id,
    purchase_days - 1 as frequency,
    date_diff('day', first_order_date, last_order_date) as recency_days,
    date_diff('day', first_order_date, $reference_date) as t_days,
    -- Gamma-Gamma's monetary value: the mean net value of the repeat purchase days, all but the
    -- first (null without any). Their sum is a DECIMAL, exact: a sum of doubles would depend on the
    -- order DuckDB's threads add in, and change the scores and the model version between runs.
    repeat_net_spend::double / nullif(purchase_days - 1, 0) as monetary
from intermediate.int_customer_orders
order by customer_id
"""

CALIBRATION_SQL = f"""
with purchases as ({PURCHASE_DAYS_SQL})

-- The customers who had bought by the split day: their history up to it (x, t_x, T) and the
-- purchase days after it, up to the reference date.
select
    customer_id,
    count(*) filter (where order_date <= $split_date) - 1 as frequency,
    date_diff('day', min(order_date), max(order_date) filter (where order_date <= $split_date)) as recency_days,
    date_diff('day', min(order_date), $split_date) as t_days,
    count(*) filter (where order_date > $split_date) as holdout_purchases
from purchases
group by customer_id
having min(order_date) <= $split_date
order by customer_id
"""


def read_reference_date(con: duckdb.DuckDBPyConnection) -> dt.date:
    """The marts' "as of" day (``marts.kpi_summary.reference_date``)."""
    return con.execute("select reference_date from marts.kpi_summary").fetchone()[0]


def read_customer_histories(con: duckdb.DuckDBPyConnection, reference_date: dt.date) -> pd.DataFrame:
    """DataFrame[customer_id, frequency, recency_days, t_days, monetary], one row per customer with
    a paid order up to ``reference_date`` (x, t_x, T in days, Gamma-Gamma's m)."""
    return con.execute(CUSTOMER_HISTORY_SQL, {"reference_date": reference_date}).df()


def read_calibration_histories(
    con: duckdb.DuckDBPyConnection, reference_date: dt.date, holdout_days: int
) -> pd.DataFrame:
    """DataFrame[customer_id, frequency, recency_days, t_days, holdout_purchases]: the histories up to
    ``holdout_days`` before ``reference_date`` and the purchase days after, for the model choice."""
    split_date = reference_date - dt.timedelta(days=holdout_days)
    return con.execute(CALIBRATION_SQL, {"reference_date": reference_date, "split_date": split_date}).df()


def history_columns(histories: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) of a histories frame as float arrays."""
    return tuple(histories[name].to_numpy(dtype=float) for name in ("frequency", "recency_days", "t_days"))


def fit_customer_models(histories: pd.DataFrame, calibration: pd.DataFrame, holdout_days: int) -> CustomerModels:
    """The purchase model chosen on ``calibration`` (:func:`choice.choose_purchase_model`), refitted on
    every customer; Gamma-Gamma on the repeat customers whose repeat purchases have a positive mean
    (a Gamma spend cannot be 0; repeat purchases worth 0 are left out and counted)."""
    x, t_x, t = history_columns(histories)
    monetary = histories["monetary"].to_numpy(dtype=float)
    repeat = x > 0
    spend = repeat & (monetary > 0)
    if not spend.any():
        raise ValueError("no customer has a repeat purchase of positive value: the Gamma-Gamma spend model needs one")
    gamma_gamma = clv.fit_gamma_gamma(x[spend], monetary[spend])
    if gamma_gamma.q <= 1:
        raise ValueError(f"Gamma-Gamma fit has q={gamma_gamma.q:.3g} <= 1: the expected spend is undefined")
    chosen = choice.choose_purchase_model(
        history_columns(calibration), calibration["holdout_purchases"].to_numpy(dtype=float), holdout_days
    )
    return CustomerModels(
        purchases=clv.fit_purchase_model(chosen.chosen, x, t_x, t, start=chosen.chosen_params),
        choice=chosen,
        gamma_gamma=gamma_gamma,
        excluded_from_spend_fit=int((repeat & ~spend).sum()),
    )


def score_customers(histories: pd.DataFrame, models: CustomerModels, horizon_days: int) -> pd.DataFrame:
    """The histories with probability_alive, churn_probability, expected_purchases_30d and _90d,
    expected_order_value, predicted_clv (over ``horizon_days``), purchase_model and model_version;
    vectorised."""
    x, t_x, t = history_columns(histories)
    # Gamma-Gamma ignores m where x = 0; 0 stands in for the null so no NaN enters the arithmetic.
    monetary = histories["monetary"].fillna(0.0).to_numpy(dtype=float)
    alive = clv.probability_alive(models.purchases, x, t_x, t)
    expected = {
        f"expected_purchases_{days}d": clv.expected_purchases(models.purchases, days, x, t_x, t)
        for days in EXPECTED_PURCHASE_DAYS
    }
    return histories.assign(
        probability_alive=alive,
        churn_probability=1.0 - alive,
        **expected,
        expected_order_value=clv.gamma_gamma_expected_spend(models.gamma_gamma, x, monetary),
        predicted_clv=clv.predicted_clv(
            models.purchases, models.gamma_gamma, x, t_x, t, m=monetary, horizon=horizon_days
        ),
        clv_horizon_days=horizon_days,
        purchase_model=MODEL_NAMES[models.choice.chosen],
        model_version=models.version,
    )


def refit_reason(
    stored: CustomerModelFit | None, reference_date: dt.date, customers: int, settings: MLAssetSettings
) -> str | None:
    """Why the customer models are refitted tonight, None when the stored fit still serves: refitted
    every ``customer_model_refit_days`` days, or sooner when the number of customers with a paid order
    moved by more than ``customer_model_refit_base_change`` (a share) since the fit, or when there is
    no stored fit of the current format as of a day up to the reference date."""
    if stored is None:
        return "no stored fit"
    if stored.parameters.get("format") != CUSTOMER_MODELS_FORMAT:
        return f"the stored fit is of format {stored.parameters.get('format')!r}, not {CUSTOMER_MODELS_FORMAT!r}"
    age = (reference_date - stored.fitted_on).days
    if age < 0:
        return f"the stored fit is as of {stored.fitted_on.isoformat()}, after the reference date"
    if age >= settings.customer_model_refit_days:
        return f"the stored fit is {age} days old (refit every {settings.customer_model_refit_days})"
    moved = abs(customers - stored.customers) / stored.customers
    if moved > settings.customer_model_refit_base_change:
        return (
            f"the customer base moved by {moved:.1%} since the fit ({stored.customers} -> {customers} customers; "
            f"refit above {settings.customer_model_refit_base_change:.1%})"
        )
    return None


@asset(
    key=ml_table("customer_scores"),
    group_name=ML_GROUP,
    kinds=KINDS,
    deps=[
        AssetKey(["intermediate", "int_paid_orders"]),
        AssetKey(["intermediate", "int_customer_orders"]),
        mart("kpi_summary"),
    ],
)
def customer_scores(
    context: AssetExecutionContext, warehouse: DuckDBResource, ml_settings: MLAssetSettings
) -> MaterializeResult:
    """Churn probability, expected purchases and predicted lifetime value of every customer with a
    paid order as of the marts' reference date: the purchase model (BG/NBD, MBG/NBD or Pareto/NBD)
    chosen on a calibration/holdout split of the store's history and Gamma-Gamma, fitted on all
    customers. The fit is kept in ``ml.customer_model_fits`` and reused on the nights until
    ``refit_reason`` calls for a new one (weekly by default); ``model_version`` and ``model_fitted_on``
    of each score say which fit it came from."""
    with warehouse.get_connection() as con:
        reference_date = read_reference_date(con)
        histories = read_customer_histories(con, reference_date)
        stored = latest_customer_model_fit(con)
        reason = refit_reason(stored, reference_date, len(histories), ml_settings)
        if reason is None:
            models, fitted_on = CustomerModels.from_json(stored.parameters), stored.fitted_on
        else:
            holdout_days = choice.holdout_days(int(histories["t_days"].max()))
            calibration = read_calibration_histories(con, reference_date, holdout_days)
            models, fitted_on = fit_customer_models(histories, calibration, holdout_days), reference_date
        scores = score_customers(histories, models, ml_settings.clv_horizon_days)
        with transaction(con):
            if reason is not None:
                record_customer_model_fit(
                    con,
                    CustomerModelFit(
                        model_version=models.version,
                        fitted_on=reference_date,
                        fitted_at=dt.datetime.now(dt.UTC),
                        customers=len(histories),
                        purchase_model=models.choice.chosen,
                        parameters=models.to_json(),
                    ),
                )
            rows = replace_table(
                con,
                f"{ML_SCHEMA}.customer_scores",
                scores.assign(model_fitted_on=fitted_on, reference_date=reference_date),
            )
    context.log.info(
        f"customer models refitted: {reason}"
        if reason
        else f"customer models of {fitted_on.isoformat()} ({models.version}) reused: refit due "
        f"{(fitted_on + dt.timedelta(days=ml_settings.customer_model_refit_days)).isoformat()}"
    )
    # The scores are still written (a fit that needs more iterations should not stop the nightly run),
    # but never silently: the warning is on the run, the verdict in the metadata.
    for warning in convergence_warnings(models):
        context.log.warning(warning)
    if models.excluded_from_spend_fit:
        context.log.warning(
            f"{models.excluded_from_spend_fit} repeat customer(s) whose repeat purchases are worth 0 were left "
            "out of the Gamma-Gamma fit"
        )
    return MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "reference_date": reference_date.isoformat(),
            "model_version": models.version,
            "model_fitted_on": fitted_on.isoformat(),
            "refitted": reason is not None,
            "refit_reason": reason or "none: scored with the stored parameters",
            "repeat_customers": int((scores["frequency"] > 0).sum()),
            "excluded_from_spend_fit": models.excluded_from_spend_fit,
            "purchase_model": MODEL_NAMES[models.choice.chosen],
            "purchase_model_parameters": MetadataValue.json(asdict(models.purchases)),
            "purchase_model_choice": choice_markdown(models),
            "purchase_model_choice_figures": MetadataValue.json(choice_json(models)),
            "gamma_gamma_parameters": MetadataValue.json(asdict(models.gamma_gamma)),
            **convergence_metadata(models),
            "mean_churn_probability": float(scores["churn_probability"].mean()),
            "total_predicted_clv": float(scores["predicted_clv"].sum()),
            "top_predicted_clv": preview(
                scores.nlargest(PREVIEW_ROWS, "predicted_clv")[
                    ["customer_id", "frequency", "recency_days", "t_days", "probability_alive", "predicted_clv"]
                ]
            ),
        }
    )


# ---------------------------------------------------------------------------------------------
# Business insights


def read_insight_inputs(con: duckdb.DuckDBPyConnection) -> insights.InsightInputs:
    """Every table the insight rules read."""

    def frame(sql: str) -> pd.DataFrame:
        return con.execute(sql).df()

    return insights.InsightInputs(
        trend=frame("select * from ml.revenue_trend").iloc[0].to_dict(),
        forecast=frame(
            "select date, forecast, confidence_level, total_lower, total_upper from ml.revenue_forecast order by date"
        ),
        revenue_daily=frame("select revenue_date, net_revenue from marts.revenue_daily"),
        segments=frame(
            "select segment, customers, revenue, revenue_share, suggested_action from marts.customer_segments"
        ),
        funnel_stages=frame("select stage, stage_order, entered, drop_off_rate from marts.funnel_stages"),
        kpis=frame(
            "select reference_date, ltv_to_cac, ltv_to_cac_prior, ltv_horizon_days, ltv_cohort_month, cohort_ltv, "
            "cohort_cac, mover_month, product_mover, product_mover_growth, channel_cac_mover, channel_cac_mover_change "
            "from marts.kpi_summary"
        )
        .iloc[0]
        .to_dict(),
        roi_monthly=frame("select roi_month, net_margin, has_cost_data from marts.roi_monthly"),
        seasonal_patterns=frame("select pattern, period, effect, lower, upper, unit from ml.seasonal_patterns"),
    )


@asset(
    key=ml_table("business_insights"),
    group_name=ML_GROUP,
    kinds=KINDS,
    deps=[
        ml_table("revenue_trend"),
        ml_table("revenue_forecast"),
        ml_table("seasonal_patterns"),
        mart("revenue_daily"),
        mart("customer_segments"),
        mart("funnel_stages"),
        mart("kpi_summary"),
        mart("roi_monthly"),
    ],
)
def business_insights(
    context: AssetExecutionContext, warehouse: DuckDBResource, ml_settings: MLAssetSettings
) -> MaterializeResult:
    """Ranked plain-language insights (revenue, forecast, profitability, customers, funnel,
    seasonality) from the marts and the model tables, by the rules of ``analytics_ml.insights``."""
    with warehouse.get_connection() as con:
        inputs = read_insight_inputs(con)
        findings = insights.evaluate_rules(inputs, ml_settings.insight_thresholds())
        table = insights.rank_insights(item for item in findings.values() if item is not None)
        with transaction(con):
            rows = replace_table(
                con,
                f"{ML_SCHEMA}.business_insights",
                table.assign(reference_date=pd.Timestamp(inputs.kpis["reference_date"]).date()),
            )
    without_finding = sorted(name for name, item in findings.items() if item is None)
    if without_finding:
        context.log.info(f"insight rules whose figure is undefined on this data: {', '.join(without_finding)}")
    severities = table["severity"].value_counts()
    return MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            **{f"{severity}_insights": int(severities.get(severity, 0)) for severity in insights.SEVERITIES},
            "rules_without_finding": ", ".join(without_finding) or "none",
            "preview": preview(table[["rank", "severity", "category", "title"]], rows=len(table)),
        }
    )


ml_assets = [revenue_forecast_model, seasonal_patterns_asset, customer_scores, business_insights]
