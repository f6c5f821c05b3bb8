"""Rolling-origin backtest, model selection and the out-of-sample errors the intervals are made of.

Time-series cross-validation (Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*,
3rd ed., section 5.10; Tashman 2000, IJF 16): for n consecutive daily observations the origins
sit every ORIGIN_SPACING days back from the end, o_j = n - 1 - ORIGIN_SPACING (j - 1), at most
``max_origins`` of them and none with fewer than MIN_TRAIN_DAYS days before it. At each origin
every candidate is fitted on y[:o] and forecasts steps s = 1..H, y[o + s - 1]; the steps past
the end of the data stay empty (NaN). The recent origins then still give errors at short steps,
and an H-day window is "complete" when o + H <= n. Each use takes the origins it is best served
by: the choice the complete windows of the last SELECTION_ORIGINS origins (half a year: recent,
but enough to be more than noise), the daily bands each step's last CALIBRATION_ORIGINS errors
(a quarter: the store's current spread), the total's band every complete window (a year: the
few long windows need all the variety there is).

Candidates (``Candidate``), simplest first:

  seasonal_naive  yhat_{T+h} = y_{T+h-7 ceil(h/7)}: the last week repeated.
  weekly_profile  yhat_{T+h} = mean of y at the same weekday in the last PROFILE_WEEKS weeks.
  regression      a trend + weekday (+ yearly) least-squares model of ``analytics_ml.trend_model``
                  (its mean forecast, ``point_forecast``), one per spec of the grid.

Selection at horizon h (``select_candidate``) uses the complete windows of the last
SELECTION_ORIGINS origins. Each origin's
score is its MASE, mean_{s <= h} |y - yhat| / q_o, where q_o is the in-sample MAE of the lag-7
seasonal naive forecast over the last MASE_SCALE_DAYS of y[:o] (Hyndman & Koehler 2006, IJF
22): recent history, so a growing shop's early small days do not shrink the scale. Among the
candidates whose mean score is within one standard error (sd over origins / sqrt(origins)) of
the best, which the comparison cannot tell apart (the "one-standard-error rule": Hastie,
Tibshirani & Friedman, *The Elements of Statistical Learning*, 2nd ed., section 7.10):

- seasonal naive, the simplest, when it is among them: a model is chosen over repeating the last
  week only when it beats it by more than the noise of the comparison;
- else the one, or the mean of their forecasts (a combination, ``Candidate.members``, in the
  grid's order). Which of several candidates within the noise scores best is itself noise, and
  picking one bets on it; the equal-weight mean of forecasts is the combination that usually
  beats both the single pick and weights estimated from the same few errors (Clemen 1989, IJF 5;
  Smith & Wallis 2009, "A simple explanation of the forecast combination puzzle", OBES 71). Its
  absolute error is at most the members' mean absolute error (the triangle inequality), so its
  backtest MASE is at most their mean score: within the noise of the best, and below seasonal
  naive's, which is outside it. Its own score is reported with the others'.

The choice changes from one night to the next only when a new week of errors moves the scores
by more than that noise, and then by one member of a mean. With fewer than MIN_SELECTION_ORIGINS complete
windows there is no evidence to weigh and seasonal naive is chosen.

Intervals are split-conformal (Lei et al. 2018, JASA 113; for forecasting, Stankeviciute,
Alaa & van der Schaar 2021, NeurIPS) on the log scale, r = log1p(y) - log1p(yhat): the chosen
forecaster's backtest errors at step s, pooled with those of the nearest steps until there are
at least ``conformal_sample_size(level)`` of them (one week of steps at least), each step's
latest only (``calibration_origins``), give the
quantiles q_lo, q_hi at (1 -/+ c) / 2 with the ranks (n + 1)(1 -/+ c) / 2 of ``conformal_quantiles``.
The band is [expm1(log1p(yhat) + q_lo), expm1(log1p(yhat) + q_hi)], floored at 0: a band
whose width is proportional to the level of revenue (log1p: to it plus one), as the spread of
a store's revenue is. q_lo <= 0 <= q_hi is enforced so that the band holds the point. The level
c each week of steps is built at is raised where such bands held less than asked in the backtest
(``analytics_ml.forecast.RevenueForecast.band_levels``).

Totals (``total_interval``): r_o = log1p(sum of y) - log1p(sum of yhat) over each complete
window is modelled as normal; a new total lies in sum yhat x exp(mean r +/- t_{(1+c)/2, m-1}
sd(r) sqrt(1 + 1/m)) (the Student-t prediction interval for one more draw of a normal sample of
m, e.g. Hahn & Meeker, *Statistical Intervals*, 1991, section 4.4). Windows of consecutive
origins overlap when H > ORIGIN_SPACING, so the m errors are correlated and the band is an
approximation; the tests check its coverage on simulated stores.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import stdtrit

from analytics_ml.trend_model import TRENDS, ForecastSpec, SeriesDesign, point_fitted, prepare_series

SEASON = 7
ORIGIN_SPACING = SEASON
PROFILE_WEEKS = 4
MIN_TRAIN_DAYS = 8 * SEASON
MASE_SCALE_DAYS = 13 * SEASON
MIN_SELECTION_ORIGINS = 4
DEFAULT_MAX_ORIGINS = 52
SELECTION_ORIGINS = 26
MAX_ORIGINS = 104
CALIBRATION_ORIGINS = 13
MIN_TOTAL_ERRORS = 2
MODEL_TYPES = ("auto", *TRENDS)
CANDIDATE_WINDOWS = (None, 365, 180)
CANDIDATE_FOURIER_ORDER = 3
SEASONAL_NAIVE = "seasonal_naive"
WEEKLY_PROFILE = "weekly_profile"
REGRESSION = "regression"
COMBINATION = "combination"


@dataclass(frozen=True)
class Candidate:
    """One forecaster: ``kind`` is seasonal_naive, weekly_profile or regression (then ``spec`` says
    which), the candidates of the grid, or combination: the mean of the forecasts of ``members``
    (two or more of the grid), which ``select_candidate`` makes of the candidates it cannot tell apart."""

    kind: str
    spec: ForecastSpec | None = None
    members: tuple[Candidate, ...] = ()

    def __post_init__(self) -> None:
        if (self.kind == REGRESSION) != (self.spec is not None):
            raise ValueError(f"a {self.kind} candidate takes a spec only when it is a regression")
        if self.kind not in (SEASONAL_NAIVE, WEEKLY_PROFILE, REGRESSION, COMBINATION):
            raise ValueError(f"kind={self.kind!r} is not a forecaster")
        if (self.kind == COMBINATION) != bool(self.members):
            raise ValueError(f"a {self.kind} candidate takes members only when it is a combination")
        if self.kind == COMBINATION and (
            len(self.members) < 2 or any(member.kind == COMBINATION for member in self.members)
        ):
            raise ValueError("a combination is the mean of two or more candidates of the grid")

    @property
    def label(self) -> str:
        """'seasonal naive', 'weekly profile (4 weeks)', the spec's label or 'mean of <n>: <labels>'."""
        if self.kind == SEASONAL_NAIVE:
            return "seasonal naive"
        if self.kind == WEEKLY_PROFILE:
            return f"weekly profile ({PROFILE_WEEKS} weeks)"
        if self.kind == COMBINATION:
            return f"mean of {len(self.members)}: {', '.join(member.label for member in self.members)}"
        return self.spec.label

    @property
    def complexity(self) -> int:
        """Rank of simplicity, for the one-standard-error rule: 0 for seasonal naive, 1 for the
        weekly profile, then a regression's design columns (intercept, trend, hinges, six
        weekdays, yearly sines and cosines); ties keep the grid's order. A combination is as complex
        as its most complex member."""
        if self.kind == COMBINATION:
            return max(member.complexity for member in self.members)
        if self.spec is None:
            return 0 if self.kind == SEASONAL_NAIVE else 1
        knots = self.spec.changepoints if self.spec.trend == "piecewise" else 0
        return 8 + knots + 2 * self.spec.fourier_order

    def predict(self, dates: pd.DatetimeIndex, values: np.ndarray, horizon: int) -> np.ndarray:
        """Forecasts of the ``horizon`` days after the last of ``dates``, never below 0."""
        index, y, _ = prepare_series(dates, values, None)
        return self.forecast_from(SeriesDesign.of(index, y, horizon), len(y), horizon)

    def forecast_from(self, design: SeriesDesign, end: int, horizon: int) -> np.ndarray:
        """``predict`` from the first ``end`` days of ``design``'s series: a backtest's forecast from
        origin ``end``, whose regressions share the calendar columns of the series (``SeriesDesign``)."""
        if self.kind == COMBINATION:
            return np.mean([member.forecast_from(design, end, horizon) for member in self.members], axis=0)
        if self.kind == SEASONAL_NAIVE:
            return np.maximum(seasonal_naive_forecast(design.values[:end], horizon), 0.0)
        if self.kind == WEEKLY_PROFILE:
            return np.maximum(weekly_profile_forecast(design.values[:end], horizon), 0.0)
        return design.point_forecast(self.spec, end, horizon)

    def fitted(self, dates: pd.DatetimeIndex, values: np.ndarray) -> tuple[pd.DatetimeIndex, np.ndarray]:
        """The days the candidate describes and its value for each: the same weekday a week
        before (seasonal naive), the mean of the same weekday in the PROFILE_WEEKS weeks before
        (weekly profile), the in-sample fit over the spec's window (regression), or the mean of the
        members' over the days they all describe (combination)."""
        if self.kind == COMBINATION:
            described = [member.fitted(dates, values) for member in self.members]
            days = min(len(member_dates) for member_dates, _ in described)
            return dates[len(dates) - days :], np.mean([fitted[-days:] for _, fitted in described], axis=0)
        values = np.asarray(values, dtype=float)
        if self.kind == SEASONAL_NAIVE:
            return dates[SEASON:], np.maximum(values[:-SEASON], 0.0)
        if self.kind == WEEKLY_PROFILE:
            start, n = PROFILE_WEEKS * SEASON, len(values)
            lagged = [values[start - SEASON * k : n - SEASON * k] for k in range(1, PROFILE_WEEKS + 1)]
            return dates[start:], np.maximum(np.mean(lagged, axis=0), 0.0)
        return point_fitted(dates, values, self.spec)


