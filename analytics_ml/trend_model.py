"""Daily net-revenue forecaster: OLS on trend + weekday + yearly Fourier (+ promo).

On the fitting scale z (z = y, or z = log1p(max(y, 0)) for the loglinear trend):

    z_t = b0 + trend(t) + sum_{d = Tue..Sun} g_d [weekday(t) = d]
          + sum_{k = 1..K} (s_k sin(2 pi k u_t / 365.25) + c_k cos(2 pi k u_t / 365.25))
          + delta promo_t + e_t,                 e_t ~ iid N(0, sigma^2)

t is days since the first day of the fitting window, u_t is days since 1970-01-01 (so
the yearly phase is tied to the calendar, not to the window) and Monday is the weekday
baseline. Every trend form is linear in its coefficients, so the OLS fit and the
Student-t prediction intervals of ``analytics_ml.regression`` apply unchanged:

linear     trend(t) = beta t.
loglinear  the linear model fitted to log1p(revenue): a constant daily growth rate.
           Negative net-revenue days are floored at 0 because log1p is undefined
           below -1. The forecast is expm1 of the log-scale prediction (the median under
           log-normal errors) and the interval is expm1 of the log-scale bounds. The
           median rather than Duan's smeared mean is reported so the point lies inside
           the interval at every confidence level; it is below the mean by a factor of
           about exp(sigma^2 / 2).
damped     Gardner & McKenzie (1985, Management Science 31(10)) damped trend: linear
           in-sample, but h days past the last fitted day the trend clock advances by
           phi (1 - phi^h) / (1 - phi) days instead of h, phi = DAMPING_PER_DAY. Extra
           growth is capped at phi / (1 - phi) days of the fitted slope (49 days for
           phi = 0.98), which is what made damped trends robust in the M-competitions.
piecewise  beta t + sum_j beta_j max(0, t - k_j) with knots k_j at fractions j / (K + 1)
           of the window span (cf. Prophet's changepoints): the slope may change K times
           and the last segment keeps span / (K + 1) days of data.

Yearly Fourier terms are used only when the fitting window covers at least 365 days;
with less than a year a yearly cycle is not identified separately from the trend.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics_ml.regression import OLSFit, fit_ols, prediction_interval, t_quantile

TRENDS = ("linear", "loglinear", "damped", "piecewise")
MAX_DAYS_AHEAD = 90
MIN_CONFIDENCE = 0.1
MAX_CONFIDENCE = 0.99
YEAR_DAYS = 365.25
DAMPING_PER_DAY = 0.98
RECENT_DAYS = 91
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MODEL_FORMAT = "analytics_ml.forecast/1"

_EPOCH = pd.Timestamp("1970-01-01")
_ONE_DAY = pd.Timedelta(days=1)
_WEEKDAY_COLUMNS = tuple(f"dow_{day}" for day in WEEKDAYS[1:])


@dataclass(frozen=True)
class ForecastSpec:
    """Which forecasting model to fit.

    trend: one of TRENDS. window_days: fit on the last ``window_days`` days only
    (None = all history). fourier_order: yearly harmonics K, used only when the window
    covers >= 365 days. changepoints: number of hinge knots, read by the piecewise
    trend only.
    """

    trend: str = "linear"
    window_days: int | None = None
    fourier_order: int = 3
    changepoints: int = 4

    def __post_init__(self) -> None:
        if self.trend not in TRENDS:
            raise ValueError(f"trend={self.trend!r} is not one of {TRENDS}")
        if self.window_days is not None and self.window_days < 1:
            raise ValueError(f"window_days={self.window_days} must be None or >= 1")
        if self.fourier_order < 0:
            raise ValueError(f"fourier_order={self.fourier_order} must be >= 0")
        if self.changepoints < 1 and self.trend == "piecewise":
            raise ValueError(f"changepoints={self.changepoints} must be >= 1 for a piecewise trend")

    @property
    def label(self) -> str:
        """Short human-readable description, e.g. 'piecewise(4 knots) 365d K=3'."""
        trend = f"piecewise({self.changepoints} knots)" if self.trend == "piecewise" else self.trend
        window = "all" if self.window_days is None else f"{self.window_days}d"
        return f"{trend} {window} K={self.fourier_order}"

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ForecastSpec:
        return cls(**data)


@dataclass(frozen=True)
class DesignLayout:
    """How one fitted model turns dates (and a promo series) into design-matrix rows."""

    trend: str
    origin: pd.Timestamp
    last_date: pd.Timestamp
    knots: tuple[float, ...]
    fourier_order: int
    has_promo: bool

    @property
    def columns(self) -> tuple[str, ...]:
        hinges = tuple(f"hinge_{j + 1}" for j in range(len(self.knots)))
        fourier = tuple(f"{wave}_{k}" for wave in ("sin", "cos") for k in range(1, self.fourier_order + 1))
        promo = ("promo",) if self.has_promo else ()
        return ("intercept", "trend", *hinges, *_WEEKDAY_COLUMNS, *fourier, *promo)

    def matrix(self, dates: pd.DatetimeIndex, promo: np.ndarray) -> np.ndarray:
        """Design matrix for ``dates``; ``promo`` is ignored when has_promo is False."""
        calendar = (weekday_dummies(dates), fourier_terms(dates, self.fourier_order))
        return self.assemble(_days_between(self.origin, dates), calendar, promo)

    def assemble(self, t: np.ndarray, calendar: tuple[np.ndarray, np.ndarray], promo: np.ndarray) -> np.ndarray:
        """Design matrix of the days ``t`` days after the origin whose weekday dummies and Fourier
        terms are ``calendar``; ``promo`` is ignored when has_promo is False."""
        blocks = [np.ones((len(t), 1)), self.trend_block(t), *calendar]
        if self.has_promo:
            blocks.append(np.asarray(promo, dtype=float)[:, None])
        return np.hstack(blocks)

    def trend_block(self, t: np.ndarray) -> np.ndarray:
        """Trend column followed by the hinge columns (module docstring) of the days ``t`` days after the origin."""
        clock = damped_clock(t, _days_between(self.origin, self.last_date)) if self.trend == "damped" else t
        hinges = [np.maximum(t - knot, 0.0) for knot in self.knots]
        return np.column_stack([clock, *hinges])

    def to_json(self) -> dict:
        return {
            "trend": self.trend,
            "origin": self.origin.date().isoformat(),
            "last_date": self.last_date.date().isoformat(),
            "knots": list(self.knots),
            "fourier_order": self.fourier_order,
            "has_promo": self.has_promo,
        }

    @classmethod
    def from_json(cls, data: dict) -> DesignLayout:
        return cls(
            trend=data["trend"],
            origin=pd.Timestamp(data["origin"]),
            last_date=pd.Timestamp(data["last_date"]),
            knots=tuple(float(knot) for knot in data["knots"]),
            fourier_order=int(data["fourier_order"]),
            has_promo=bool(data["has_promo"]),
        )


@dataclass(frozen=True, eq=False)
class ForecastModel:
    """A fitted forecaster: the spec, its design layout and the OLS fit."""

    spec: ForecastSpec
    layout: DesignLayout
    fit: OLSFit

    @property
    def columns(self) -> tuple[str, ...]:
        return self.layout.columns

    @property
    def coefficients(self) -> pd.Series:
        return pd.Series(self.fit.coefficients, index=self.columns)

    @property
    def sigma2(self) -> float:
        return self.fit.sigma2

    @property
    def xtx_inv(self) -> np.ndarray:
        return self.fit.xtx_inv

    @property
    def origin(self) -> pd.Timestamp:
        return self.layout.origin

    @property
    def last_date(self) -> pd.Timestamp:
        return self.layout.last_date

    @property
    def n_obs(self) -> int:
        return self.fit.n_obs

    def to_json(self) -> dict:
        """Plain-JSON representation; ``from_json`` of it forecasts identically."""
        return {
            "format": MODEL_FORMAT,
            "spec": self.spec.to_json(),
            "layout": self.layout.to_json(),
            "columns": list(self.columns),
            "fit": self.fit.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict) -> ForecastModel:
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"unsupported model format {data.get('format')!r}, expected {MODEL_FORMAT!r}")
        model = cls(
            spec=ForecastSpec.from_json(data["spec"]),
            layout=DesignLayout.from_json(data["layout"]),
            fit=OLSFit.from_json(data["fit"]),
        )
        # The stored names document the coefficients; a mismatch means the layout code
        # changed since the model was saved and the coefficients would be misread.
        if list(model.columns) != list(data["columns"]):
            raise ValueError(f"stored columns {data['columns']} do not match layout {list(model.columns)}")
        return model


def damped_clock(t: np.ndarray, t_last: float) -> np.ndarray:
    """Gardner-McKenzie trend clock: t up to t_last, then t_last + phi (1 - phi^h) / (1 - phi)."""
    ahead = np.maximum(t - t_last, 0.0)
    damped = t_last + DAMPING_PER_DAY * (1.0 - DAMPING_PER_DAY**ahead) / (1.0 - DAMPING_PER_DAY)
    return np.where(t > t_last, damped, t)


def weekday_dummies(dates: pd.DatetimeIndex) -> np.ndarray:
    """Six 0/1 columns for Tue..Sun; Monday is the baseline."""
    return (np.asarray(dates.day_of_week)[:, None] == np.arange(1, 7)).astype(float)


def fourier_terms(dates: pd.DatetimeIndex, order: int) -> np.ndarray:
    """Columns sin(2 pi k u / 365.25) for k = 1..order, then the matching cosines."""
    angles = 2.0 * np.pi * np.outer(_days_between(_EPOCH, dates), np.arange(1, order + 1)) / YEAR_DAYS
    return np.hstack([np.sin(angles), np.cos(angles)])


def validate_confidence(confidence_level: float) -> None:
    """Raise ValueError unless MIN_CONFIDENCE <= confidence_level <= MAX_CONFIDENCE."""
    # Written as a negated range test so NaN is rejected too.
    if not MIN_CONFIDENCE <= confidence_level <= MAX_CONFIDENCE:
        raise ValueError(
            f"confidence_level={confidence_level} is out of range: "
            f"must be between {MIN_CONFIDENCE} and {MAX_CONFIDENCE}"
        )


def validate_horizon(days_ahead: int, confidence_level: float) -> None:
    """Raise ValueError naming the setting unless days_ahead is an int in 1..90 and
    confidence_level is in 0.1..0.99."""
    if isinstance(days_ahead, bool) or not isinstance(days_ahead, numbers.Integral):
        raise ValueError(
            f"days_ahead={days_ahead!r} is not a whole number of days: "
            f"must be an integer between 1 and {MAX_DAYS_AHEAD}"
        )
    if not 1 <= days_ahead <= MAX_DAYS_AHEAD:
        raise ValueError(f"days_ahead={days_ahead} is out of range: must be between 1 and {MAX_DAYS_AHEAD}")
    validate_confidence(confidence_level)


def prepare_series(
    dates: pd.DatetimeIndex | pd.Series | np.ndarray,
    values: np.ndarray | pd.Series,
    promo: np.ndarray | pd.Series | None,
) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray | None]:
    """Validate the inputs and return them sorted by (day-normalised) date."""
    index = pd.DatetimeIndex(dates).normalize()
    y = np.asarray(values, dtype=float)
    promo_values = None if promo is None else np.asarray(promo, dtype=float)
    if len(index) != len(y) or (promo_values is not None and len(promo_values) != len(y)):
        raise ValueError("dates, values and promo must have the same length")
    if index.has_duplicates:
        raise ValueError("dates must be unique (one value per day)")
    if not np.all(np.isfinite(y)) or (promo_values is not None and not np.all(np.isfinite(promo_values))):
        raise ValueError("values and promo must be finite (no NaN)")
    order = np.argsort(index.to_numpy())
    return index[order], y[order], None if promo_values is None else promo_values[order]


def fit_forecast(
    dates: pd.DatetimeIndex | pd.Series | np.ndarray,
    values: np.ndarray | pd.Series,
    spec: ForecastSpec,
    promo: np.ndarray | pd.Series | None = None,
) -> ForecastModel:
    """Fit ``spec`` to a daily series (dates need not be sorted; duplicates and NaN are
    rejected). ``promo`` is an optional regressor aligned with ``values`` (0/1 flag or
    share of orders on promotion); with it the model gains a ``promo`` coefficient."""
    index, y, promo_values = prepare_series(dates, values, promo)
    index, y, promo_values = _last_window(index, y, promo_values, spec.window_days)
    layout = _layout_for(spec, index, has_promo=promo is not None)
    X = layout.matrix(index, promo_values)
    return ForecastModel(spec=spec, layout=layout, fit=fit_ols(X, _to_fit_scale(spec.trend, y)))


def forecast(
    model: ForecastModel,
    days_ahead: int,
    confidence_level: float,
    promo_future: np.ndarray | pd.Series | None = None,
) -> pd.DataFrame:
    """Forecast the ``days_ahead`` days after the model's last fitted day.

    Returns DataFrame[date, forecast, lower, upper]. ``promo_future`` (length
    days_ahead) defaults to no promotion.
    """
    validate_horizon(days_ahead, confidence_level)
    dates = pd.date_range(model.last_date + _ONE_DAY, periods=days_ahead, freq="D")
    mean, lower, upper = _predict(model, dates, promo_future, confidence_level)
    return pd.DataFrame({"date": dates, "forecast": mean, "lower": lower, "upper": upper})


def point_forecast(
    dates: pd.DatetimeIndex | pd.Series | np.ndarray,
    values: np.ndarray | pd.Series,
    spec: ForecastSpec,
    days_ahead: int,
) -> np.ndarray:
    """Mean forecast on the revenue scale of the ``days_ahead`` days after the last date, and
    nothing else: the fit of ``fit_forecast`` without the covariance (X'X)^-1, which the
    backtests of ``analytics_ml.backtest`` do not need and which costs most of the fit.

    The mean rather than the median: on the fitting scale z = log1p(y) of the loglinear trend
    with normal errors, E[y] = exp(mu + sigma^2 / 2) - 1 (the log-normal mean; Duan's smearing
    estimator under normality), so a sum of these forecasts estimates the sum of revenue;
    sigma^2 is the mean square of the last RECENT_DAYS residuals times n / (n - rank).
    Negative points (a falling linear trend) are cut to 0, revenue's floor. No promotion is
    assumed on any day, in the past or ahead (docs/forecasting.md, "Promotions").
    """
    index, y, _ = prepare_series(dates, values, None)
    return SeriesDesign.of(index, y, days_ahead).point_forecast(spec, len(y), days_ahead)


def point_fitted(
    dates: pd.DatetimeIndex | pd.Series | np.ndarray, values: np.ndarray | pd.Series, spec: ForecastSpec
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The days of the spec's window and the in-sample means of ``point_forecast``'s fit there."""
    index, y, _ = prepare_series(dates, values, None)
    design = SeriesDesign.of(index, y, 0)
    fit = design.mean_fit(spec, len(y))
    return index[fit.start :], fit.mean(design.matrix(fit.layout, fit.start, len(y)))


@dataclass(frozen=True, eq=False)
class SeriesDesign:
    """A daily series (sorted, as ``prepare_series`` leaves it) and the calendar columns of the design
    matrices of its days and the ``days_ahead`` days after it (``weekday_dummies``, ``fourier_terms``),
    each computed once, when first used: a backtest fits every regression candidate on the first
    ``end`` days for many ``end``, and each fit and forecast takes a slice of them instead of building
    them again from dates (most of a backtest's time). The slices hold the values the functions give
    for those days, so the fits are the same to the bit."""

    dates: pd.DatetimeIndex
    """The series' days, then the ``days_ahead`` days after the last."""
    values: np.ndarray
    consecutive: bool
    _fourier: dict[int, np.ndarray] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, index: pd.DatetimeIndex, values: np.ndarray, days_ahead: int) -> SeriesDesign:
        future = pd.date_range(index[-1] + _ONE_DAY, periods=days_ahead, freq="D")
        consecutive = bool(np.all(np.diff(index.as_unit("ns").asi8) == _ONE_DAY.value))
        return cls(dates=index.append(future), values=values, consecutive=consecutive)

    @functools.cached_property
    def _nanoseconds(self) -> np.ndarray:
        return self.dates.as_unit("ns").asi8

    @functools.cached_property
    def _weekdays(self) -> np.ndarray:
        return weekday_dummies(self.dates)

    def matrix(self, layout: DesignLayout, start: int, stop: int) -> np.ndarray:
        """``layout.matrix`` (without promotions) of the days at positions start..stop-1."""
        if layout.fourier_order not in self._fourier:
            self._fourier[layout.fourier_order] = fourier_terms(self.dates, layout.fourier_order)
        calendar = (self._weekdays[start:stop], self._fourier[layout.fourier_order][start:stop])
        t = _days_after(layout.origin, self._nanoseconds[start:stop])
        return layout.assemble(t, calendar, np.zeros(stop - start))

    def point_forecast(self, spec: ForecastSpec, end: int, days_ahead: int) -> np.ndarray:
        """``point_forecast`` of the first ``end`` days of the series."""
        if end < len(self.values) and not self.consecutive:
            raise ValueError("a forecast from inside the series needs consecutive days: the next rows as next days")
        if end + days_ahead > len(self.dates):
            raise ValueError(f"the design covers {len(self.dates) - end} days after day {end}, not {days_ahead}")
        fit = self.mean_fit(spec, end)
        return fit.mean(self.matrix(fit.layout, end, end + days_ahead))

    def mean_fit(self, spec: ForecastSpec, end: int) -> _MeanFit:
        """Least-squares fit of ``spec`` to the first ``end`` days (to the last ``spec.window_days`` of them)."""
        start = 0
        if spec.window_days is not None:
            # The days after the last one's date minus window_days, as ``_last_window`` keeps them.
            threshold = self._nanoseconds[end - 1] - spec.window_days * _ONE_DAY.value
            start = int(np.searchsorted(self._nanoseconds[:end], threshold, side="right"))
        layout = _layout_for(spec, self.dates[start:end], has_promo=False)
        z = _to_fit_scale(spec.trend, self.values[start:end])
        X = self.matrix(layout, start, end)
        # The normal equations X'X beta = X'z, solved by lstsq for rank-deficient designs: on these
        # few columns it is many times faster than lstsq on X, whose threaded LAPACK call dominates.
        beta, _, rank, _ = np.linalg.lstsq(X.T @ X, X.T @ z, rcond=None)
        dof = len(z) - int(rank)
        if dof < 1:
            raise ValueError(f"{spec.label} needs more days than its {rank} coefficients, got {len(z)}")
        # The variance of the mean correction is that of the last RECENT_DAYS residuals: a store's
        # relative spread shrinks as it grows (Poisson-like counts), and the spread of its small early
        # days would inflate exp(sigma^2 / 2) far past what its current days deserve.
        recent = (z - X @ beta)[-RECENT_DAYS:]
        # n / dof: the usual correction of a mean square of least-squares residuals for the fit.
        return _MeanFit(spec, layout, start, beta, float(np.mean(recent**2)) * len(z) / dof)


