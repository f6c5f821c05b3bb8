"""Alert rules: the days, funnel steps and customer figures that need someone's attention now.

Each rule is a plain function from mart or model tables (pandas frames) and its thresholds to a
:class:`RuleResult`: the subjects it judged (a day, a day's funnel step, a customer figure), the
alerts among them, and the subjects it could not judge with the reason. A subject judged without an
alert is how the caller learns that an open alert has resolved, so a rule lists every subject it
judged.

An alert needs a change that is both *material* (beyond a relative threshold) and *unusual for this
store* (beyond its day-to-day noise: the forecast's prediction band, k standard deviations of the
trailing days), as :mod:`analytics_ml.insights` asks of a warning. Either test alone fires on
ordinary days: a 95% band is crossed by one normal day in forty, and a small store's revenue halves
on a quiet day.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics_ml.insights import SEVERITIES

REVENUE_DROP = "revenue_drop"
CONVERSION_DROP = "conversion_drop"
UNUSUAL_PATTERN = "unusual_pattern"
CHURN_RISK = "churn_risk"
RUN_FAILURE = "run_failure"
RULES = (REVENUE_DROP, CONVERSION_DROP, UNUSUAL_PATTERN, CHURN_RISK, RUN_FAILURE)

PAYMENT_SUCCESS = "payment_success"
"""The step of :func:`payment_success_rates`: paid orders out of paid and failed ones."""
MAD_TO_STD = 1.4826
"""Scale of the median absolute deviation that estimates a normal distribution's standard deviation."""
MIN_HISTORY_POINTS = 7
"""Fewest past values a trailing mean or median is taken over; fewer give no usable spread."""


@dataclass(frozen=True)
class Alert:
    """One fired alert: which rule, how bad, what it concerns and the figures behind it.

    ``threshold`` is the value the observation crossed (the alert fires below it, or above it for a
    spike); ``expected`` is what the store usually does (None where a rule has no baseline).
    """

    rule: str
    severity: str
    subject: str
    alert_date: dt.date | None
    metric: str
    observed: float
    expected: float | None
    threshold: float
    message: str

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"rule={self.rule!r} is not one of {RULES}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity={self.severity!r} is not one of {SEVERITIES}")

    @property
    def key(self) -> str:
        """The deduplication key: one alert per rule and subject, however often it is evaluated."""
        return alert_key(self.rule, self.subject)


@dataclass(frozen=True)
class RuleResult:
    """What one rule made of the data: the subjects judged, the alerts among them, the subjects left
    out (``"<subject>: <reason>"``)."""

    rule: str
    judged: tuple[str, ...]
    alerts: tuple[Alert, ...]
    not_judged: tuple[str, ...] = ()

    @property
    def judged_keys(self) -> frozenset[str]:
        """Keys of every judged subject: the open alerts among them that did not fire again have resolved."""
        return frozenset(alert_key(self.rule, subject) for subject in self.judged)


def alert_key(rule: str, subject: str) -> str:
    """``<rule>:<subject>``, e.g. ``revenue_drop:2025-03-27``."""
    return f"{rule}:{subject}"


# ---------------------------------------------------------------------------------------------
# Which days to judge


def days_to_check(
    settlement: pd.DataFrame, lookback_days: int, max_pending_share: float
) -> tuple[list[dt.date], list[str]]:
    """The last ``lookback_days`` days whose payments have settled, and a note for each one left out.

    ``settlement`` is DataFrame[day, attempted_orders, pending_orders], one row a day. A pending
    payment counts neither as revenue nor as a failure, so a day whose orders are still settling
    looks like a drop that the next refresh takes back: it is judged once at most
    ``max_pending_share`` of its orders are pending. The look-back keeps it in view until then, and
    judging a day again never fires twice (the key is the rule and the day).
    """
    latest = settlement.sort_values("day").tail(lookback_days)
    pending_share = latest["pending_orders"] / latest["attempted_orders"].where(latest["attempted_orders"] > 0)
    settled = pending_share.fillna(0.0) <= max_pending_share
    days = [_date(day) for day in latest.loc[settled, "day"]]
    notes = [
        f"{_date(day)}: {share:.0%} of its orders still pending"
        for day, share in zip(latest.loc[~settled, "day"], pending_share[~settled], strict=True)
    ]
    return days, notes