def seasonal_naive_forecast(history: np.ndarray, horizon: int, season: int = SEASON) -> np.ndarray:
    """yhat_{T+h} = y_{T+h-season*ceil(h/season)}, h = 1..horizon: the last season repeated."""
    history = np.asarray(history, dtype=float)
    if len(history) < season:
        raise ValueError(f"seasonal naive needs at least {season} observations, got {len(history)}")
    steps = np.arange(1, horizon + 1)
    return history[len(history) - 1 + steps - season * np.ceil(steps / season).astype(int)]


def weekly_profile_forecast(history: np.ndarray, horizon: int, weeks: int = PROFILE_WEEKS) -> np.ndarray:
    """yhat_{T+h} = (1 / weeks) sum_{k=1..weeks} y_{T+h-7 ceil(h/7) - 7 (k - 1)}: each weekday's
    mean over the last ``weeks`` weeks, repeated."""
    history = np.asarray(history, dtype=float)
    if len(history) < weeks * SEASON:
        raise ValueError(f"a {weeks}-week profile needs {weeks * SEASON} observations, got {len(history)}")
    # Row k is the k-th last week; column j its day j, the weekday of step j + 1 (mod 7).
    profile = history[-weeks * SEASON :].reshape(weeks, SEASON).mean(axis=0)
    return profile[np.arange(horizon) % SEASON]


