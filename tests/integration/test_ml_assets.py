"""The ``ml`` assets on the session's sample warehouse, the forecast's accuracy on a longer sample
store, and the validation of the ML settings."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from dagster import AssetKey, Definitions, materialize

from analytics_ml.forecast import forecast
from pipelines.assets.ml import ml_assets, revenue_forecast_model, train_forecast
from pipelines.definitions import pipeline_assets
from pipelines.defs.resources import MLAssetSettings, build_resources
from pipelines.sample_store.generator import SampleStoreSpec, generate_sample_store
from pipelines.settings import Settings
from pipelines.warehouse.model_store import load_forecast_model
from tests.support.pipeline_runs import SAMPLE_SPEC, query

PROBABILITIES = ("probability_alive", "churn_probability")


def frame(settings: Settings, sql: str) -> pd.DataFrame:
    """Rows of ``sql`` against the warehouse as a DataFrame, opened read-only."""
    with duckdb.connect(str(settings.warehouse_file), read_only=True) as con:
        return con.execute(sql).df()


# --- revenue forecast and model performance -------------------------------------------------


def test_the_forecast_covers_days_ahead_consecutive_days_after_the_last_revenue_day(sample_warehouse):
    [(last_day,)] = query(sample_warehouse, "select max(revenue_date) from marts.revenue_daily")
    forecast_rows = frame(sample_warehouse, "select * from ml.revenue_forecast order by date")

    expected_days = [last_day + dt.timedelta(days=step) for step in range(1, sample_warehouse.ml.days_ahead + 1)]
    assert [day.date() for day in forecast_rows["date"]] == expected_days
    assert (forecast_rows["lower"] <= forecast_rows["forecast"]).all()
    assert (forecast_rows["forecast"] <= forecast_rows["upper"]).all()
    assert (forecast_rows["confidence_level"] == sample_warehouse.ml.confidence_level).all()
    assert forecast_rows["model_version"].nunique() == 1


def test_model_performance_holds_the_backtest_of_the_forecasts_model(sample_warehouse):
    performance = frame(
        sample_warehouse,
        "select * from ml.model_performance where version = (select any_value(model_version) from ml.revenue_forecast)",
    )

    assert len(performance) == 1
    row = performance.iloc[0]
    for metric in ("r2", "mae", "mape", "mase", "naive_mae", "relative_mae", "coverage"):
        assert np.isfinite(row[metric]), metric
    assert 0 <= row["coverage"] <= 1
    # The test windows tile the last origins x horizon days, every test day once.
    assert row["n_points"] == row["backtest_origins"] * sample_warehouse.ml.days_ahead
    # 120 days hold (120 - 14) // 30 = 3 origins of 30 days, fewer than the 5 asked for.
    assert row["backtest_origins"] == 3
    assert row["n_obs"] == 120


def test_the_stored_model_json_reproduces_the_stored_forecast(sample_warehouse):
    stored_forecast = frame(sample_warehouse, "select * from ml.revenue_forecast order by date")

    with duckdb.connect(str(sample_warehouse.warehouse_file), read_only=True) as con:
        stored = load_forecast_model(con)
    again = forecast(stored.model, sample_warehouse.ml.days_ahead, stored.confidence_level)

    assert stored.version == stored_forecast.at[0, "model_version"]
    for column in ("forecast", "lower", "upper"):
        np.testing.assert_allclose(again[column], stored_forecast[column], rtol=1e-12)


def test_the_fitted_history_shows_actuals_fit_and_band_over_the_models_window(sample_warehouse):
    history = frame(
        sample_warehouse,
        """select history.*, revenue.net_revenue
