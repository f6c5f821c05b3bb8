"""Rolling-origin backtest and model selection for the revenue forecaster.

Origins (Tashman 2000, "Out-of-sample tests of forecasting accuracy", IJF 16): for n
consecutive daily observations, horizon H and N origins, origin j = 1..N sits at
position o_j = n - (N - j + 1) H. The model is fitted on y[:o_j] (then cut to
spec.window_days by the forecaster) and forecasts y[o_j : o_j + H]; the test windows
tile the last N*H days without overlap, so every test day counts once.

Metrics pooled over all N*H test points, e_i = y_i - yhat_i:

  r2            1 - sum e^2 / sum (y - mean y)^2
  mae           mean |e|
  mape          mean |e| / |y| over the points with y != 0 (a fraction, not %)
  mase          mean |e_i| / s_{o(i)} (Hyndman & Koehler 2006, IJF 22): s_o is the
                in-sample MAE of the lag-7 seasonal naive forecast over the last
                MASE_SCALE_DAYS (13 weeks) of y[:o], the same for every spec. Recent
                history rather than all of it: a growing shop's early days are small, and
                their small naive errors would shrink the scale and inflate MASE far past
                what the model's errors at the shop's current size deserve.
  naive_mae     MAE of the seasonal naive forecast on the same test points,
                yhat_{o+h} = y_{o+h-7 ceil(h/7)} (the last observed week repeated).
  relative_mae  mae / naive_mae: below 1 beats seasonal naive on the test days, and
                exactly 1 for the seasonal naive forecast itself.
  coverage      share of test points inside [lower, upper].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics_ml.forecast import TRENDS, ForecastSpec, fit_forecast, forecast, prepare_series, validate_horizon
from analytics_ml.regression import r_squared

SEASON = 7
MIN_TRAIN_DAYS = 2 * SEASON
MASE_SCALE_DAYS = 13 * SEASON
MODEL_TYPES = ("auto", *TRENDS)
CANDIDATE_WINDOWS = (None, 365, 180)
CANDIDATE_FOURIER_ORDER = 3


@dataclass(frozen=True)
class AccuracyMetrics:
    """Pooled out-of-sample accuracy (definitions in the module docstring)."""

    r2: float
    mae: float
    mape: float
    mase: float
    naive_mae: float
    coverage: float
    n_points: int

    @property
    def relative_mae(self) -> float:
        return self.mae / self.naive_mae


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Per-point predictions (origin, date, step, actual, forecast, lower, upper, naive,
    naive_scale) and their pooled metrics for one spec."""

    spec: ForecastSpec
    horizon: int
    confidence_level: float
    predictions: pd.DataFrame
    metrics: AccuracyMetrics


def seasonal_naive_forecast(history: np.ndarray, horizon: int, season: int = SEASON) -> np.ndarray:
    """yhat_{T+h} = y_{T+h-season*ceil(h/season)}, h = 1..horizon: the last season repeated."""
    history = np.asarray(history, dtype=float)
    if len(history) < season:
        raise ValueError(f"seasonal naive needs at least {season} observations, got {len(history)}")
    steps = np.arange(1, horizon + 1)
    return history[len(history) - 1 + steps - season * np.ceil(steps / season).astype(int)]


def seasonal_naive_scale(history: np.ndarray, season: int = SEASON) -> float:
    """In-sample MAE of the seasonal naive forecast, mean |y_t - y_{t-season}| (MASE scale)."""
    history = np.asarray(history, dtype=float)
    if len(history) <= season:
        raise ValueError(f"the MASE scale needs more than {season} observations, got {len(history)}")
    scale = float(np.mean(np.abs(history[season:] - history[:-season])))
    if scale == 0.0:
        raise ValueError("the series repeats exactly every season before an origin, so MASE is undefined")
    return scale


def accuracy_metrics(predictions: pd.DataFrame) -> AccuracyMetrics:
    """Pooled metrics of the ``forecast`` column against ``actual``.

    ``predictions`` has the columns actual, forecast, lower, upper, naive (the seasonal
    naive forecast of the same point) and naive_scale (the MASE scale of its origin).
    """
    actual = predictions["actual"].to_numpy(dtype=float)
    abs_errors = np.abs(actual - predictions["forecast"].to_numpy(dtype=float))
    nonzero = actual != 0
    return AccuracyMetrics(
        r2=r_squared(actual, predictions["forecast"]),
        mae=float(abs_errors.mean()),
        mape=float(np.mean(abs_errors[nonzero] / np.abs(actual[nonzero]))) if nonzero.any() else float("nan"),
        mase=float(np.mean(abs_errors / predictions["naive_scale"].to_numpy(dtype=float))),
        naive_mae=float(np.mean(np.abs(actual - predictions["naive"].to_numpy(dtype=float)))),
        coverage=float(predictions["actual"].between(predictions["lower"], predictions["upper"]).mean()),
        n_points=len(actual),
    )