@dataclass(frozen=True, eq=False)
class _MeanFit:
    """Least-squares coefficients and residual variance on the fitting scale, without (X'X)^-1,
    of a fit to the days from position ``start`` of a ``SeriesDesign``."""

    spec: ForecastSpec
    layout: DesignLayout
    start: int
    beta: np.ndarray
    sigma2: float

    def mean(self, X: np.ndarray) -> np.ndarray:
        """Mean revenue of the days of design matrix ``X`` (``point_forecast``), floored at 0."""
        z = X @ self.beta
        mean = np.expm1(z + self.sigma2 / 2.0) if self.spec.trend == "loglinear" else z
        return np.maximum(mean, 0.0)


def fitted_history(
    model: ForecastModel,
    dates: pd.DatetimeIndex | pd.Series | np.ndarray,
    values: np.ndarray | pd.Series,
    confidence_level: float = 0.8,
    promo: np.ndarray | pd.Series | None = None,
) -> pd.DataFrame:
    """Model fit and prediction band over observed days.

    Returns DataFrame[date, actual, fitted, lower, upper] sorted by date. A missing
    ``promo`` means no promotion, as in ``forecast``.
    """
    validate_confidence(confidence_level)
    index, actual, promo_values = prepare_series(dates, values, promo)
    fitted, lower, upper = _predict(model, index, promo_values, confidence_level)
    return pd.DataFrame({"date": index, "actual": actual, "fitted": fitted, "lower": lower, "upper": upper})


