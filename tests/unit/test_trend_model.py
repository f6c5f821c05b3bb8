"""OLS engine and daily revenue forecaster (analytics_ml.regression / .forecast)."""

import json

import numpy as np
import pandas as pd
import pytest

from analytics_ml.backtest import REGRESSION, Candidate, run_backtest
from analytics_ml.regression import fit_ols, leverage, prediction_interval, t_quantile
from analytics_ml.trend_model import (
    DAMPING_PER_DAY,
    TRENDS,
    ForecastModel,
    ForecastSpec,
    fit_forecast,
    fitted_history,
    forecast,
    point_forecast,
    seasonal_patterns,
    trend_summary,
)

# Revenue added on each weekday, Mon..Sun; the model sees them relative to their mean.
WEEKDAY_EFFECT = np.array([0.0, 50.0, 80.0, 60.0, 150.0, 250.0, 120.0])
YEARLY_SIN, YEARLY_COS = 100.0, 50.0


def yearly_curve(dates: pd.DatetimeIndex) -> np.ndarray:
    """First yearly harmonic on the calendar (days since 1970-01-01), as the model uses."""
    angle = 2 * np.pi * (dates - pd.Timestamp("1970-01-01")).days.to_numpy() / 365.25
    return YEARLY_SIN * np.sin(angle) + YEARLY_COS * np.cos(angle)


