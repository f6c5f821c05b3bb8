"""The revenue forecast: ``forecast_revenue(history, horizon, levels=(0.8, 0.95))``.

``history`` is a DataFrame with the columns ``date`` (consecutive days, no gaps) and
``net_revenue``. The answer has one row per day after the last one, ``horizon`` of them
(1..90), with the columns ``date``, ``forecast`` (the expected revenue of the day, never
negative) and, for each level c of ``levels``, ``lower_<100c>`` and ``upper_<100c>`` (``lower_80``,
``upper_80``, ``lower_95``, ``upper_95`` by default): a band that holds the day's revenue with
probability c, never below 0 and always around the forecast. Its ``attrs`` hold ``model`` (the
chosen forecaster, e.g. 'loglinear 180d K=0'), ``selection`` (why it was chosen) and ``total``
(the horizon's total revenue with its own band at each level, see below).

How (``analytics_ml.backtest`` has the formulas and sources):

1. Every candidate (seasonal naive, a weekly profile of the last four weeks and the grid of
   trend + weekday + yearly regressions of ``analytics_ml.trend_model``) is backtested from
   weekly origins over the last year (``max_origins``): fitted on the days before the origin, it
   forecasts the ``horizon`` days after.
2. The candidates within one standard error of the best mean MASE at ``horizon`` over the last
   half-year's windows are those the evidence cannot tell apart: seasonal naive, the simplest,
   is chosen when it is among them (and when there are fewer than four complete windows), else
   the one or the mean of their forecasts (a combination: which of them scored best is noise,
   and their mean usually beats the pick). Never a model that did worse than seasonal naive in
   the backtest, and the same choice night after night until the evidence moves.
3. The chosen candidate (each member of a mean) is fitted on the whole history and forecasts
   the horizon.
4. The bands are split-conformal: the chosen forecaster's own backtest errors at each step ahead,
   on the log scale, so the band widens with the level of revenue and with the distance ahead,
   their quantiles interpolated between the neighbouring errors so that a band holds its level on
   average. Each week of steps is then built at the level at which the same bands, each backtest
   window's calibrated only on the errors before it, would have held the asked level of that
   week's days (``RevenueForecast.band_levels``: tried in steps of one point, interpolated between
   the last that held less and the first that held enough): where the errors shift with the
   seasons, past bands held less than they promised, and the level rises by what that cost.
5. The total of the horizon is the sum of the daily forecasts (means, so it estimates the sum),
   with a band from the errors of the backtest's totals: an interval of the sum, much narrower
   than the sum of the daily bounds, since daily errors partly cancel; its level is raised as the
   daily bands' are, where the past totals' bands held less (``RevenueForecast.total_level``).
   ``RevenueForecast.total(k)`` gives the same for the first k days, from the backtest's k-day totals.

Promotions: the history's promotions are not regressors, and no future promotion is assumed,
in the backtest as in production: with no promotion calendar among the sources the forecast
cannot know tomorrow's, and a backtest that knew them would report an accuracy production never
reaches. A ``promo_share`` column is therefore rejected rather than ignored.

``fit_revenue_forecast`` returns the same forecast with everything behind it (the backtest, the
selection, the fitted history, the regression that describes trend and seasonality) for the
``ml`` assets; ``forecasts_at_horizons`` does the same for several horizons from one backtest,
for the rolling-origin evaluation of ``analytics_ml.evaluate``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics_ml.backtest import (
    DEFAULT_MAX_ORIGINS,
    MIN_SELECTION_ORIGINS,
    MIN_TOTAL_ERRORS,
    REGRESSION,
    SEASON,
    Backtest,
    Candidate,
    Selection,
    StepErrors,
    TotalErrors,
    candidates_for,
    conformal_band,
    log_errors,
    run_backtest,
    select_candidate,
    total_bands,
    total_errors,
    total_interval,
)
from analytics_ml.regression import r_squared
from analytics_ml.trend_model import (
    MAX_CONFIDENCE,
    ForecastModel,
    fit_forecast,
    validate_confidence,
    validate_horizon,
)

DEFAULT_LEVELS = (0.8, 0.95)
BAND_LEVEL_STEP = 0.01
HISTORY_COLUMNS = ("date", "net_revenue")
_ONE_DAY = pd.Timedelta(days=1)


def level_name(level: float) -> str:
    """The level in percent as a column suffix: 0.8 -> '80', 0.975 -> '97.5'."""
    return f"{round(level * 100, 6):g}"


def errors_before(backtest: Backtest, errors: np.ndarray, end: int) -> np.ndarray:
    """``errors`` (origins x steps) with those of target days at index ``end`` or later set to NaN
    (an origin is the index of its first forecast day, so step j of origin o targets day o + j)."""
    targets = backtest.origins[:, None] + np.arange(errors.shape[1])[None, :]
    return np.where(targets < end, errors, np.nan)


def interpolated_level(asked: float, level: float, held_below: float, held: float) -> float:
    """The level between ``level`` - BAND_LEVEL_STEP, whose past bands held ``held_below`` (< asked),
    and ``level``, whose held ``held`` (>= asked), at which the share held, interpolated linearly,
    is ``asked``: ``level`` itself when nothing was tried below it (``held_below`` NaN). Levels a
    point apart are a coarse grid in the tails (at 95 %, the next level misses a fifth fewer days),
    and the first of them that holds may hold well above what was asked."""
    if math.isnan(held_below):
        return level
    return level - BAND_LEVEL_STEP * (held - asked) / (held - held_below)


def bound_columns(level: float) -> tuple[str, str]:
    """('lower_<pct>', 'upper_<pct>') of ``level``."""
    return f"lower_{level_name(level)}", f"upper_{level_name(level)}"


@dataclass(frozen=True, eq=False)
class PastTotals:
    """The totals of some days of the backtest windows (``rows``) with MIN_TOTAL_ERRORS windows complete
    before their origin, forecast and actual, and the count, mean and standard deviation of the log
    errors of those earlier totals (``TotalErrors``), one of each per window."""

    rows: np.ndarray
    forecast: np.ndarray
    actual: np.ndarray
    count: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    def inside(self, level: float, rows: np.ndarray) -> np.ndarray:
        """For each of these windows among ``rows``, whether its total lay inside its ``level`` band."""
        keep = np.isin(self.rows, rows)
        lower, upper = total_bands(self.forecast[keep], self.count[keep], self.mean[keep], self.std[keep], level)
        actual = self.actual[keep]
        return (lower <= actual) & (actual <= upper)


@dataclass(frozen=True, eq=False)
class RevenueForecast:
    """A forecast with what it was made from (module docstring)."""

    dates: pd.DatetimeIndex
    values: np.ndarray
    horizon: int
    levels: tuple[float, ...]
    backtest: Backtest
    selection: Selection
    forecast: np.ndarray

    @property
    def chosen(self) -> Candidate:
        return self.selection.chosen

    @functools.cached_property
    def chosen_backtest(self) -> np.ndarray:
        """The chosen forecaster's (origins x horizon) backtest forecasts (``Backtest.forecast_of``)."""
        return self.backtest.forecast_of(self.chosen)

    @property
    def future_dates(self) -> pd.DatetimeIndex:
        return pd.date_range(self.dates[-1] + _ONE_DAY, periods=self.horizon, freq="D")

    def errors(self) -> np.ndarray:
        """The chosen candidate's log errors at every origin and step (NaN where unknown)."""
        return self._errors

    @functools.cached_property
    def _errors(self) -> np.ndarray:
        errors = log_errors(self.backtest.actual, self.chosen_backtest)
        errors.flags.writeable = False
        return errors

    def calibration(self, before: int | None = None) -> StepErrors:
        """The errors the bands are calibrated on: those of target days before index ``before``
        (``errors_before``; default: every error), kept once made, since ``band_levels`` tries many
        levels on the errors before each backtest window."""
        if before not in self._calibrations:
            errors = self.errors() if before is None else errors_before(self.backtest, self.errors(), before)
            self._calibrations[before] = StepErrors.of(errors, self.horizon)
        return self._calibrations[before]

    @functools.cached_property
    def _calibrations(self) -> dict[int | None, StepErrors]:
        return {}

    def band(
        self,
        level: float,
        forecast: np.ndarray | None = None,
        steps: np.ndarray | None = None,
        before: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) of ``forecast`` (default: the forecast) at ``level``; ``steps`` (1-based)
        says which step's errors each point takes (default 1..horizon); the band is calibrated on the
        errors of target days before index ``before`` (default: every error of the chosen candidate)."""
        lower, upper = self.calibration(before).quantiles(level)
        steps = np.arange(1, self.horizon + 1) if steps is None else steps
        points = self.forecast if forecast is None else forecast
        return conformal_band(points, (lower[steps - 1], upper[steps - 1]))

    def table(self) -> pd.DataFrame:
        """DataFrame[date, forecast, lower_<pct>, upper_<pct> per level] with the attrs of the
        module docstring."""
        frame = pd.DataFrame({"date": self.future_dates, "forecast": self.forecast})
        # Levels ascend, and each step's level is at least the one below's: the bands nest.
        step_levels = np.zeros(self.horizon)
        for level in self.levels:
            step_levels = np.maximum(step_levels, self.band_levels(level))
            frame[list(bound_columns(level))] = np.column_stack(self.leveled_band(step_levels))
        frame.attrs = {"model": self.chosen.label, "selection": self.selection.reason, "total": self.total()}
        return frame

    def band_levels(self, level: float) -> np.ndarray:
        """The level each step's published ``level`` band is built at, by week of steps: ``level`` where
        the bands of that week's steps held at least ``level`` of their days in the complete backtest
        windows, each window's band calibrated only on the errors known before it (``windows_inside``);
        else raised to the level at which they would have held ``level``. It is found on the levels
        level, level + 0.01, ... (at most MAX_CONFIDENCE, as high as the errors allow): between the
        last that held less and the first that held enough, linearly interpolated on the share each
        held (``interpolated_level``). ``level`` with fewer than MIN_SELECTION_ORIGINS such windows.

        Conformal bands hold their level when the errors ahead are like those behind; where a store's
        errors shift with the seasons (most at steps weeks ahead) they held less, and this raises the
        level by what the store's own past says the shift costs, in the spirit of adaptive conformal
        inference (Gibbs & Candes 2021, "Adaptive Conformal Inference Under Distribution Shift")."""
        weeks = np.arange(self.horizon) // SEASON
        levels = np.full(self.horizon, np.nan)
        held_below = np.full(self.horizon, np.nan)
        windows = np.flatnonzero(self.backtest.complete(self.horizon))
        candidate = level
        while candidate <= MAX_CONFIDENCE + 1e-9 and self.calibration().suffices(candidate):
            inside = self.windows_inside(candidate, windows)
            if len(inside) < MIN_SELECTION_ORIGINS:
                return np.where(np.isnan(levels), candidate, levels)
            held = np.vstack(inside).mean(axis=0)
            for week in np.unique(weeks[np.isnan(levels)]):
                steps = weeks == week
                week_held = held[steps].mean()
                if week_held >= level:
                    levels[steps] = interpolated_level(level, candidate, held_below[steps][0], week_held)
                held_below[steps] = week_held
            if not np.isnan(levels).any():
                return levels
            last, candidate = candidate, round(candidate + BAND_LEVEL_STEP, 6)
        return np.where(np.isnan(levels), last if candidate > level else level, levels)

    def leveled_band(self, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The band of the forecast with each step's at its own level (``band_levels``)."""
        lower, upper = np.empty(self.horizon), np.empty(self.horizon)
        for step_level in np.unique(levels):
            steps = levels == step_level
            lower[steps], upper[steps] = (bound[steps] for bound in self.band(float(step_level)))
        return lower, upper

    def windows_inside(self, level: float, rows: np.ndarray) -> list[np.ndarray]:
        """For each backtest window of ``rows`` whose earlier errors suffice, which of its days lay
        inside the ``level`` band calibrated on the errors of target days before its origin."""
        chosen = self.chosen_backtest
        inside = []
        for row in rows:
            origin = int(self.backtest.origins[row])
            if self.calibration(origin).suffices(level):
                lower, upper = self.band(level, chosen[row, : self.horizon], before=origin)
                actual = self.backtest.actual[row, : self.horizon]
                inside.append((actual >= lower) & (actual <= upper))
        return inside

    def total(self, days: int | None = None) -> dict[str, float]:
        """{'forecast': sum of the daily forecasts, 'lower_<pct>', 'upper_<pct>' per level} over the
        first ``days`` days (default: the whole horizon), its band from the backtest's ``days``-day totals."""
        days = self.horizon if days is None else days
        if not 1 <= days <= self.horizon:
            raise ValueError(f"days={days} is out of range: the forecast covers 1 to {self.horizon} days")
        point = float(np.sum(self.forecast[:days]))
        errors = total_errors(self.backtest, self.chosen, days)
        total = {"forecast": point}
        step_level = 0.0
        for level in self.levels:
            # As the daily bands: at the level the past totals' bands would have held, nested across levels.
            step_level = max(step_level, self.total_level(days, level))
            total.update(zip(bound_columns(level), total_interval(point, errors, step_level), strict=True))
        return total

    def total_level(self, days: int, level: float) -> float:
        """The level the ``level`` band of a ``days``-day total is built at, found as ``band_levels``
        finds a week's: ``level`` where the bands of the backtest's complete windows' totals, each
        calibrated on the totals complete before its origin (``totals_inside``), held at least ``level``
        of them, else raised, on the levels level, level + 0.01, ... (at most MAX_CONFIDENCE) and
        ``interpolated_level``, to where they would have; ``level`` with fewer than
        MIN_SELECTION_ORIGINS such windows."""
        rows = np.flatnonzero(self.backtest.complete(days))
        candidate, held_below = level, math.nan
        while candidate <= MAX_CONFIDENCE + 1e-9:
            inside = self.totals_inside(days, candidate, rows)
            if len(inside) < MIN_SELECTION_ORIGINS:
                return candidate
            if np.mean(inside) >= level:
                return interpolated_level(level, candidate, held_below, float(np.mean(inside)))
            candidate, held_below = round(candidate + BAND_LEVEL_STEP, 6), float(np.mean(inside))
        return round(candidate - BAND_LEVEL_STEP, 6)

    def totals_inside(self, days: int, level: float, rows: np.ndarray) -> np.ndarray:
        """For each backtest window of ``rows`` with MIN_TOTAL_ERRORS windows complete before its
        origin, whether its ``days``-day total lay inside the ``level`` band calibrated on those."""
        return self.past_totals(days).inside(level, rows)

    def past_totals(self, days: int) -> PastTotals:
        """The ``days``-day totals of the backtest windows and the errors of the totals complete before
        each (``PastTotals``). Kept once found: the levels ``total_level`` tries each take the same windows."""
        if days not in self._past_totals:
            chosen, origins, actual = self.chosen_backtest, self.backtest.origins, self.backtest.actual
            complete = self.backtest.complete(days)
            window_errors = log_errors(actual[complete, :days].sum(axis=1), chosen[complete, :days].sum(axis=1))
            # Origins ascend, so the windows complete before an origin are the first `earlier` complete ones.
            earlier = np.searchsorted(origins[complete] + days, origins, side="right")
            rows = np.flatnonzero(earlier >= MIN_TOTAL_ERRORS)
            errors = [TotalErrors.of(window_errors[:count]) for count in earlier[rows]]
            self._past_totals[days] = PastTotals(
                rows=rows,
                forecast=chosen[rows, :days].sum(axis=1),
                actual=actual[rows, :days].sum(axis=1),
                count=np.array([past.count for past in errors], dtype=int),
                mean=np.array([past.mean for past in errors]),
                std=np.array([past.std for past in errors]),
            )
        return self._past_totals[days]

    @functools.cached_property
    def _past_totals(self) -> dict[int, PastTotals]:
        return {}

    def fitted_history(self, level: float, judged_days: int = 0) -> pd.DataFrame:
        """DataFrame[date, actual, fitted, lower, upper] over the days the chosen model describes
        (``Candidate.fitted``), the band of a forecast one day ahead at ``level``.

        The band is calibrated on the errors of days before the last ``judged_days``: the
        revenue-drop alert judges those days against it, and a day far off the forecast would
        otherwise widen the very band it is judged by (with few errors, to its own size).
        """
        validate_confidence(level)
        dates, fitted = self.chosen.fitted(self.dates, self.values)
        lower, upper = self.band(level, fitted, np.ones(len(fitted), dtype=int), len(self.dates) - judged_days)
        actual = self.values[len(self.values) - len(fitted) :]
        return pd.DataFrame({"date": dates, "actual": actual, "fitted": fitted, "lower": lower, "upper": upper})

    def describing_regression(self) -> ForecastModel:
        """The best-scoring regression candidate, fitted with its covariance on the whole history:
        the trend and the weekday and yearly effects the store owner reads, whichever model
        forecasts."""
        regressions = [score for score in self.selection.scores if score.candidate.kind == REGRESSION]
        if not regressions:
            raise ValueError("the candidate grid holds no regression to describe the trend and seasonality")
        best = min(regressions, key=lambda score: score.mase).candidate
        return fit_forecast(self.dates, self.values, best.spec)

    def out_of_sample_coverage(self, level: float) -> dict[str, float | int]:
        """How often the ``level`` bands held over the backtest windows the model was chosen on, each
        window's bands calibrated only on what was known before its origin, as the nightly bands are:
        out_of_sample_coverage, the share of days inside the daily band (calibrated on the errors of
        target days before the origin), over coverage_windows windows; out_of_sample_total_coverage,
        the share of windows whose total is inside the total's band (calibrated on the totals of the
        windows complete before the origin), over total_coverage_windows windows. A window without
        enough earlier errors for a band is left out; a share over no window is NaN."""
        rows = np.flatnonzero(self.selection.windows)
        days_inside = self.windows_inside(level, rows)
        totals_inside = self.totals_inside(self.horizon, level, rows)
        return {
            "out_of_sample_coverage": float(np.mean(days_inside)) if days_inside else math.nan,
            "coverage_windows": len(days_inside),
            "out_of_sample_total_coverage": float(np.mean(totals_inside)) if len(totals_inside) else math.nan,
            "total_coverage_windows": len(totals_inside),
        }

    def backtest_metrics(self, level: float) -> dict[str, float | int]:
        """The chosen candidate's figures over the backtest windows it was chosen on: r2,
        mae, mape (a fraction), mase, naive_mae, relative_mae, n_points, and the out-of-sample
        coverage of its ``level`` bands (``out_of_sample_coverage``)."""
        complete = self.selection.windows
        actual = self.backtest.actual[complete, : self.horizon]
        predicted = self.chosen_backtest[complete, : self.horizon]
        score = self.selection.score_of(self.chosen)
        nonzero = actual != 0
        return {
            "r2": r_squared(actual.ravel(), predicted.ravel()),
            "mae": score.mae,
            "mape": float(np.mean(np.abs(actual - predicted)[nonzero] / np.abs(actual[nonzero])))
            if nonzero.any()
            else math.nan,
            "mase": score.mase,
            "naive_mae": score.mae / score.relative_mae,
            "relative_mae": score.relative_mae,
            "n_points": int(actual.size),
            **self.out_of_sample_coverage(level),
        }