# ---------------------------------------------------------------------------------------------
# Revenue drop


@dataclass(frozen=True)
class RevenueDropThresholds:
    """drop: share below the average of the same weekday in the ``baseline_weeks`` weeks before
    (0.3 = 30%) that, together with revenue below the forecast model's prediction band, is a drop."""

    drop: float
    baseline_weeks: int
    severity: str


def same_weekday_average(values: pd.Series, weeks: int) -> pd.Series:
    """Mean of the values 7, 14, …, 7·``weeks`` days before each day (NaN without that history).

    ``values`` is indexed by consecutive days. Comparing a day with the same weekday takes the
    weekly pattern out: a quiet Sunday is judged against Sundays.
    """
    return sum(values.shift(7 * week) for week in range(1, weeks + 1)) / weeks


def revenue_drop_alerts(
    revenue: pd.DataFrame, days: Sequence[dt.date], confidence_level: float, thresholds: RevenueDropThresholds
) -> RuleResult:
    """A day whose net revenue is more than ``drop`` below its same-weekday average *and* below the
    lower bound of the forecast model's ``confidence_level`` prediction band for that day.

    ``revenue`` is DataFrame[date, net_revenue, lower], one row per consecutive day, ``lower`` the
    band's lower bound (the model accounts for trend, season and promotions, so a day after a sale
    is not a drop just because the sale lifted the average). A day without the full baseline, or
    whose baseline is 0, is not judged; a judged day without a band is an error.
    """
    daily = _consecutive_days(revenue, "date")
    average = same_weekday_average(daily["net_revenue"], thresholds.baseline_weeks)
    judged, alerts, not_judged = [], [], []
    for day in days:
        observed, baseline, lower = (
            float(daily.at[pd.Timestamp(day), "net_revenue"]),
            float(average[pd.Timestamp(day)]),
            float(daily.at[pd.Timestamp(day), "lower"]),
        )
        if not baseline > 0:
            not_judged.append(f"{day}: no revenue on the {thresholds.baseline_weeks} previous {_weekday(day)}s")
            continue
        if math.isnan(lower):
            raise ValueError(f"no forecast band for {day}: the model's fitted history must cover the days checked")
        judged.append(day.isoformat())
        drop = 1.0 - observed / baseline
        threshold = min(lower, (1.0 - thresholds.drop) * baseline)
        if observed < threshold:
            alerts.append(
                Alert(
                    rule=REVENUE_DROP,
                    severity=thresholds.severity,
                    subject=day.isoformat(),
                    alert_date=day,
                    metric="net_revenue",
                    observed=observed,
                    expected=baseline,
                    threshold=threshold,
                    message=(
                        f"Net revenue on {_weekday(day)} {day} was {observed:,.0f}, {drop:.0%} below the average of "
                        f"the {thresholds.baseline_weeks} previous {_weekday(day)}s ({baseline:,.0f}) and below the "
                        f"forecast model's {confidence_level:.0%} band (lower bound {lower:,.0f})."
                    ),
                )
            )
    return RuleResult(REVENUE_DROP, tuple(judged), tuple(alerts), tuple(not_judged))


# ---------------------------------------------------------------------------------------------
# Conversion drop


@dataclass(frozen=True)
class ConversionDropThresholds:
    """A daily rate drops when it is more than ``std_devs`` standard deviations *and* ``drop``
    (relative, 0.2 = 20%) below its mean over the ``baseline_days`` days before. Days with fewer
    than ``min_trials`` sessions at the stage (or payment attempts) are too noisy to judge or to
    count in a baseline."""

    std_devs: float
    drop: float
    baseline_days: int
    min_trials: int
    severity: str


def funnel_step_rates(funnel_daily: pd.DataFrame) -> pd.DataFrame:
    """DataFrame[day, step, trials, rate] of every funnel step ``<stage>→<next stage>`` a day.

    ``funnel_daily`` is DataFrame[day, stage, stage_order, entered, conversion_rate]
    (``marts.funnel_daily``): trials are the sessions that entered the stage, the rate the share of
    them that entered the next. The last stage has no next one and no rate.
    """
    stages = funnel_daily[["stage", "stage_order"]].drop_duplicates().sort_values("stage_order")
    next_stage = dict(zip(stages["stage"], stages["stage"].shift(-1), strict=True))
    steps = funnel_daily[funnel_daily["stage"].map(next_stage).notna()]
    return pd.DataFrame(
        {
            "day": steps["day"],
            "step": steps["stage"] + "→" + steps["stage"].map(next_stage),
            "trials": steps["entered"],
            "rate": steps["conversion_rate"],
        }
    )