def trend_summary(model: ForecastModel, confidence_level: float = 0.95) -> dict:
    """Direction and growth of the fitted trend over the last 30 and 90 fitted days.

    The trend level is intercept + trend terms + the average weekday effect, with the
    yearly terms (which average zero over a year) and promo left out. ``direction`` is
    'up'/'down' when the 30-day change in that level differs from zero at
    ``confidence_level`` (t-test with se^2 = c' sigma^2 (X'X)^-1 c for the contrast c),
    else 'flat'. Growth figures are on the revenue scale:
    daily_growth_rate = (L_end / L_{end-30})^(1/30) - 1, annualised_growth_rate =
    (1 + daily)^365.25 - 1, change_last_{30,90}_days = L_end / L_{end-n} - 1; they are
    NaN when a level is not positive.
    """
    validate_confidence(confidence_level)
    dates = pd.DatetimeIndex([model.last_date - pd.Timedelta(days=n) for n in (90, 30, 0)])
    rows = _trend_level_rows(model, dates)
    change, se = _contrast_estimates(model, rows[2:] - rows[1:2])
    significant = abs(change[0]) > t_quantile(confidence_level, model.fit.dof) * se[0]
    direction = ("up" if change[0] > 0 else "down") if significant else "flat"
    level_90, level_30, level_end = _from_fit_scale(model.spec.trend, rows @ model.fit.coefficients)
    daily = _ratio(level_end, level_30) ** (1.0 / 30.0) - 1.0
    return {
        "direction": direction,
        "daily_growth_rate": daily,
        "annualised_growth_rate": (1.0 + daily) ** YEAR_DAYS - 1.0,
        "change_last_30_days": _ratio(level_end, level_30) - 1.0,
        "change_last_90_days": _ratio(level_end, level_90) - 1.0,
    }


