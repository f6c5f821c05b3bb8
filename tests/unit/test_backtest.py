"""Rolling-origin backtest, its metrics and the candidate grid (analytics_ml.backtest)."""

import numpy as np
import pandas as pd
import pytest

from analytics_ml.backtest import (
    MODEL_TYPES,
    accuracy_metrics,
    backtest_origins,
    candidates_for,
    default_candidates,
    rolling_origin_backtest,
    seasonal_naive_forecast,
    seasonal_naive_scale,
)
from analytics_ml.forecast import ForecastSpec

# Two weeks of history then one test week. Lag-7 differences of the history:
# |12-10|, |13-12|, |10-11|, |15-13|, |22-20|, |24-25|, |11-9| = 2, 1, 1, 2, 2, 1, 2 -> scale 11/7.
TRAIN = np.array([10, 12, 11, 13, 20, 25, 9, 12, 13, 10, 15, 22, 24, 11], dtype=float)
# Seasonal naive repeats the last week 12, 13, 10, 15, 22, 24, 11; against these actuals
# its absolute errors are 2, 0, 2, 0, 2, 3, 0 -> naive MAE 9/7.
TEST = np.array([14, 13, 12, 15, 20, 27, 11], dtype=float)
HAND_SCALE = 11 / 7
HAND_NAIVE_MAE = 9 / 7


def point_predictions(actual, predicted, naive, scale) -> pd.DataFrame:
    """A predictions frame with zero-width intervals, [lower, upper] = [predicted, predicted]."""
    return pd.DataFrame(
        {
            "actual": actual,
            "forecast": predicted,
            "lower": predicted,
            "upper": predicted,
            "naive": naive,
            "naive_scale": scale,
        }
    )


def test_seasonal_naive_forecast_and_scale_match_hand_computation():
    assert seasonal_naive_scale(TRAIN) == pytest.approx(HAND_SCALE)
    # Ten steps ahead: the last week, then its first three days again.
    assert seasonal_naive_forecast(TRAIN, 10).tolist() == [12, 13, 10, 15, 22, 24, 11, 12, 13, 10]


def test_seasonal_naive_scored_against_itself_has_relative_mae_one_and_hand_mase():
    naive = seasonal_naive_forecast(TRAIN, 7)

    metrics = accuracy_metrics(point_predictions(TEST, naive, naive, HAND_SCALE))

    assert metrics.mae == pytest.approx(HAND_NAIVE_MAE)
    assert metrics.relative_mae == pytest.approx(1.0)
    # MASE = (9/7) / (11/7) = 9/11: seasonal naive did better on this test week than in-sample.
    assert metrics.mase == pytest.approx(9 / 11)
    # MAPE: 2/14 + 2/12 + 2/20 + 3/27 over 7 points = 0.074470.
    assert metrics.mape == pytest.approx((2 / 14 + 2 / 12 + 2 / 20 + 3 / 27) / 7)
    # Zero-width intervals cover only the three exact hits.
    assert metrics.coverage == pytest.approx(3 / 7)
    assert metrics.n_points == 7


def test_mape_skips_zero_actuals():
    actual = np.array([0.0, 10.0, 20.0])
    predicted = np.array([5.0, 12.0, 15.0])

    metrics = accuracy_metrics(point_predictions(actual, predicted, actual, 1.0))

    # Only 10 -> 12 (20%) and 20 -> 15 (25%) count.
    assert metrics.mape == pytest.approx(0.225)
    assert metrics.mae == pytest.approx(4.0)


def test_backtest_on_tiny_series_scales_by_hand_computed_naive_errors():
    dates = pd.date_range("2024-01-01", periods=21, freq="D")
    values = np.r_[TRAIN, TEST]
    spec = ForecastSpec(trend="linear", fourier_order=0)

    result = rolling_origin_backtest(dates, values, spec, horizon=7, n_origins=1, confidence_level=0.8)

    predictions = result.predictions
    assert predictions["naive"].tolist() == [12, 13, 10, 15, 22, 24, 11]
    assert predictions["naive_scale"].unique().tolist() == pytest.approx([HAND_SCALE])
    assert result.metrics.naive_mae == pytest.approx(HAND_NAIVE_MAE)
    model_mae = np.mean(np.abs(TEST - predictions["forecast"].to_numpy()))
    assert result.metrics.mae == pytest.approx(model_mae)
    assert result.metrics.mase == pytest.approx(model_mae / HAND_SCALE)
    assert result.metrics.relative_mae == pytest.approx(model_mae / HAND_NAIVE_MAE)