def seasonal_naive_scale(history: np.ndarray, season: int = SEASON) -> float:
    """In-sample MAE of the seasonal naive forecast, mean |y_t - y_{t-season}| (MASE scale)."""
    history = np.asarray(history, dtype=float)
    if len(history) <= season:
        raise ValueError(f"the MASE scale needs more than {season} observations, got {len(history)}")
    scale = float(np.mean(np.abs(history[season:] - history[:-season])))
    if scale == 0.0:
        raise ValueError("the series repeats exactly every season before an origin, so MASE is undefined")
    return scale


def default_candidates(n_days: int) -> list[Candidate]:
    """Seasonal naive, the weekly profile, then every trend x window in {all, 365, 180} shorter
    than the history, with yearly Fourier order 3 when the window covers >= 365 days, else 0."""
    windows = [window for window in CANDIDATE_WINDOWS if window is None or window < n_days]
    regressions = [
        Candidate(
            REGRESSION,
            ForecastSpec(
                trend=trend,
                window_days=window,
                fourier_order=CANDIDATE_FOURIER_ORDER if (window or n_days) >= 365 else 0,
            ),
        )
        for trend in TRENDS
        for window in windows
    ]
    return [Candidate(SEASONAL_NAIVE), Candidate(WEEKLY_PROFILE), *regressions]