def synthetic_revenue(
    n_days: int, seed: int, slope: float = 0.5, noise: float = 30.0, yearly: bool = True
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """1000 + slope*t + weekday effect (+ yearly curve) + N(0, noise^2) from 2022-01-03 (a Monday)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2022-01-03", periods=n_days, freq="D")
    values = 1000.0 + slope * np.arange(n_days) + WEEKDAY_EFFECT[dates.day_of_week]
    if yearly:
        values = values + yearly_curve(dates)
    return dates, values + rng.normal(0.0, noise, n_days)


# --- regression -------------------------------------------------------------------


def test_ols_recovers_known_coefficients_within_four_standard_errors():
    rng = np.random.default_rng(11)
    n = 500
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.uniform(0, 10, n)])
    beta = np.array([2.0, -1.0, 0.5])
    y = X @ beta + rng.normal(0.0, 0.3, n)

    fit = fit_ols(X, y)

    assert np.all(np.abs(fit.coefficients - beta) < 4 * fit.std_errors)
    # sigma^2 = 0.09; its relative sd is sqrt(2 / (n - p)) ~ 6%, so 25% is ~4 sd.
    assert fit.sigma2 == pytest.approx(0.09, rel=0.25)
    assert fit.dof == n - 3


def test_prediction_interval_matches_hand_computation_on_four_points():
    # x = 0..3, y = 1, 3, 2, 5: xbar = 1.5, Sxx = 5, Sxy = 5.5, slope = 1.1,
    # intercept = 2.75 - 1.1 * 1.5 = 1.1. Residuals -0.1, 0.8, -1.3, 0.6 give SSR = 2.7,
    # sigma^2 = 2.7 / (4 - 2) = 1.35 and R^2 = 1 - 2.7 / 8.75.
    # At x0 = 4: mean = 1.1 + 4.4 = 5.5, leverage h0 = 1/n + (x0 - xbar)^2 / Sxx
    # = 0.25 + 6.25 / 5 = 1.5, se = sqrt(1.35 * (1 + 1.5)) = sqrt(3.375), and the 95%
    # half-width is t_{0.975, 2} * se = 4.302653 * 1.837117 = 7.904478.
    X = np.column_stack([np.ones(4), np.arange(4.0)])
    fit = fit_ols(X, np.array([1.0, 3.0, 2.0, 5.0]))
    x0 = np.array([[1.0, 4.0]])

    mean, lower, upper = prediction_interval(fit, x0, 0.95)

    assert fit.coefficients == pytest.approx([1.1, 1.1])
    assert fit.sigma2 == pytest.approx(1.35)
    assert fit.r2 == pytest.approx(1 - 2.7 / 8.75)
    assert leverage(fit, x0)[0] == pytest.approx(1.5)
    assert mean[0] == pytest.approx(5.5)
    assert lower[0] == pytest.approx(5.5 - 7.904478, abs=1e-5)
    assert upper[0] == pytest.approx(5.5 + 7.904478, abs=1e-5)


@pytest.mark.parametrize(
    ("confidence", "dof", "critical_value"),
    # Printed Student-t tables: t_{0.95, 10}, t_{0.975, 2}, t_{0.995, 30}.
    [(0.90, 10, 1.812461), (0.95, 2, 4.302653), (0.99, 30, 2.749996)],
)
def test_t_quantile_matches_the_student_t_table(confidence, dof, critical_value):
    assert t_quantile(confidence, dof) == pytest.approx(critical_value, abs=1e-6)


@pytest.mark.parametrize("confidence", [0.80, 0.95])
def test_prediction_intervals_cover_nominal_share_of_held_out_points(confidence):
    # 500 independent data sets of 30 training + 10 held-out points from a known linear
    # model: 5,000 held-out points, so the binomial sd of the coverage is at most
    # sqrt(0.8 * 0.2 / 5000) = 0.6 points and 3 points is a generous margin.
    rng = np.random.default_rng(5)
    covered = []
    for _ in range(500):
        X = np.column_stack([np.ones(40), rng.uniform(0, 10, 40), rng.normal(size=40)])
        y = X @ np.array([5.0, 1.5, -2.0]) + rng.normal(0.0, 2.0, 40)
        fit = fit_ols(X[:30], y[:30])
        _, lower, upper = prediction_interval(fit, X[30:], confidence)
        covered.append((y[30:] >= lower) & (y[30:] <= upper))

    assert np.mean(covered) == pytest.approx(confidence, abs=0.03)


# --- forecaster -------------------------------------------------------------------


def test_forecaster_recovers_weekday_and_month_effects():
    dates, values = synthetic_revenue(3 * 365, seed=1)
    model = fit_forecast(dates, values, ForecastSpec(trend="linear", fourier_order=3))

    patterns = seasonal_patterns(model).set_index(["pattern", "period"])

    weekday = patterns.loc["day_of_week"]
    true_weekday = WEEKDAY_EFFECT - WEEKDAY_EFFECT.mean()  # Mon = -101.43, Sat = +148.57
    assert np.all(np.abs(weekday["effect"].to_numpy() - true_weekday) < 4 * weekday["std_error"].to_numpy())
    month = patterns.loc["month"]
    mid_months = pd.DatetimeIndex([pd.Timestamp(model.last_date.year, m, 15) for m in range(1, 13)])
    assert np.all(np.abs(month["effect"].to_numpy() - yearly_curve(mid_months)) < 4 * month["std_error"].to_numpy())
    assert np.all((patterns["lower"] < patterns["effect"]) & (patterns["effect"] < patterns["upper"]))


@pytest.mark.parametrize("trend", TRENDS)
@pytest.mark.parametrize("confidence_level", [0.1, 0.8, 0.99])
def test_forecast_has_one_row_per_day_ahead_with_ordered_bounds(trend, confidence_level):
    dates, values = synthetic_revenue(400, seed=2)
    model = fit_forecast(dates, values, ForecastSpec(trend=trend))

    result = forecast(model, 30, confidence_level)

    assert list(result.columns) == ["date", "forecast", "lower", "upper"]
    assert len(result) == 30
    assert result["date"].iloc[0] == dates[-1] + pd.Timedelta(days=1)
    assert (result["date"].diff().dropna() == pd.Timedelta(days=1)).all()
    assert (result["lower"] <= result["forecast"]).all() and (result["forecast"] <= result["upper"]).all()


@pytest.mark.parametrize("trend", TRENDS)
def test_json_round_trip_reproduces_the_forecast_exactly(trend):
    dates, values = synthetic_revenue(500, seed=3)
    promo = (np.arange(500) % 10 == 0).astype(float)
    model = fit_forecast(dates, values, ForecastSpec(trend=trend, window_days=400), promo=promo)
    future_promo = np.r_[np.ones(5), np.zeros(9)]

    reloaded = ForecastModel.from_json(json.loads(json.dumps(model.to_json())))

    pd.testing.assert_frame_equal(
        forecast(reloaded, 14, 0.9, promo_future=future_promo),
        forecast(model, 14, 0.9, promo_future=future_promo),
        check_exact=True,
    )


@pytest.mark.parametrize(
    ("days_ahead", "confidence_level", "setting"),
    [
        (0, 0.8, "days_ahead"),
        (91, 0.8, "days_ahead"),
        (7.5, 0.8, "days_ahead"),
        (7, 0.05, "confidence_level"),
        (7, 1.0, "confidence_level"),
    ],
)
def test_out_of_range_horizon_settings_raise_value_error_naming_the_setting(days_ahead, confidence_level, setting):
    dates, values = synthetic_revenue(100, seed=4, yearly=False)
    model = fit_forecast(dates, values, ForecastSpec())

    with pytest.raises(ValueError, match=setting):
        forecast(model, days_ahead, confidence_level)


def test_out_of_range_message_states_the_allowed_range():
    dates, values = synthetic_revenue(100, seed=4, yearly=False)
    model = fit_forecast(dates, values, ForecastSpec())

    with pytest.raises(ValueError, match="days_ahead=120 is out of range: must be between 1 and 90"):
        forecast(model, 120, 0.8)


def test_promo_regressor_effect_is_recovered_and_future_promo_defaults_to_none():
    rng = np.random.default_rng(6)
    dates, values = synthetic_revenue(400, seed=6)
    promo = (rng.uniform(size=400) < 0.2).astype(float)
    model = fit_forecast(dates, values + 200.0 * promo, ForecastSpec(), promo=promo)

    promo_coef = model.coefficients["promo"]
    promo_se = model.fit.std_errors[model.columns.index("promo")]
    assert abs(promo_coef - 200.0) < 4 * promo_se
    # Every future day on promotion lifts the point forecast by exactly the coefficient.
    uplift = forecast(model, 10, 0.8, promo_future=np.ones(10))["forecast"] - forecast(model, 10, 0.8)["forecast"]
    assert np.allclose(uplift, promo_coef)


def test_damped_trend_adds_geometrically_shrinking_growth_beyond_the_last_day():
    # In-sample the damped design equals the linear one, so both fits share the slope
    # beta; h days ahead the damped trend has advanced phi (1 - phi^h) / (1 - phi) days
    # instead of h: at h = 1 that is phi = 0.98 days, at h = 90 about 41.9 days.
    dates, values = synthetic_revenue(400, seed=7, yearly=False)
    linear = fit_forecast(dates, values, ForecastSpec(trend="linear", fourier_order=0))
    damped = fit_forecast(dates, values, ForecastSpec(trend="damped", fourier_order=0))
    h = np.arange(1, 91)
    phi = DAMPING_PER_DAY

    gap = forecast(damped, 90, 0.8)["forecast"] - forecast(linear, 90, 0.8)["forecast"]

    slope = linear.coefficients["trend"]
    assert np.allclose(gap, slope * (phi * (1 - phi**h) / (1 - phi) - h))


def test_loglinear_trend_recovers_a_constant_daily_growth_rate():
    rng = np.random.default_rng(8)
    dates = pd.date_range("2023-01-02", periods=365, freq="D")
    values = 1000.0 * np.exp(0.002 * np.arange(365) + rng.normal(0.0, 0.05, 365))
    model = fit_forecast(dates, values, ForecastSpec(trend="loglinear", fourier_order=0))

    summary = trend_summary(model)

    # log1p(y) ~ log(y) for y ~ 1000, so the daily growth is exp(0.002) - 1 = 0.2002%.
    assert summary["direction"] == "up"
    assert summary["daily_growth_rate"] == pytest.approx(np.expm1(0.002), rel=0.05)
    assert summary["annualised_growth_rate"] == pytest.approx(np.exp(0.002 * 365.25) - 1, rel=0.05)


@pytest.mark.parametrize(("slope", "direction"), [(2.0, "up"), (-2.0, "down"), (0.0, "flat")])
def test_trend_summary_direction_and_growth_follow_the_true_slope(slope, direction):
    dates, values = synthetic_revenue(365, seed=9, slope=slope, yearly=False)
    model = fit_forecast(dates, values, ForecastSpec(trend="linear", fourier_order=0))

    summary = trend_summary(model)

    # True level on the last day: 1000 + slope * 364 + mean weekday effect (101.43);
    # 30 days earlier it is 30 * slope lower: for slope = 2, 1829.4 / 1769.4 - 1 = 3.4%
    # over 30 days, 0.111% a day.
    mean_weekday = WEEKDAY_EFFECT.mean()
    level_end = 1000 + slope * 364 + mean_weekday
    level_30 = 1000 + slope * 334 + mean_weekday
    assert summary["direction"] == direction
    assert summary["change_last_30_days"] == pytest.approx(level_end / level_30 - 1, abs=0.01)
    assert summary["daily_growth_rate"] == pytest.approx((level_end / level_30) ** (1 / 30) - 1, abs=3e-4)


def test_yearly_terms_are_dropped_when_the_window_is_shorter_than_a_year():
    dates, values = synthetic_revenue(500, seed=10)
    model = fit_forecast(dates, values, ForecastSpec(window_days=180, fourier_order=3))

    assert model.layout.fourier_order == 0
    assert model.n_obs == 180
    assert set(seasonal_patterns(model)["pattern"]) == {"day_of_week"}


def test_fitted_history_reproduces_the_in_sample_fit():
    dates, values = synthetic_revenue(400, seed=12)
    model = fit_forecast(dates, values, ForecastSpec())

    history = fitted_history(model, dates, values, confidence_level=0.95)

    assert list(history.columns) == ["date", "actual", "fitted", "lower", "upper"]
    residuals = history["actual"] - history["fitted"]
    assert 1 - (residuals**2).sum() / ((values - values.mean()) ** 2).sum() == pytest.approx(model.fit.r2)
    # Band for a new observation at each in-sample x: about 95% of the actuals fall in it.
    inside = (history["actual"] >= history["lower"]) & (history["actual"] <= history["upper"])
    assert inside.mean() == pytest.approx(0.95, abs=0.03)


def test_piecewise_trend_follows_a_change_in_growth_better_than_linear():
    # Growth jumps from 0.2 to 4.2 a day on day 180 of 300; the piecewise knots sit at
    # 20/40/60/80% of each training window, so it can bend where linear cannot.
    rng = np.random.default_rng(13)
    dates = pd.date_range("2023-01-02", periods=300, freq="D")
    t = np.arange(300)
    values = 800 + 0.2 * t + 4.0 * np.maximum(t - 180, 0) + WEEKDAY_EFFECT[dates.day_of_week] + rng.normal(0, 25, 300)

    candidates = [
        Candidate(REGRESSION, ForecastSpec(trend=trend, fourier_order=0)) for trend in ("linear", "piecewise")
    ]
    backtest = run_backtest(dates, values, candidates, horizon=14, max_origins=8)
    complete = backtest.complete(14)
    mae = {
        candidate.spec.trend: np.mean(np.abs(backtest.actual[complete] - backtest.forecasts[candidate.label][complete]))
        for candidate in candidates
    }

    assert mae["piecewise"] < 0.5 * mae["linear"]


def test_the_loglinear_point_forecast_is_the_log_normal_mean():
    # log1p(y) = 6 + 0.002 t + N(0, 0.3^2) on 400 days: the mean of a future day is
    # exp(6 + 0.002 t + 0.3^2 / 2) - 1, 4.6 % above the median exp(6 + 0.002 t) - 1.
    rng = np.random.default_rng(17)
    dates = pd.date_range("2023-01-02", periods=400, freq="D")
    values = np.expm1(6.0 + 0.002 * np.arange(400) + rng.normal(0.0, 0.3, 400))

    mean = point_forecast(dates, values, ForecastSpec(trend="loglinear", fourier_order=0), 10)

    expected = np.expm1(6.0 + 0.002 * np.arange(400, 410) + 0.3**2 / 2)
    # The slope and level are estimated from 400 days (se of the level at t = 400 about 0.03),
    # and sigma^2 from the last 91 days (relative se sqrt(2 / 91) = 15 %): within 6 %.
    np.testing.assert_allclose(mean, expected, rtol=0.06)