def rolling_origin_backtest(
    dates: pd.DatetimeIndex | pd.Series | np.ndarray,
    values: np.ndarray | pd.Series,
    spec: ForecastSpec,
    horizon: int,
    n_origins: int,
    *,
    confidence_level: float,
    promo: np.ndarray | pd.Series | None = None,
) -> BacktestResult:
    """Backtest ``spec`` on a consecutive daily series (origins in the module docstring).

    The promo regressor of the test days is passed to each forecast as known, since
    promotions are planned ahead.
    """
    validate_horizon(horizon, confidence_level)
    index, y, promo_values = prepare_series(dates, values, promo)
    _require_consecutive_days(index)
    frames = [
        _origin_predictions(index, y, promo_values, spec, origin, horizon=horizon, confidence_level=confidence_level)
        for origin in backtest_origins(len(y), horizon, n_origins)
    ]
    predictions = pd.concat(frames, ignore_index=True)
    return BacktestResult(
        spec=spec,
        horizon=horizon,
        confidence_level=confidence_level,
        predictions=predictions,
        metrics=accuracy_metrics(predictions),
    )


def backtest_origins(n_obs: int, horizon: int, n_origins: int) -> np.ndarray:
    """Positions o_j = n - (N - j + 1) H, j = 1..N, of the first test day of each origin."""
    if n_origins < 1:
        raise ValueError(f"n_origins={n_origins} must be >= 1")
    origins = n_obs - horizon * np.arange(n_origins, 0, -1)
    if origins[0] < MIN_TRAIN_DAYS:
        raise ValueError(
            f"{n_obs} days are too few for n_origins={n_origins} x horizon={horizon}: "
            f"the first origin needs at least {MIN_TRAIN_DAYS} days of history"
        )
    return origins


def select_spec(
    dates: pd.DatetimeIndex | pd.Series | np.ndarray,
    values: np.ndarray | pd.Series,
    candidates: list[ForecastSpec],
    horizon: int,
    n_origins: int,
    *,
    confidence_level: float,
    promo: np.ndarray | pd.Series | None = None,
) -> tuple[ForecastSpec, dict[ForecastSpec, BacktestResult]]:
    """Backtest every candidate and return the one with the lowest MASE (ties: lowest
    MAE) together with all results."""
    results = {
        spec: rolling_origin_backtest(
            dates, values, spec, horizon, n_origins, confidence_level=confidence_level, promo=promo
        )
        for spec in candidates
    }
    if not results:
        raise ValueError("select_spec needs at least one candidate spec")
    best = min(results, key=lambda spec: (results[spec].metrics.mase, results[spec].metrics.mae))
    return best, results


def default_candidates(n_days: int) -> list[ForecastSpec]:
    """Every trend x window in {all, 365, 180} shorter than the history, with yearly
    Fourier order 3 when the window covers >= 365 days and 0 otherwise."""
    windows = [window for window in CANDIDATE_WINDOWS if window is None or window < n_days]
    return [
        ForecastSpec(
            trend=trend,
            window_days=window,
            fourier_order=CANDIDATE_FOURIER_ORDER if (window or n_days) >= 365 else 0,
        )
        for trend in TRENDS
        for window in windows
    ]


def candidates_for(model_type: str, n_days: int) -> list[ForecastSpec]:
    """The default grid restricted to one trend, or all of it for model_type='auto'."""
    if model_type not in MODEL_TYPES:
        raise ValueError(f"model_type={model_type!r} is not allowed: must be one of {', '.join(MODEL_TYPES)}")
    return [spec for spec in default_candidates(n_days) if model_type in ("auto", spec.trend)]


def _require_consecutive_days(index: pd.DatetimeIndex) -> None:
    # Positions stand in for days (lag 7 = same weekday, horizon H = H days), which only
    # holds without gaps.
    if not (index[1:] - index[:-1] == pd.Timedelta(days=1)).all():
        raise ValueError("the backtest needs consecutive daily dates without gaps")


def _origin_predictions(
    index: pd.DatetimeIndex,
    y: np.ndarray,
    promo: np.ndarray | None,
    spec: ForecastSpec,
    origin: int,
    *,
    horizon: int,
    confidence_level: float,
) -> pd.DataFrame:
    train, test = slice(None, origin), slice(origin, origin + horizon)
    model = fit_forecast(index[train], y[train], spec, None if promo is None else promo[train])
    predicted = forecast(model, horizon, confidence_level, None if promo is None else promo[test])
    return pd.DataFrame(
        {
            "origin": index[origin],
            "date": index[test],
            "step": np.arange(1, horizon + 1),
            "actual": y[test],
            "forecast": predicted["forecast"].to_numpy(),
            "lower": predicted["lower"].to_numpy(),
            "upper": predicted["upper"].to_numpy(),
            "naive": seasonal_naive_forecast(y[train], horizon),
            "naive_scale": seasonal_naive_scale(y[:origin][-MASE_SCALE_DAYS:]),
        }
    )