def payment_success_rates(revenue_daily: pd.DataFrame) -> pd.DataFrame:
    """DataFrame[day, step, trials, rate]: each day's paid orders out of its paid and failed ones
    (``kpi_summary.payment_success_rate``, by day), step :data:`PAYMENT_SUCCESS`.

    ``revenue_daily`` is DataFrame[day, orders, failed_orders]. Pending payments count in neither.
    """
    trials = revenue_daily["orders"] + revenue_daily["failed_orders"]
    return pd.DataFrame(
        {
            "day": revenue_daily["day"],
            "step": PAYMENT_SUCCESS,
            "trials": trials,
            "rate": revenue_daily["orders"] / trials.where(trials > 0),
        }
    )


def conversion_drop_alerts(
    rates: pd.DataFrame, days: Sequence[dt.date], thresholds: ConversionDropThresholds
) -> RuleResult:
    """A step's daily rate below ``min(mean − std_devs·sd, (1 − drop)·mean)`` of its trailing days.

    ``rates`` is DataFrame[day, step, trials, rate] (:func:`funnel_step_rates`,
    :func:`payment_success_rates`). mean and sd (sample standard deviation) are over the step's
    days in the ``baseline_days`` before the day that have at least ``min_trials`` trials; a step
    and day is not judged with fewer trials, or with fewer than :data:`MIN_HISTORY_POINTS` such
    baseline days. Subjects are ``<day>/<step>``.
    """
    judged, alerts, not_judged = [], [], []
    usable = rates[rates["trials"] >= thresholds.min_trials].assign(day=lambda frame: pd.to_datetime(frame["day"]))
    for step in rates["step"].drop_duplicates():
        series = usable[usable["step"] == step].set_index("day").sort_index()
        for day in days:
            subject = f"{day}/{step}"
            stamp = pd.Timestamp(day)
            history = series.loc[stamp - pd.Timedelta(days=thresholds.baseline_days) : stamp - pd.Timedelta(days=1)]
            if stamp not in series.index:
                not_judged.append(f"{subject}: fewer than {thresholds.min_trials} trials")
                continue
            if len(history) < MIN_HISTORY_POINTS:
                not_judged.append(f"{subject}: {len(history)} usable days in the {thresholds.baseline_days} before")
                continue
            judged.append(subject)
            observed, trials = float(series.at[stamp, "rate"]), int(series.at[stamp, "trials"])
            mean, sd = float(history["rate"].mean()), float(history["rate"].std(ddof=1))
            threshold = min(mean - thresholds.std_devs * sd, (1.0 - thresholds.drop) * mean)
            if observed < threshold:
                alerts.append(
                    Alert(
                        rule=CONVERSION_DROP,
                        severity=thresholds.severity,
                        subject=subject,
                        alert_date=day,
                        metric=f"{step} rate",
                        observed=observed,
                        expected=mean,
                        threshold=threshold,
                        message=(
                            f"{_step_label(step)} on {day} was {observed:.1%} of {trials:,}, "
                            f"{1.0 - observed / mean:.0%} below its mean of {mean:.1%} over the "
                            f"{thresholds.baseline_days} days before "
                            f"({(mean - observed) / sd:.1f} standard deviations)."
                        ),
                    )
                )
    return RuleResult(CONVERSION_DROP, tuple(judged), tuple(alerts), tuple(not_judged))


# ---------------------------------------------------------------------------------------------
# Unusual pattern


@dataclass(frozen=True)
class UnusualPatternThresholds:
    """A day is unusual when its robust z-score reaches ``robust_z`` against the ``window_days``
    days before it; values are first divided by their same-weekday average over ``baseline_weeks``."""

    robust_z: float
    window_days: int
    baseline_weeks: int
    severity: str