from ml.revenue_fitted_history as history
join marts.revenue_daily as revenue on revenue.revenue_date = history.date""",
    )
    [(window_start, window_end)] = query(
        sample_warehouse, "select data_start, data_end from ml.model_performance order by trained_at desc limit 1"
    )

    assert history["date"].min().date() == window_start
    assert history["date"].max().date() == window_end
    np.testing.assert_allclose(history["actual"], history["net_revenue"])
    assert (history["lower"] <= history["fitted"]).all()
    assert (history["fitted"] <= history["upper"]).all()


def test_seasonal_patterns_centre_the_weekday_effects_on_the_average_day(sample_warehouse):
    patterns = frame(sample_warehouse, "select * from ml.seasonal_patterns")
    weekdays = patterns[patterns["pattern"] == "day_of_week"]

    assert list(weekdays.sort_values("period_order")["period"]) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert abs(weekdays["effect"].sum()) < 1e-6 * weekdays["effect"].abs().max()
    assert (patterns["lower"] <= patterns["effect"]).all()
    assert (patterns["effect"] <= patterns["upper"]).all()
    # 120 days do not cover a year, so the model has no yearly terms and no month rows.
    assert set(patterns["pattern"]) == {"day_of_week"}


def test_rerunning_the_forecast_on_the_same_data_replaces_its_model_row(sample_warehouse, tmp_path, monkeypatch):
    copy = Settings().updated(warehouse={"data_dir": tmp_path, "warehouse_path": tmp_path / "copy.duckdb"})
    # build_resources exports the path for dbt; monkeypatch restores it after the test.
    monkeypatch.setenv("ANALYTICS_WAREHOUSE_PATH", str(copy.warehouse_file))
    shutil.copy(sample_warehouse.warehouse_file, copy.warehouse_file)
    before = query(copy, "select model, version from ml.model_performance")

    materialize([revenue_forecast_model], resources=build_resources(copy))

    assert query(copy, "select model, version from ml.model_performance") == before


# --- customer scores ------------------------------------------------------------------------


def paid_purchase_days(sample_store: Path) -> pd.DataFrame:
    """Per customer, from the source files: distinct days with a paid order (completed, or refunded
    afterwards: the marts' rule) up to the end of the sample, their first and last day (BG/NBD
    counts purchase days), and the mean net value of the days after the first (Gamma-Gamma's
    monetary value, NaN for one-day customers; a refunded order is worth 0 net)."""
    transactions = pd.read_parquet(
        sample_store / "transactions", columns=["customer_id", "status", "created_at", "amount"]
    )
    paid = transactions[
        transactions["status"].isin(["completed", "refunded"])
        & (transactions["created_at"].dt.date <= SAMPLE_SPEC.end_date)
    ]
    paid = paid.assign(
        day=paid["created_at"].dt.normalize(), amount=paid["amount"].where(paid["status"] == "completed", 0.0)
    )
    days = paid.groupby(["customer_id", "day"])["amount"].sum()
    days = days.reset_index().sort_values(["customer_id", "day"])
    summary = days.groupby("customer_id")["day"].agg(["count", "min", "max"])
    repeat_days = days[days.duplicated("customer_id")]
    return summary.assign(monetary=repeat_days.groupby("customer_id")["amount"].mean())


def test_customer_scores_have_one_row_per_customer_with_a_paid_order(sample_store, sample_warehouse):
    expected = paid_purchase_days(sample_store)
    scores = frame(sample_warehouse, "select * from ml.customer_scores").set_index("customer_id").sort_index()
    end = pd.Timestamp(SAMPLE_SPEC.end_date)

    assert scores.index.is_unique
    assert list(scores.index) == list(expected.index)
    # x = purchase days - 1, t_x = last - first day, T = reference date (the sample's last day) - first day.
    np.testing.assert_array_equal(scores["frequency"], expected["count"] - 1)
    np.testing.assert_array_equal(scores["recency_days"], (expected["max"] - expected["min"]).dt.days)
    np.testing.assert_array_equal(scores["t_days"], (end - expected["min"]).dt.days)
    np.testing.assert_allclose(scores["monetary"], expected["monetary"], rtol=1e-9)


def test_customer_scores_are_probabilities_and_non_negative_expectations(sample_warehouse):
    scores = frame(sample_warehouse, "select * from ml.customer_scores")

    for column in PROBABILITIES:
        assert scores[column].between(0, 1).all(), column
    np.testing.assert_allclose(scores["probability_alive"] + scores["churn_probability"], 1.0)
    assert (scores["expected_purchases_30d"] >= 0).all()
    assert (scores["expected_purchases_90d"] >= scores["expected_purchases_30d"]).all()
    assert (scores["predicted_clv"] >= 0).all()
    # BG/NBD: a customer without repeat purchases cannot have dropped out (dropout follows a repeat).
    assert (scores.loc[scores["frequency"] == 0, "probability_alive"] == 1.0).all()
    assert scores["monetary"].isna().equals(scores["frequency"] == 0)


# --- business insights ----------------------------------------------------------------------


def test_business_insights_are_ranked_and_each_names_its_metric(sample_warehouse):
    table = frame(sample_warehouse, "select * from ml.business_insights order by rank")

    assert not table.empty
    assert list(table["rank"]) == list(range(1, len(table) + 1))
    assert table["metric"].str.len().gt(0).all()
    assert table["title"].str.len().gt(0).all()
    assert set(table["severity"]) <= {"critical", "warning", "info"}
    assert {"revenue_trend_change_30d", "forecast_net_revenue", "funnel_drop_off_rate"} <= set(table["metric"])


def test_ml_assets_depend_on_the_dbt_models_they_read(tmp_path, make_settings):
    # The assets of pipelines/definitions.py with this test's own resources, so the graph is
    # resolved without the developer's ANALYTICS_* settings.
    settings = make_settings(tmp_path)
    graph = Definitions(assets=pipeline_assets(settings), resources=build_resources(settings)).resolve_asset_graph()
    dbt_keys = {key for key in graph.get_all_asset_keys() if key.path[0] in ("staging", "intermediate", "marts")}
    for assets_def in ml_assets:
        for key in assets_def.keys:
            parents = graph.get(key).parent_keys
            assert parents, key
            for parent in parents:
                assert parent in dbt_keys or parent.path[0] == "ml", (key, parent)
                assert graph.get(parent).is_materializable, (key, parent)
    assert AssetKey(["marts", "customer_segments"]) in graph.get(AssetKey(["ml", "business_insights"])).parent_keys


# --- forecast accuracy on the sample store of `make run` -------------------------------------

DEFAULTS = Settings()
MAKE_RUN_SPEC = SampleStoreSpec(
    seed=DEFAULTS.sample.seed,
    days=DEFAULTS.sample.days,
    customers=DEFAULTS.sample.customers,
    end_date=dt.date(2025, 3, 31),  # `make run` ends yesterday; a fixed day keeps the test repeatable
)


@pytest.fixture(scope="module")
def sample_store_revenue(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """Daily net revenue and promo share of the sample store `make run` builds, computed in pandas the way
    marts.revenue_daily defines them (completed orders' amounts by creation day; promo share =
    paid orders with a promo code / paid orders, 0 on days without orders)."""
    folder = tmp_path_factory.mktemp("make_run_store")
    generate_sample_store(folder, MAKE_RUN_SPEC)
    transactions = pd.read_parquet(folder / "transactions")
    paid = transactions[transactions["status"].isin(["completed", "refunded"])]
    day = paid["created_at"].dt.normalize()
    days = pd.date_range(end=pd.Timestamp(MAKE_RUN_SPEC.end_date), periods=MAKE_RUN_SPEC.days, freq="D")
    net = paid["amount"].where(paid["status"] == "completed", 0.0).groupby(day).sum().reindex(days, fill_value=0.0)
    promo = paid["promo_code"].notna().groupby(day).mean().reindex(days, fill_value=0.0)
    return pd.DataFrame({"revenue_date": days, "net_revenue": net.to_numpy(), "promo_share": promo.to_numpy()})


def test_the_chosen_forecast_beats_seasonal_naive_on_the_sample_store(sample_store_revenue):
    """Over 5 origins x 30 days the chosen model beats the seasonal naive forecast: MASE below 1
    (scaled by the naive's in-sample error over the 13 weeks before each origin) and a lower MAE
    than the naive's on the same test days."""
    settings = MLAssetSettings.from_settings(Settings())

    trained = train_forecast(sample_store_revenue, settings)

    metrics = trained.backtest.metrics
    assert trained.n_origins == settings.backtest_origins == 5
    assert metrics.n_points == 5 * settings.days_ahead
    assert metrics.mase < 1
    assert metrics.relative_mae < 1
    assert metrics.coverage >= 0.75


# --- settings -------------------------------------------------------------------------------