def seasonal_patterns(model: ForecastModel, confidence_level: float = 0.95) -> pd.DataFrame:
    """Weekday and month effects with standard errors and t-based confidence bounds.

    Returns DataFrame[pattern, period, effect, std_error, lower, upper], on the fitting
    scale (currency, or log1p(revenue) ~ relative effect for the loglinear trend).
    Weekday effects are deviations from the average weekday (the Monday-baseline
    dummies centred, so they sum to zero). Month effects are the yearly Fourier curve
    at the 15th of each month of the last fitted year (deviation from the annual mean);
    rows exist only when the model has Fourier terms. Each effect is a linear contrast
    c'beta, so its variance c' sigma^2 (X'X)^-1 c is exact (the delta method for a
    linear function).
    """
    validate_confidence(confidence_level)
    tables = [_effects_table(model, "day_of_week", WEEKDAYS, _weekday_contrasts(model), confidence_level)]
    if model.layout.fourier_order:
        tables.append(_effects_table(model, "month", MONTHS, _month_contrasts(model), confidence_level))
    return pd.concat(tables, ignore_index=True)


def _days_between(start: pd.Timestamp, dates: pd.DatetimeIndex | pd.Timestamp) -> np.ndarray:
    nanoseconds = dates.as_unit("ns").asi8 if isinstance(dates, pd.DatetimeIndex) else dates.as_unit("ns").value
    return _days_after(start, nanoseconds)