UNUSUAL_METRICS = {"net_revenue": "net revenue", "orders": "paid orders"}
"""Metrics of revenue_daily that :func:`unusual_pattern_alerts` watches, with their wording."""


def robust_z_scores(values: pd.Series, window_days: int) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Robust z-score of each value against the finite values of the ``window_days`` before it.

    z = (x − median) / (1.4826 · MAD): median and median absolute deviation stay put when a few past
    days are themselves outliers, where a mean and standard deviation would not. Returns z, the
    median and the scale (1.4826 · MAD), NaN where fewer than :data:`MIN_HISTORY_POINTS` finite
    values precede or they do not vary. ``values`` is indexed by consecutive days.
    """
    history = values.replace([np.inf, -np.inf], np.nan).shift(1).rolling(window_days, min_periods=MIN_HISTORY_POINTS)
    median = history.median()
    scale = MAD_TO_STD * history.apply(lambda window: np.nanmedian(np.abs(window - np.nanmedian(window))), raw=True)
    scale = scale.where(scale > 0)
    with np.errstate(invalid="ignore"):
        return (values - median) / scale, median, scale


def unusual_pattern_alerts(
    daily: pd.DataFrame, days: Sequence[dt.date], thresholds: UnusualPatternThresholds
) -> RuleResult:
    """A day whose paid orders are unusually high or low, or whose net revenue is unusually high.

    ``daily`` is DataFrame[date, net_revenue, orders], one row per consecutive day. Each metric is
    taken as log(value / same-weekday average), which removes the weekly pattern and the trend, and
    scored by :func:`robust_z_scores`. Revenue falls are left to :func:`revenue_drop_alerts`, so
    one lost day raises one alert, not two. Subjects are ``<day>/<metric>``.
    """
    frame = _consecutive_days(daily, "date")
    judged, alerts, not_judged = [], [], []
    for metric, wording in UNUSUAL_METRICS.items():
        baseline = same_weekday_average(frame[metric], thresholds.baseline_weeks)
        with np.errstate(divide="ignore"):
            log_ratio = np.log(frame[metric] / baseline.where(baseline > 0))
        z, median, scale = robust_z_scores(log_ratio, thresholds.window_days)
        for day in days:
            stamp, subject = pd.Timestamp(day), f"{day}/{metric}"
            if math.isnan(z[stamp]):
                not_judged.append(f"{subject}: no same-weekday average or too little varied history")
                continue
            judged.append(subject)
            score = float(z[stamp])
            if score >= thresholds.robust_z or (metric != "net_revenue" and score <= -thresholds.robust_z):
                direction = 1.0 if score > 0 else -1.0
                expected = float(baseline[stamp] * math.exp(median[stamp]))
                observed = float(frame.at[stamp, metric])
                alerts.append(
                    Alert(
                        rule=UNUSUAL_PATTERN,
                        severity=thresholds.severity,
                        subject=subject,
                        alert_date=day,
                        metric=metric,
                        observed=observed,
                        expected=expected,
                        threshold=float(
                            baseline[stamp] * math.exp(median[stamp] + direction * thresholds.robust_z * scale[stamp])
                        ),
                        message=(
                            f"{wording.capitalize()} on {_weekday(day)} {day} was {observed:,.0f} against about "
                            f"{expected:,.0f} usual for the day: unusually {'high' if score > 0 else 'low'} "
                            f"(robust z-score {score:+.1f} over the {thresholds.window_days} days before)."
                        ),
                    )
                )
    return RuleResult(UNUSUAL_PATTERN, tuple(judged), tuple(alerts), tuple(not_judged))


# ---------------------------------------------------------------------------------------------
# Churn risk


@dataclass(frozen=True)
class ChurnRiskThresholds:
    """segment_revenue_share: share of all revenue held by the RFM ``segments`` (the customers at
    risk) that alerts; customer_share: share of scored customers whose model churn probability is
    at least ``churn_probability`` that alerts."""

    segments: tuple[str, ...]
    segment_revenue_share: float
    churn_probability: float
    customer_share: float
    severity: str


@dataclass(frozen=True)
class AlertThresholds:
    """Every rule's thresholds, and which days the daily rules judge: the last ``lookback_days``
    whose share of pending orders is at most ``max_pending_share`` (:func:`days_to_check`)."""

    lookback_days: int
    max_pending_share: float
    revenue_drop: RevenueDropThresholds
    conversion_drop: ConversionDropThresholds
    unusual_pattern: UnusualPatternThresholds
    churn_risk: ChurnRiskThresholds
    run_failure_severity: str


AT_RISK_SEGMENTS = "at_risk_segments"
LIKELY_CHURNED = "likely_churned_customers"


def churn_risk_alerts(
    segments: pd.DataFrame, churn_probability: pd.Series, reference_date: dt.date, thresholds: ChurnRiskThresholds
) -> RuleResult:
    """The revenue share of the at-risk segments, and the share of likely churned customers, at or
    above their thresholds.

    ``segments`` is DataFrame[segment, customers, revenue] (``marts.customer_segments``),
    ``churn_probability`` one value per scored customer (``ml.customer_scores``). Both figures are
    states, not days: the subjects are :data:`AT_RISK_SEGMENTS` and :data:`LIKELY_CHURNED`, so an
    alert fires once when its figure rises past the threshold and resolves when it falls back.
    """
    unknown = sorted(set(thresholds.segments) - set(segments["segment"]))
    if unknown:
        raise ValueError(f"churn segments {unknown} are not among the segments {sorted(segments['segment'])}")
    judged, alerts, not_judged = [], [], []
    at_risk = segments[segments["segment"].isin(thresholds.segments)]
    total_revenue = float(segments["revenue"].sum())
    if total_revenue > 0:
        judged.append(AT_RISK_SEGMENTS)
        share = float(at_risk["revenue"].sum()) / total_revenue
        if share >= thresholds.segment_revenue_share:
            alerts.append(
                Alert(
                    rule=CHURN_RISK,
                    severity=thresholds.severity,
                    subject=AT_RISK_SEGMENTS,
                    alert_date=None,
                    metric="at_risk_revenue_share",
                    observed=share,
                    expected=None,
                    threshold=thresholds.segment_revenue_share,
                    message=(
                        f"{share:.1%} of all revenue sits with the {int(at_risk['customers'].sum()):,} customers in "
                        f"{', '.join(thresholds.segments)} as of {reference_date} "
                        f"(alert from {thresholds.segment_revenue_share:.0%})."
                    ),
                )
            )
    else:
        not_judged.append(f"{AT_RISK_SEGMENTS}: no revenue")
    if len(churn_probability):
        judged.append(LIKELY_CHURNED)
        likely = int((churn_probability >= thresholds.churn_probability).sum())
        share = likely / len(churn_probability)
        if share >= thresholds.customer_share:
            alerts.append(
                Alert(
                    rule=CHURN_RISK,
                    severity=thresholds.severity,
                    subject=LIKELY_CHURNED,
                    alert_date=None,
                    metric="likely_churned_share",
                    observed=share,
                    expected=None,
                    threshold=thresholds.customer_share,
                    message=(
                        f"{likely:,} of {len(churn_probability):,} customers ({share:.1%}) have a churn probability "
                        f"of {thresholds.churn_probability:.0%} or more as of {reference_date} "
                        f"(alert from {thresholds.customer_share:.0%})."
                    ),
                )
            )
    else:
        not_judged.append(f"{LIKELY_CHURNED}: no scored customer")
    return RuleResult(CHURN_RISK, tuple(judged), tuple(alerts), tuple(not_judged))


# ---------------------------------------------------------------------------------------------
# Helpers


def _consecutive_days(frame: pd.DataFrame, date_column: str) -> pd.DataFrame:
    """``frame`` indexed by day, checked to hold every day from its first to its last once."""
    indexed = frame.assign(**{date_column: pd.to_datetime(frame[date_column])}).set_index(date_column).sort_index()
    expected = pd.date_range(indexed.index.min(), indexed.index.max(), freq="D")
    if len(indexed) != len(expected) or not indexed.index.equals(expected):
        raise ValueError(f"the daily table must hold each day from {expected[0].date()} to {expected[-1].date()} once")
    return indexed


def _date(value: object) -> dt.date:
    return pd.Timestamp(value).date()


def _weekday(day: dt.date) -> str:
    return day.strftime("%A")


def _step_label(step: str) -> str:
    return "Payment success" if step == PAYMENT_SUCCESS else f"Conversion {step}"