def candidates_for(model_type: str, n_days: int) -> list[Candidate]:
    """The default grid with its regressions restricted to one trend, or all of them for 'auto'.
    Seasonal naive and the weekly profile are always candidates: nothing is chosen that loses to them."""
    if model_type not in MODEL_TYPES:
        raise ValueError(f"model_type={model_type!r} is not allowed: must be one of {', '.join(MODEL_TYPES)}")
    return [
        candidate
        for candidate in default_candidates(n_days)
        if candidate.spec is None or model_type in ("auto", candidate.spec.trend)
    ]


def backtest_origins(n_obs: int, max_origins: int) -> np.ndarray:
    """Positions o_j = n - 1 - ORIGIN_SPACING (j - 1) >= MIN_TRAIN_DAYS, j = 1..max_origins, ascending."""
    if max_origins < 1:
        raise ValueError(f"max_origins={max_origins} must be >= 1")
    origins = n_obs - 1 - ORIGIN_SPACING * np.arange(max_origins)[::-1]
    origins = origins[origins >= MIN_TRAIN_DAYS]
    if len(origins) == 0:
        raise ValueError(
            f"{n_obs} days are too few to backtest: the first origin needs {MIN_TRAIN_DAYS} days before it"
        )
    return origins


@dataclass(frozen=True, eq=False)
class Backtest:
    """Every candidate's forecasts at every origin: ``forecasts[label]`` and ``actual`` are
    (origins x horizon) arrays, NaN past the end of the data; ``scale`` the MASE scale q_o."""

    dates: pd.DatetimeIndex
    origins: np.ndarray
    actual: np.ndarray
    scale: np.ndarray
    candidates: tuple[Candidate, ...]
    forecasts: dict[str, np.ndarray]

    def complete(self, horizon: int) -> np.ndarray:
        """Mask of the origins whose ``horizon``-day window lies inside the data."""
        return self.origins + horizon <= len(self.dates)

    def forecast_of(self, candidate: Candidate) -> np.ndarray:
        """``candidate``'s (origins x horizon) forecasts: its own, or its members' mean for a combination."""
        if candidate.kind == COMBINATION:
            return np.mean([self.forecasts[member.label] for member in candidate.members], axis=0)
        return self.forecasts[candidate.label]

    def latest_complete(self, horizon: int, keep: int) -> np.ndarray:
        """Mask of those of the last ``keep`` origins whose ``horizon``-day window lies inside the data."""
        latest = np.arange(len(self.origins)) >= len(self.origins) - keep
        return self.complete(horizon) & latest