def _days_after(start: pd.Timestamp, nanoseconds: np.ndarray | int) -> np.ndarray:
    # The same division as (dates - start) / _ONE_DAY, on the nanoseconds: pandas' timedelta
    # arithmetic was most of a backtest's time (docs/benchmarks.md).
    return np.asarray((nanoseconds - start.as_unit("ns").value) / _ONE_DAY.value, dtype=float)


def _last_window(
    index: pd.DatetimeIndex, y: np.ndarray, promo: np.ndarray | None, window_days: int | None
) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray | None]:
    if window_days is None:
        return index, y, promo
    keep = index > index[-1] - pd.Timedelta(days=window_days)
    return index[keep], y[keep], None if promo is None else promo[keep]


def _layout_for(spec: ForecastSpec, index: pd.DatetimeIndex, has_promo: bool) -> DesignLayout:
    span = _days_between(index[0], index[-1])
    n_knots = spec.changepoints if spec.trend == "piecewise" else 0
    covers_a_year = span + 1 >= 365
    return DesignLayout(
        trend=spec.trend,
        origin=index[0],
        last_date=index[-1],
        knots=tuple(float(span * j / (n_knots + 1)) for j in range(1, n_knots + 1)),
        fourier_order=spec.fourier_order if covers_a_year else 0,
        has_promo=has_promo,
    )