def test_mase_scale_is_the_naive_error_of_the_last_13_weeks_before_each_origin():
    # A shop ten times bigger after day 100: the scale must reflect its current size only.
    dates = pd.date_range("2024-01-01", periods=200, freq="D")
    rng = np.random.default_rng(3)
    values = np.where(np.arange(200) < 100, 10.0, 100.0) + rng.normal(0, 1, 200) * np.where(np.arange(200) < 100, 1, 10)
    spec = ForecastSpec(trend="linear", fourier_order=0)

    result = rolling_origin_backtest(dates, values, spec, horizon=7, n_origins=2, confidence_level=0.8)

    for origin, scale in result.predictions.groupby("origin")["naive_scale"].first().items():
        end = dates.get_loc(origin)
        recent = values[end - 91 : end]
        assert scale == pytest.approx(np.abs(recent[7:] - recent[:-7]).mean())


def test_origins_tile_the_last_days_and_each_fit_sees_only_earlier_days():
    dates = pd.date_range("2024-01-01", periods=100, freq="D")
    values = 100 + np.arange(100.0) + np.random.default_rng(0).normal(0, 5, 100)

    result = rolling_origin_backtest(
        dates, values, ForecastSpec(fourier_order=0), horizon=10, n_origins=3, confidence_level=0.8
    )

    assert backtest_origins(100, 10, 3).tolist() == [70, 80, 90]
    predictions = result.predictions
    assert predictions["date"].tolist() == list(dates[70:])
    assert sorted(predictions["origin"].unique()) == [dates[70], dates[80], dates[90]]
    assert (predictions["date"] >= predictions["origin"]).all()
    assert predictions.groupby("origin")["step"].agg(list).map(lambda steps: steps == list(range(1, 11))).all()


def test_too_many_origins_for_the_history_raise_value_error():
    # 5 origins x 14 days leave 30 - 70 < 14 days to train the first one.
    with pytest.raises(ValueError, match="n_origins=5"):
        backtest_origins(30, 14, 5)


def test_gaps_in_the_daily_series_are_rejected():
    dates = pd.date_range("2024-01-01", periods=60, freq="D").delete(30)
    values = np.arange(59.0) + np.tile([0.0, 3.0, 1.0], 20)[:59]

    with pytest.raises(ValueError, match="consecutive"):
        rolling_origin_backtest(dates, values, ForecastSpec(fourier_order=0), 7, 2, confidence_level=0.8)


@pytest.mark.parametrize(("confidence_level", "tolerance"), [(0.8, 0.07), (0.95, 0.04)])
def test_interval_coverage_is_near_nominal_on_model_generated_data(confidence_level, tolerance):
    # Data drawn from the linear + weekday model itself; 20 origins x 14 days = 280
    # points, so the binomial sd of the coverage is 2.4 points at 80% and 1.3 at 95%
    # and the tolerances are about 3 sd.
    rng = np.random.default_rng(21)
    dates = pd.date_range("2023-01-02", periods=400, freq="D")
    weekday = np.array([0.0, 20.0, 40.0, 30.0, 90.0, 160.0, 70.0])[dates.day_of_week]
    values = 500 + 0.8 * np.arange(400) + weekday + rng.normal(0, 25, 400)

    result = rolling_origin_backtest(
        dates, values, ForecastSpec(fourier_order=0), 14, 20, confidence_level=confidence_level
    )

    assert result.metrics.n_points == 280
    assert result.metrics.coverage == pytest.approx(confidence_level, abs=tolerance)
    # The true model beats repeating last week: its errors are only the noise (sd 25),
    # the naive ones carry two noise terms plus a week of trend.
    assert result.metrics.relative_mae < 1


def test_default_candidates_use_windows_shorter_than_history_and_yearly_terms_only_for_a_year():
    long_grid = {(spec.trend, spec.window_days, spec.fourier_order) for spec in default_candidates(800)}
    short_grid = {(spec.trend, spec.window_days, spec.fourier_order) for spec in default_candidates(200)}

    assert len(long_grid) == 12
    assert ("damped", 365, 3) in long_grid and ("damped", 180, 0) in long_grid and ("damped", None, 3) in long_grid
    assert short_grid == {(trend, window, 0) for trend in MODEL_TYPES[1:] for window in (None, 180)}
    assert len(default_candidates(120)) == 4


def test_candidates_for_restricts_the_grid_to_the_requested_trend():
    assert candidates_for("auto", 800) == default_candidates(800)
    assert {spec.trend for spec in candidates_for("piecewise", 800)} == {"piecewise"}
    assert len(candidates_for("loglinear", 800)) == 3


def test_candidates_for_rejects_unknown_model_type_naming_the_allowed_values():
    with pytest.raises(ValueError, match=r"model_type='prophet'.*auto, linear, loglinear, damped, piecewise"):
        candidates_for("prophet", 800)