def run_backtest(
    dates: pd.DatetimeIndex | pd.Series | np.ndarray,
    values: np.ndarray | pd.Series,
    candidates: list[Candidate],
    horizon: int,
    max_origins: int = DEFAULT_MAX_ORIGINS,
) -> Backtest:
    """Forecast steps 1..horizon from every origin (module docstring) with every candidate."""
    if not candidates:
        raise ValueError("the backtest needs at least one candidate")
    index, y, _ = prepare_series(dates, values, None)
    require_consecutive_days(index)
    origins = backtest_origins(len(y), max_origins)
    steps = np.arange(horizon)
    positions = origins[:, None] + steps[None, :]
    inside = positions < len(y)
    actual = np.where(inside, y[np.minimum(positions, len(y) - 1)], np.nan)
    design = SeriesDesign.of(index, y, horizon)
    forecasts = {
        candidate.label: np.vstack([candidate.forecast_from(design, origin, horizon) for origin in origins])
        for candidate in candidates
    }
    return Backtest(
        dates=index,
        origins=origins,
        actual=actual,
        scale=np.array([seasonal_naive_scale(y[:origin][-MASE_SCALE_DAYS:]) for origin in origins]),
        candidates=tuple(candidates),
        forecasts={label: np.where(inside, forecast, np.nan) for label, forecast in forecasts.items()},
    )


@dataclass(frozen=True)
class CandidateScore:
    """A candidate's selection score at one horizon: mean and standard error over the complete
    windows of the per-origin MASE, and its pooled MAE against seasonal naive's."""

    candidate: Candidate
    mase: float
    std_error: float
    mae: float
    relative_mae: float


@dataclass(frozen=True, eq=False)
class Selection:
    """The chosen candidate at ``horizon``, every candidate's score and how many complete windows
    (``origins``) the comparison had; ``reason`` says how the rule decided."""

    chosen: Candidate
    scores: tuple[CandidateScore, ...]
    horizon: int
    windows: np.ndarray
    reason: str

    @property
    def origins(self) -> int:
        """How many complete windows the comparison had (``windows`` is their mask)."""
        return int(self.windows.sum())

    def score_of(self, candidate: Candidate) -> CandidateScore:
        return next(score for score in self.scores if score.candidate == candidate)


def select_candidate(backtest: Backtest, horizon: int) -> Selection:
    """The choice at ``horizon`` over the complete windows of the last SELECTION_ORIGINS origins
    (module docstring): seasonal naive when it is within one standard error of the best, else the
    one candidate or the mean of the candidates within it. A combination's own score is added to
    ``scores``."""
    complete = backtest.latest_complete(horizon, SELECTION_ORIGINS)
    actual = backtest.actual[complete, :horizon]
    naive_mae = float(np.mean(np.abs(actual - backtest.forecasts["seasonal naive"][complete, :horizon])))

    def score(candidate: Candidate) -> CandidateScore:
        forecast = backtest.forecast_of(candidate)[complete, :horizon]
        return _score(candidate, actual, forecast, backtest.scale[complete], naive_mae)

    scores = tuple(score(candidate) for candidate in backtest.candidates)
    n_complete = int(complete.sum())
    simplest = min(backtest.candidates, key=lambda candidate: candidate.complexity)
    if n_complete < MIN_SELECTION_ORIGINS:
        reason = f"{n_complete} complete {horizon}-day backtest windows (< {MIN_SELECTION_ORIGINS}): the simplest"
        return Selection(simplest, scores, horizon, complete, reason)
    best = min(scores, key=lambda score: score.mase)
    within = tuple(score.candidate for score in scores if score.mase <= best.mase + best.std_error)
    evidence = (
        f"one standard error ({best.std_error:.3f}) of the best MASE ({best.mase:.3f}, "
        f"{best.candidate.label}) over {n_complete} windows"
    )
    if simplest in within:
        return Selection(simplest, scores, horizon, complete, f"{simplest.label}: the simplest, within {evidence}")
    if len(within) == 1:
        return Selection(within[0], scores, horizon, complete, f"{within[0].label}: the only one within {evidence}")
    chosen = Candidate(COMBINATION, members=within)
    reason = f"the mean of the {len(within)} candidates within {evidence}"
    return Selection(chosen, (*scores, score(chosen)), horizon, complete, reason)