def forecast_revenue(history: pd.DataFrame, horizon: int, levels: Sequence[float] = DEFAULT_LEVELS) -> pd.DataFrame:
    """The forecast of the ``horizon`` days after ``history`` (module docstring)."""
    return fit_revenue_forecast(history, horizon, levels).table()


def fit_revenue_forecast(
    history: pd.DataFrame,
    horizon: int,
    levels: Sequence[float] = DEFAULT_LEVELS,
    *,
    model_type: str = "auto",
    max_origins: int = DEFAULT_MAX_ORIGINS,
) -> RevenueForecast:
    """``forecast_revenue``'s forecast with its backtest and selection; ``model_type`` keeps one
    trend of the regression grid ('auto': all), ``max_origins`` bounds the weekly origins."""
    return forecasts_at_horizons(history, (horizon,), levels, model_type=model_type, max_origins=max_origins)[horizon]


def forecasts_at_horizons(
    history: pd.DataFrame,
    horizons: Sequence[int],
    levels: Sequence[float] = DEFAULT_LEVELS,
    *,
    model_type: str = "auto",
    max_origins: int = DEFAULT_MAX_ORIGINS,
) -> dict[int, RevenueForecast]:
    """``fit_revenue_forecast`` at each horizon, from one backtest to the longest: a step's
    forecast does not depend on how many steps follow it, so each is what its own call gives."""
    for horizon in horizons:
        for level in levels:
            validate_horizon(horizon, level)
    dates, values = history_series(history)
    backtest = run_backtest(dates, values, candidates_for(model_type, len(values)), max(horizons), max_origins)
    answers = {}
    for horizon in horizons:
        selection = select_candidate(backtest, horizon)
        answers[horizon] = RevenueForecast(
            dates=dates,
            values=values,
            horizon=horizon,
            levels=tuple(sorted(levels)),
            backtest=backtest,
            selection=selection,
            forecast=selection.chosen.predict(dates, values, horizon),
        )
    return answers


def history_series(history: pd.DataFrame) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """(dates, net_revenue) of ``history``, sorted by date; raises naming a missing or unused column."""
    missing = [column for column in HISTORY_COLUMNS if column not in history.columns]
    if missing:
        raise ValueError(f"history lacks the column(s) {', '.join(missing)}: it needs {', '.join(HISTORY_COLUMNS)}")
    if "promo_share" in history.columns:
        raise ValueError(
            "history has a promo_share column, which the forecast does not use: it assumes no known "
            "promotions, in its backtest as ahead (analytics_ml.forecast); drop the column"
        )
    ordered = history.sort_values("date")
    return pd.DatetimeIndex(ordered["date"]).normalize(), ordered["net_revenue"].to_numpy(dtype=float)