def _promo_column(layout: DesignLayout, promo: np.ndarray | pd.Series | None, n: int) -> np.ndarray:
    """The promo regressor for n rows: zeros (no promotion) when not given."""
    if promo is None:
        return np.zeros(n)
    if not layout.has_promo:
        raise ValueError("the model was fitted without a promo regressor")
    values = np.asarray(promo, dtype=float)
    if values.shape != (n,):
        raise ValueError(f"promo must have {n} values, got shape {values.shape}")
    return values


def _to_fit_scale(trend: str, values: np.ndarray) -> np.ndarray:
    return np.log1p(np.maximum(values, 0.0)) if trend == "loglinear" else values


def _from_fit_scale(trend: str, values: np.ndarray) -> np.ndarray:
    return np.expm1(values) if trend == "loglinear" else values


def _predict(
    model: ForecastModel,
    dates: pd.DatetimeIndex,
    promo: np.ndarray | pd.Series | None,
    confidence_level: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = model.layout.matrix(dates, _promo_column(model.layout, promo, len(dates)))
    # expm1 is monotone, so transforming the bounds keeps their coverage.
    return tuple(
        _from_fit_scale(model.spec.trend, part) for part in prediction_interval(model.fit, X, confidence_level)
    )


def _columns_matching(model: ForecastModel, prefixes: tuple[str, ...]) -> np.ndarray:
    return np.array([name.startswith(prefixes) for name in model.columns])


def _trend_level_rows(model: ForecastModel, dates: pd.DatetimeIndex) -> np.ndarray:
    rows = model.layout.matrix(dates, np.zeros(len(dates)))
    rows[:, _columns_matching(model, ("dow_",))] = 1.0 / 7.0
    rows[:, _columns_matching(model, ("sin_", "cos_"))] = 0.0
    return rows


def _contrast_estimates(model: ForecastModel, contrasts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Estimates C beta and their standard errors sqrt(diag(C sigma^2 (X'X)^-1 C'))."""
    variance = np.einsum("ij,jk,ik->i", contrasts, model.fit.covariance, contrasts)
    return contrasts @ model.fit.coefficients, np.sqrt(np.maximum(variance, 0.0))


def _weekday_contrasts(model: ForecastModel) -> np.ndarray:
    contrasts = np.zeros((7, len(model.columns)))
    contrasts[1:, _columns_matching(model, ("dow_",))] = np.eye(6)
    return contrasts - contrasts.mean(axis=0)


def _month_contrasts(model: ForecastModel) -> np.ndarray:
    mid_months = pd.DatetimeIndex([pd.Timestamp(model.last_date.year, month, 15) for month in range(1, 13)])
    contrasts = np.zeros((12, len(model.columns)))
    contrasts[:, _columns_matching(model, ("sin_", "cos_"))] = fourier_terms(mid_months, model.layout.fourier_order)
    return contrasts


def _effects_table(
    model: ForecastModel, pattern: str, periods: tuple[str, ...], contrasts: np.ndarray, confidence_level: float
) -> pd.DataFrame:
    effect, se = _contrast_estimates(model, contrasts)
    half_width = t_quantile(confidence_level, model.fit.dof) * se
    return pd.DataFrame(
        {
            "pattern": pattern,
            "period": list(periods),
            "effect": effect,
            "std_error": se,
            "lower": effect - half_width,
            "upper": effect + half_width,
        }
    )


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator for positive levels; NaN when growth is undefined."""
    return float(numerator / denominator) if numerator > 0 and denominator > 0 else float("nan")