def _score(
    candidate: Candidate, actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray, naive_mae: float
) -> CandidateScore:
    errors = np.abs(actual - forecast)
    per_origin = errors.mean(axis=1) / scale
    spread = float(per_origin.std(ddof=1)) if len(per_origin) > 1 else math.inf
    mae = float(errors.mean())
    return CandidateScore(
        candidate=candidate,
        mase=float(per_origin.mean()),
        std_error=spread / math.sqrt(len(per_origin)),
        mae=mae,
        relative_mae=mae / naive_mae if naive_mae > 0 else math.nan,
    )


def log_errors(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """r = log1p(max(y, 0)) - log1p(yhat): the errors on the scale where a store's spread is even.
    A negative day (refunds above sales) counts as 0, the floor of the band."""
    return np.log1p(np.maximum(actual, 0.0)) - np.log1p(forecast)


def conformal_sample_size(level: float) -> int:
    """Smallest n for which the rank (n + 1)(1 + c) / 2 of ``conformal_quantiles`` is at most n."""
    return math.ceil(2.0 / (1.0 - level) - 1.0 - 1e-9)


def conformal_quantiles(errors: np.ndarray, level: float) -> tuple[float, float]:
    """(q_lo, q_hi): the errors of rank (n + 1)(1 - c) / 2 and (n + 1)(1 + c) / 2 among the n errors
    (Lei et al. 2018, with the miscoverage split evenly between the tails), a rank between two
    whole ones interpolated linearly between their errors, with q_lo <= 0 <= q_hi.

    The k-th smallest of n exchangeable errors lies below a new one with probability k / (n + 1),
    so these ranks give a band that holds c on average (Hyndman & Fan 1996, "Sample Quantiles in
    Statistical Packages", definition 6). Rounding the ranks outwards instead, as split-conformal
    prediction does to hold at least c, adds up to 2 / (n + 1) to every band's coverage, and moves
    the band in jumps of whole ranks, so that levels a point apart often give the same band and
    ``RevenueForecast.band_levels`` could not raise a level by less than a rank."""
    ordered = np.sort(np.asarray(errors, dtype=float))
    lower, upper = pooled_quantiles(ordered[None, :], np.array([len(ordered)]), level)
    return float(lower[0]), float(upper[0])


def pooled_quantiles(ordered: np.ndarray, sizes: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """``conformal_quantiles`` of many sets of errors at once: row i of ``ordered`` holds the ``sizes[i]``
    errors of set i in ascending order (then anything). A rank r between the whole ranks k and k + 1
    is e_k + (r - k)(e_{k+1} - e_k), as numpy's ``interp`` computes it over the ranks 1..n; ranks
    outside 1..n (by rounding) take the nearest end."""
    upper_rank = (sizes + 1) * (1.0 + level) / 2.0
    lower_rank = (sizes + 1) * (1.0 - level) / 2.0
    short = (upper_rank > sizes + 1e-9) | (lower_rank < 1.0 - 1e-9)
    if short.any():
        n = int(sizes[np.argmax(short)])
        raise ValueError(
            f"{n} backtest errors are too few for a {level:.0%} interval: it needs {conformal_sample_size(level)}"
        )

    rows = np.arange(len(sizes))

    def at(rank: np.ndarray) -> np.ndarray:
        rank = np.clip(rank, 1.0, sizes)
        whole = np.floor(rank)
        below = ordered[rows, whole.astype(int) - 1]
        above = ordered[rows, np.minimum(whole, sizes - 1).astype(int)]
        return (above - below) * (rank - whole) + below

    lower, upper = at(lower_rank), at(upper_rank)
    # As min(q, 0.0) and max(q, 0.0): the band holds the point.
    return np.where(lower > 0.0, 0.0, lower), np.where(upper < 0.0, 0.0, upper)


def step_quantiles(errors: np.ndarray, horizon: int, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Conformal (q_lo, q_hi) for each step 1..horizon from ``errors`` (origins x >= horizon, NaN
    where unknown): step s pools the errors of the steps nearest to s (ties: the earlier) until
    it holds at least ``conformal_sample_size(level)`` of them and a week of steps."""
    return StepErrors.of(errors, horizon).quantiles(level)


@dataclass(frozen=True, eq=False)
class StepErrors:
    """The errors the bands of steps 1..horizon are calibrated on (``step_quantiles``): each step's
    latest ``calibration_origins`` of ``errors``. The pools of nearest steps are sorted once for all
    the levels that take the same steps: ``RevenueForecast.band_levels`` tries many levels on the
    errors before each backtest window, and most pool the same week of steps."""

    kept: np.ndarray
    counts: np.ndarray
    _taken: dict[int, np.ndarray] = dataclasses.field(default_factory=dict)
    _pools: dict[bytes, tuple[np.ndarray, np.ndarray]] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, errors: np.ndarray, horizon: int) -> StepErrors:
        kept = latest_per_step(errors[:, :horizon], calibration_origins(horizon))
        known = ~np.isnan(kept)
        # Origins none of whose errors are kept add nothing to a pool, only to the sorts.
        return cls(kept[known.any(axis=1)], np.sum(known, axis=0))

    def suffices(self, level: float) -> bool:
        """Whether there are enough errors for a ``level`` band at every step."""
        return int(self.counts.sum()) >= conformal_sample_size(level)

    def quantiles(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        """(q_lo, q_hi) of each step at ``level`` (``step_quantiles``)."""
        needed = conformal_sample_size(level)
        if not self.suffices(level):
            raise ValueError(
                f"{int(self.counts.sum())} backtest errors are too few for a {level:.0%} interval: it needs {needed}"
            )
        if needed not in self._taken:
            horizon = len(self.counts)
            nearest = nearest_steps(horizon)
            # Row s: how many nearest steps step s takes to hold `needed` errors, and a week of steps at least.
            self._taken[needed] = np.maximum(
                np.argmax(np.cumsum(self.counts[nearest], axis=1) >= needed, axis=1) + 1, min(SEASON, horizon)
            )
        return pooled_quantiles(*self.pools(self._taken[needed]), level)

    def pools(self, taken: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ordered, sizes): row s the known errors of the ``taken[s]`` steps nearest to step s, sorted
        (NaN after them), and how many they are."""
        key = taken.tobytes()
        if key not in self._pools:
            nearest = nearest_steps(len(self.counts))[:, : taken.max()]
            pooled = np.where(np.arange(taken.max()) < taken[:, None], self.kept[:, nearest], np.nan)
            ordered = np.sort(pooled.transpose(1, 0, 2).reshape(len(taken), -1), axis=1)
            self._pools[key] = ordered, np.sum(~np.isnan(ordered), axis=1)
        return self._pools[key]


@functools.cache
def nearest_steps(horizon: int) -> np.ndarray:
    """Row s (0-based): the steps 0..horizon-1 ordered by their distance to s, ties the earlier first."""
    steps = np.arange(horizon)
    return np.argsort(np.abs(steps[None, :] - steps[:, None]), axis=1, kind="stable")


def calibration_origins(horizon: int) -> np.ndarray:
    """How many of its latest errors each step 1..horizon keeps: CALIBRATION_ORIGINS (a quarter of
    weekly origins) for the first week of steps and one more for each week further ahead. A step
    weeks ahead sees its outcomes later, and the windows its errors come from overlap more, so a
    quarter of them holds fewer distinct surprises (on the sample stores the bands three months
    ahead cover 2 to 3 points more with it, those of the first weeks the same)."""
    return CALIBRATION_ORIGINS + np.arange(horizon) // SEASON


def latest_per_step(errors: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``errors`` with only the last ``keep[j]`` known values of each column j (the rest NaN): the
    most recent errors, which the store's current spread is more like than those of when it was
    smaller or larger."""
    known = ~np.isnan(errors)
    later_known = np.cumsum(known[::-1], axis=0)[::-1]
    return np.where(known & (later_known <= np.asarray(keep)[None, :]), errors, np.nan)


def conformal_band(forecast: np.ndarray, quantiles: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """[expm1(log1p(yhat) + q_lo), expm1(log1p(yhat) + q_hi)], floored at 0."""
    base = np.log1p(forecast)
    return np.maximum(np.expm1(base + quantiles[0]), 0.0), np.expm1(base + quantiles[1])


def total_errors(backtest: Backtest, candidate: Candidate, horizon: int) -> np.ndarray:
    """log1p(sum y) - log1p(sum yhat) over each complete ``horizon``-day window of ``candidate``."""
    complete = backtest.complete(horizon)
    actual = backtest.actual[complete, :horizon].sum(axis=1)
    forecast = backtest.forecast_of(candidate)[complete, :horizon].sum(axis=1)
    return log_errors(actual, forecast)


@dataclass(frozen=True)
class TotalErrors:
    """What the band of a total takes from the log errors of past totals: their count, mean and
    standard deviation (module docstring). Kept apart from the level, so that the bands of one set
    of past totals at many levels share them."""

    count: int
    mean: float
    std: float

    @classmethod
    def of(cls, errors: np.ndarray) -> TotalErrors:
        if len(errors) < MIN_TOTAL_ERRORS:
            raise ValueError(
                f"{len(errors)} complete backtest windows are too few for an interval of the total: "
                f"it needs {MIN_TOTAL_ERRORS}"
            )
        return cls(len(errors), float(np.mean(errors)), float(np.std(errors, ddof=1)))

    def interval(self, total: float, level: float) -> tuple[float, float]:
        """The ``level`` band of a total forecast as ``total``."""
        lower, upper = total_bands(*(np.array([value]) for value in (total, self.count, self.mean, self.std)), level)
        return float(lower[0]), float(upper[0])


def total_bands(
    totals: np.ndarray, count: np.ndarray, mean: np.ndarray, std: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper): the ``level`` bands of totals forecast as ``totals`` whose past totals' log errors
    have these counts, means and standard deviations (``TotalErrors``), one of each per total."""
    half = stdtrit(count - 1, 0.5 + level / 2.0) * std * np.sqrt(1.0 + 1.0 / count)
    base = _log1p(totals)
    # The band holds the point: min(mean - half, 0) and max(mean + half, 0), then the floor at 0.
    lower = _expm1(base + np.where(mean - half > 0.0, 0.0, mean - half))
    upper = _expm1(base + np.where(mean + half < 0.0, 0.0, mean + half))
    return np.where(lower < 0.0, 0.0, lower), upper


# math's functions, one value at a time: numpy's vectorised log1p and expm1 differ from them in the
# last bit for some values, and the bands were computed with math's.
_log1p = np.vectorize(math.log1p, otypes=[float])
_expm1 = np.vectorize(math.expm1, otypes=[float])


def total_interval(total: float, errors: np.ndarray, level: float) -> tuple[float, float]:
    """The band of a horizon's total from the log errors of past totals (module docstring)."""
    return TotalErrors.of(errors).interval(total, level)


def require_consecutive_days(index: pd.DatetimeIndex) -> None:
    """Raise unless ``index`` holds consecutive days: positions stand in for days (lag 7 = same
    weekday, step s = s days ahead), which only holds without gaps."""
    if not (index[1:] - index[:-1] == pd.Timedelta(days=1)).all():
        raise ValueError("the backtest needs consecutive daily dates without gaps")
