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
import pandas as pd
from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, MetadataValue, asset, multi_asset
from dagster_duckdb import DuckDBResource

from analytics_ml import clv, insights
from analytics_ml.backtest import MIN_TRAIN_DAYS, BacktestResult, candidates_for, select_spec
from analytics_ml.forecast import (
    ForecastModel,
    fit_forecast,
    fitted_history,
    forecast,
    seasonal_patterns,
    trend_summary,
)
from pipelines.defs.resources import MLAssetSettings
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


@dataclass(frozen=True, eq=False)
class TrainedForecast:
    """The chosen forecast model, its backtest and every candidate's backtest."""

    model: ForecastModel
    backtest: BacktestResult
    candidates: list[BacktestResult]
    n_origins: int


def read_revenue_series(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """DataFrame[revenue_date, net_revenue, promo_share] of ``marts.revenue_daily``, by day.

    promo_share (share of the day's paid orders that used a promotion) is the forecaster's promo
    regressor; it is null on days without orders, which had no promotion orders either, so 0.
    """
    return con.execute(
        """select revenue_date, net_revenue, coalesce(promo_share, 0) as promo_share
from marts.revenue_daily
order by revenue_date"""
    ).df()


def usable_backtest_origins(n_days: int, horizon: int, requested: int) -> int:
    """The requested number of backtest origins, or as many as the history holds.

    Each origin tests ``horizon`` days and the first needs MIN_TRAIN_DAYS of history before it,
    so a short history (a new store) is backtested on fewer origins rather than not at all.
    """
    fitting = (n_days - MIN_TRAIN_DAYS) // horizon
    if fitting < 1:
        raise ValueError(
            f"marts.revenue_daily has {n_days} days: backtesting a {horizon}-day forecast "
            f"(ANALYTICS_DAYS_AHEAD) needs at least {MIN_TRAIN_DAYS + horizon}"
        )
    return min(requested, fitting)


def train_forecast(revenue: pd.DataFrame, settings: MLAssetSettings) -> TrainedForecast:
    """Choose the spec with the best rolling-origin backtest among ``candidates_for(model_type)``
    (horizon = days_ahead) and fit it on the whole series."""
    dates, values, promo = revenue["revenue_date"], revenue["net_revenue"], revenue["promo_share"]
    n_origins = usable_backtest_origins(len(revenue), settings.days_ahead, settings.backtest_origins)
    best, results = select_spec(
        dates,
        values,
        candidates_for(settings.model_type, len(revenue)),
        settings.days_ahead,
        n_origins,
        confidence_level=settings.confidence_level,
        promo=promo,
    )
    return TrainedForecast(
        model=fit_forecast(dates, values, best, promo),
        backtest=results[best],
        candidates=list(results.values()),
        n_origins=n_origins,
    )


def forecast_table(
    trained: TrainedForecast, settings: MLAssetSettings, version: str, trained_at: dt.datetime
) -> pd.DataFrame:
    """DataFrame[date, forecast, lower, upper, confidence_level, model_version, trained_at] of the
    days_ahead days after the last revenue day, with no promotion planned (promo 0)."""
    frame = forecast(trained.model, settings.days_ahead, settings.confidence_level)
    return frame.assign(
        date=frame["date"].dt.date,
        confidence_level=settings.confidence_level,
        model_version=version,
        trained_at=trained_at,
    )


def fitted_history_table(
    model: ForecastModel, revenue: pd.DataFrame, confidence_level: float, version: str
) -> pd.DataFrame:
    """DataFrame[date, actual, fitted, lower, upper, model_version] over the days the model was
    fitted on (its window), with the actual promo share."""
    fitted = revenue[revenue["revenue_date"] >= model.origin]
    frame = fitted_history(
        model, fitted["revenue_date"], fitted["net_revenue"], confidence_level, promo=fitted["promo_share"]
    )
    return frame.assign(date=frame["date"].dt.date, model_version=version)


def trend_table(model: ForecastModel, confidence_level: float, version: str) -> pd.DataFrame:
    """One row: the fitted trend's direction and growth (``trend_summary``), the spec and version."""
    summary = trend_summary(model, confidence_level)
    return pd.DataFrame(
        [
            {
                "as_of": model.last_date.date(),
                **summary,
                "confidence_level": confidence_level,
                "spec": model.spec.label,
                "model_version": version,
            }
        ]
    )


def candidates_json(candidates: list[BacktestResult]) -> dict[str, dict[str, float | None]]:
    """Each candidate spec's pooled backtest metrics, by spec label (undefined metrics null)."""
    return {
        result.spec.label: {
            name: _json_number(value)
            for name, value in {**asdict(result.metrics), "relative_mae": result.metrics.relative_mae}.items()
        }
        for result in candidates
    }


def candidates_markdown(candidates: list[BacktestResult], chosen: BacktestResult) -> MetadataValue:
    """The candidates' backtest figures, best MASE first, the chosen one marked."""
    frame = pd.DataFrame(
        [
            {
                "spec": result.spec.label + (" (chosen)" if result is chosen else ""),
                "mase": result.metrics.mase,
                "relative_mae": result.metrics.relative_mae,
                "mae": result.metrics.mae,
                "coverage": result.metrics.coverage,
            }
            for result in candidates
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
            description="One row per trained forecast version: backtest accuracy (R², MAE, MAPE, MASE, "
            "coverage) and the model's parameters as JSON.",
        ),
    ],
)
def revenue_forecast_model(
    context: AssetExecutionContext, warehouse: DuckDBResource, ml_settings: MLAssetSettings
) -> Iterator[MaterializeResult]:
    """Choose the forecast spec by a rolling-origin backtest, fit it on all of ``marts.revenue_daily``
    and write the forecast, the fitted history, the trend and the model's performance row."""
    trained_at = dt.datetime.now(dt.UTC)
    with warehouse.get_connection() as con:
        revenue = read_revenue_series(con)
        trained = train_forecast(revenue, ml_settings)
        if trained.n_origins < ml_settings.backtest_origins:
            context.log.warning(
                f"{len(revenue)} days of revenue hold {trained.n_origins} of the {ml_settings.backtest_origins} "
                f"backtest origins (ANALYTICS_BACKTEST_ORIGINS) at a {ml_settings.days_ahead}-day horizon"
            )
        record = forecast_model_record(
            trained.model,
            trained.backtest,
            candidates_json(trained.candidates),
            n_origins=trained.n_origins,
            trained_at=trained_at,
        )
        predicted = forecast_table(trained, ml_settings, record.version, trained_at)
        history = fitted_history_table(trained.model, revenue, ml_settings.confidence_level, record.version)
        trend = trend_table(trained.model, ml_settings.confidence_level, record.version)
        with transaction(con):
            replace_table(con, f"{ML_SCHEMA}.revenue_forecast", predicted)
            replace_table(con, f"{ML_SCHEMA}.revenue_fitted_history", history)
            replace_table(con, f"{ML_SCHEMA}.revenue_trend", trend)
            record_model(con, record)
        versions = con.execute(f"select count(*) from {PERFORMANCE_TABLE}").fetchone()[0]

    yield MaterializeResult(
        asset_key=ml_table("revenue_forecast"),
        metadata={
            "dagster/row_count": len(predicted),
            "model_version": record.version,
            "spec": record.spec,
            "forecast_total": float(predicted["forecast"].sum()),
            "confidence_level": ml_settings.confidence_level,
            "preview": preview(predicted[["date", "forecast", "lower", "upper"]]),
        },
    )
    yield MaterializeResult(
        asset_key=ml_table("revenue_fitted_history"),
        metadata={"dagster/row_count": len(history), "in_sample_r2": trained.model.fit.r2},
    )
    yield MaterializeResult(
        asset_key=ml_table("revenue_trend"),
        metadata={
            "direction": str(trend.at[0, "direction"]),
            "daily_growth_rate": float(trend.at[0, "daily_growth_rate"]),
            "annualised_growth_rate": float(trend.at[0, "annualised_growth_rate"]),
        },
    )
    metrics = trained.backtest.metrics
    yield MaterializeResult(
        asset_key=ml_table("model_performance"),
        metadata={
            "dagster/row_count": versions,
            "model_version": record.version,
            "spec": record.spec,
            "backtest_origins": trained.n_origins,
            "backtest_points": metrics.n_points,
            "r2": metrics.r2,
            "mae": metrics.mae,
            "mape": metrics.mape,
            "mase": metrics.mase,
            "relative_mae": metrics.relative_mae,
            "coverage": metrics.coverage,
            "candidates": candidates_markdown(trained.candidates, trained.backtest),
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


@dataclass(frozen=True)
class CustomerModels:
    """Fitted BG/NBD (purchases) and Gamma-Gamma (spend) models, times in days."""

    bgnbd: clv.BGNBDParams
    gamma_gamma: clv.GammaGammaParams
    excluded_from_spend_fit: int

    @property
    def version(self) -> str:
        """Deterministic id: a hash of the fitted parameters."""
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()
        return f"clv-{digest[:12]}"

    @property
    def fits(self) -> dict[str, clv.BGNBDParams | clv.GammaGammaParams]:
        """The two fits by their model's name (``bgnbd``, ``gamma_gamma``)."""
        return {"bgnbd": self.bgnbd, "gamma_gamma": self.gamma_gamma}


MODEL_NAMES = {"bgnbd": "BG/NBD", "gamma_gamma": "Gamma-Gamma"}


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


CUSTOMER_HISTORY_SQL = """
-- The marts' customers (intermediate.int_customer_orders, as of the same reference date): a
-- purchase is a day with a paid order, so x > 0 exactly for the marts' repeat customers.
select
    customer_id,
    purchase_days - 1 as frequency,
    date_diff('day', first_order_date, last_order_date) as recency_days,
    date_diff('day', first_order_date, $reference_date) as t_days,
    -- Gamma-Gamma's monetary value: the mean net value of the purchase days after the first (null
    -- without any).
    repeat_net_spend / nullif(purchase_days - 1, 0) as monetary
from intermediate.int_customer_orders
order by customer_id
"""


def read_reference_date(con: duckdb.DuckDBPyConnection) -> dt.date:
    """The marts' "as of" day (``marts.kpi_summary.reference_date``)."""
    return con.execute("select reference_date from marts.kpi_summary").fetchone()[0]


def read_customer_histories(con: duckdb.DuckDBPyConnection, reference_date: dt.date) -> pd.DataFrame:
    """DataFrame[customer_id, frequency, recency_days, t_days, monetary], one row per customer with
    a paid order up to ``reference_date`` (BG/NBD's x, t_x, T in days, Gamma-Gamma's m)."""
    return con.execute(CUSTOMER_HISTORY_SQL, {"reference_date": reference_date}).df()


def fit_customer_models(histories: pd.DataFrame) -> CustomerModels:
    """BG/NBD on every customer; Gamma-Gamma on the repeat customers whose repeat purchases have a
    positive mean (a Gamma spend cannot be 0; repeat purchases worth 0 are left out and counted)."""
    x, t_x, t = (histories[name].to_numpy(dtype=float) for name in ("frequency", "recency_days", "t_days"))
    monetary = histories["monetary"].to_numpy(dtype=float)
    repeat = x > 0
    spend = repeat & (monetary > 0)
    if not spend.any():
        raise ValueError("no customer has a repeat purchase of positive value: the Gamma-Gamma spend model needs one")
    gamma_gamma = clv.fit_gamma_gamma(x[spend], monetary[spend])
    if gamma_gamma.q <= 1:
        raise ValueError(f"Gamma-Gamma fit has q={gamma_gamma.q:.3g} <= 1: the expected spend is undefined")
    return CustomerModels(
        bgnbd=clv.fit_bgnbd(x, t_x, t),
        gamma_gamma=gamma_gamma,
        excluded_from_spend_fit=int((repeat & ~spend).sum()),
    )


def score_customers(histories: pd.DataFrame, models: CustomerModels, horizon_days: int) -> pd.DataFrame:
    """The histories with probability_alive, churn_probability, expected_purchases_30d and _90d,
    expected_order_value, predicted_clv (over ``horizon_days``) and model_version; vectorised."""
    x, t_x, t = (histories[name].to_numpy(dtype=float) for name in ("frequency", "recency_days", "t_days"))
    # Gamma-Gamma ignores m where x = 0; 0 stands in for the null so no NaN enters the arithmetic.
    monetary = histories["monetary"].fillna(0.0).to_numpy(dtype=float)
    alive = clv.bgnbd_probability_alive(models.bgnbd, x, t_x, t)
    expected = {
        f"expected_purchases_{days}d": clv.bgnbd_expected_purchases(models.bgnbd, days, x, t_x, t)
        for days in EXPECTED_PURCHASE_DAYS
    }
    return histories.assign(
        probability_alive=alive,
        churn_probability=1.0 - alive,
        **expected,
        expected_order_value=clv.gamma_gamma_expected_spend(models.gamma_gamma, x, monetary),
        predicted_clv=clv.predicted_clv(models.bgnbd, models.gamma_gamma, x, t_x, t, m=monetary, horizon=horizon_days),
        clv_horizon_days=horizon_days,
        model_version=models.version,
    )


@asset(
    key=ml_table("customer_scores"),
    group_name=ML_GROUP,
    kinds=KINDS,
    deps=[AssetKey(["intermediate", "int_customer_orders"]), mart("kpi_summary")],
)
def customer_scores(
    context: AssetExecutionContext, warehouse: DuckDBResource, ml_settings: MLAssetSettings
) -> MaterializeResult:
    """Churn probability, expected purchases and predicted lifetime value of every customer with a
    paid order, from BG/NBD + Gamma-Gamma fitted on all customers as of the marts' reference date."""
    with warehouse.get_connection() as con:
        reference_date = read_reference_date(con)
        histories = read_customer_histories(con, reference_date)
        models = fit_customer_models(histories)
        scores = score_customers(histories, models, ml_settings.clv_horizon_days)
        with transaction(con):
            rows = replace_table(con, f"{ML_SCHEMA}.customer_scores", scores.assign(reference_date=reference_date))
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
            "repeat_customers": int((scores["frequency"] > 0).sum()),
            "excluded_from_spend_fit": models.excluded_from_spend_fit,
            "bgnbd_parameters": MetadataValue.json(asdict(models.bgnbd)),
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
        forecast=frame("select date, forecast, lower, upper, confidence_level from ml.revenue_forecast"),
        revenue_daily=frame("select revenue_date, net_revenue from marts.revenue_daily"),
        segments=frame(
            "select segment, customers, revenue, revenue_share, suggested_action from marts.customer_segments"
        ),
        funnel_stages=frame("select stage, stage_order, entered, drop_off_rate from marts.funnel_stages"),
        kpis=frame(
            "select reference_date, ltv_to_cac, ltv_to_cac_prior, ltv_horizon_days, ltv_cohort_month, cohort_ltv, "
            "cohort_cac from marts.kpi_summary"
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
