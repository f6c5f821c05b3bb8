"""Plain-language business insights from the marts and the model outputs.

Each rule is a small function from plain inputs (a mapping or a DataFrame of one mart or model
table) and :class:`InsightThresholds` to one :class:`Insight`, or to None where its figure is
undefined (stated per rule). :func:`rank_insights` orders the findings: critical before warning
before info, then by :data:`CATEGORIES`.

Severity follows two principles: a *warning* needs a change that is both material (beyond its
threshold) and, where the input carries an uncertainty, statistically significant; *critical*
is kept for states that lose money outright (LTV below CAC, a negative net margin).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

CATEGORIES = ("revenue", "forecast", "profitability", "customers", "funnel", "seasonality")
SEVERITIES = ("critical", "warning", "info")
INSIGHT_COLUMNS = ("rank", "category", "severity", "title", "detail", "metric", "value", "recommendation")

_TREND_ACTIONS = {
    "down": "Find where the fall comes from (segments, channels, products) and act on the biggest loss first.",
    "flat": "Growth has stalled: test a promotion or a new acquisition channel.",
    "up": "Keep what works and plan capacity and support for the extra demand.",
}


@dataclass(frozen=True)
class Insight:
    """One finding: what it is about, how bad, what was measured and what to do."""

    category: str
    severity: str
    title: str
    detail: str
    metric: str
    value: float | None
    """None when the finding is that the figure cannot be computed (no cost data, no marketing spend)."""
    recommendation: str

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"category={self.category!r} is not one of {CATEGORIES}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity={self.severity!r} is not one of {SEVERITIES}")


@dataclass(frozen=True)
class InsightThresholds:
    """When a finding becomes a warning (all shares and rates are fractions, 0.05 = 5%).

    revenue_decline: a significant 30-day fall of the revenue trend, or a forecast below the
        last period of the same length, by at least this share.
    at_risk_segments: the RFM segments whose customers are at risk of churning.
    at_risk_revenue_share: share of historical revenue held by those segments.
    funnel_drop_off: share of the sessions reaching a stage that do not reach the next.
    ltv_cac_healthy: the LTV/CAC ratio below which acquisition does not pay back enough.
    margin_drop: fall of the net margin, in fractions of revenue (0.05 = 5 points), of the last
        complete month against the average of the ``margin_baseline_months`` before it.
    mover_change: relative change month on month (0.3 = 30 %, either way) from which the biggest
        product mover's net revenue, or the biggest channel mover's CAC, is reported.
    """

    revenue_decline: float
    at_risk_segments: tuple[str, ...]
    at_risk_revenue_share: float
    funnel_drop_off: float
    ltv_cac_healthy: float
    margin_drop: float
    margin_baseline_months: int
    mover_change: float


def revenue_trend_insight(trend: Mapping[str, Any], thresholds: InsightThresholds) -> Insight | None:
    """Direction and growth of the fitted revenue trend (``ml.revenue_trend``).

    ``trend`` holds direction ('up', 'down', 'flat': the 30-day change tested at
    confidence_level), change_last_30_days, change_last_90_days, annualised_growth_rate and
    confidence_level. Warning when the trend is significantly down by at least
    ``revenue_decline`` over 30 days. None when the change is undefined (a trend level <= 0).
    """
    change = float(trend["change_last_30_days"])
    if math.isnan(change):
        return None
    direction = trend["direction"]
    material_fall = direction == "down" and change <= -thresholds.revenue_decline
    significance = "significant" if direction != "flat" else "not significant"
    return Insight(
        category="revenue",
        severity="warning" if material_fall else "info",
        title=f"Revenue trend is {'flat' if direction == 'flat' else f'going {direction}'}",
        detail=(
            f"The fitted trend of daily net revenue changed by {_percent(change, signed=True)} over the last 30 days "
            f"({_percent(float(trend['change_last_90_days']), signed=True)} over 90 days), "
            f"{_percent(float(trend['annualised_growth_rate']), signed=True)} a year at the current rate; "
            f"the 30-day change is {significance} at {_level(float(trend['confidence_level']))} confidence."
        ),
        metric="revenue_trend_change_30d",
        value=change,
        recommendation=_TREND_ACTIONS[direction],
    )


def revenue_forecast_insight(
    forecast: pd.DataFrame, revenue_daily: pd.DataFrame, thresholds: InsightThresholds
) -> Insight:
    """The next period's forecast revenue against the last period of the same length.

    ``forecast`` is DataFrame[date, forecast, confidence_level, total_lower, total_upper]
    (``ml.revenue_forecast``) and ``revenue_daily`` DataFrame[revenue_date, net_revenue]. The total is
    the sum of the daily forecasts; its range is the interval of the total at the table's confidence
    level (``analytics_ml.forecast``: from the errors of past totals, narrower than the sum of the
    daily bounds because daily errors partly cancel). Warning when the total is below the last
    period by at least ``revenue_decline``.
    """
    days = len(forecast)
    history = revenue_daily.sort_values("revenue_date")["net_revenue"]
    if len(history) < days:
        raise ValueError(f"revenue_daily has {len(history)} days, fewer than the {days} days forecast")
    total = float(forecast["forecast"].sum())
    level = float(forecast["confidence_level"].iloc[0])
    last_period = float(history.iloc[-days:].sum())
    change = total / last_period - 1.0 if last_period > 0 else math.nan
    return Insight(
        category="forecast",
        severity="warning" if change <= -thresholds.revenue_decline else "info",
        title=f"Next {days} days: about {_amount(total)} net revenue",
        detail=(
            f"The forecast for {_day(forecast['date'].min())} to {_day(forecast['date'].max())} adds up to "
            f"{_amount(total)} ({_percent(change, signed=True)} vs the last {days} days' {_amount(last_period)}); "
            f"with {_level(level)} confidence between {_amount(float(forecast['total_lower'].iloc[0]))} "
            f"and {_amount(float(forecast['total_upper'].iloc[0]))}."
        ),
        metric="forecast_net_revenue",
        value=total,
        recommendation=(
            "Plan a promotion or campaign now to close the expected gap."
            if change <= -thresholds.revenue_decline
            else "Use the forecast for stock, staffing and cash planning; check it against actuals weekly."
        ),
    )


def segments_at_risk_insight(segments: pd.DataFrame, thresholds: InsightThresholds) -> Insight:
    """Customers in the at-risk RFM segments and the revenue they hold (``marts.customer_segments``).

    ``segments`` is DataFrame[segment, customers, revenue, revenue_share, suggested_action].
    Warning when their revenue share reaches ``at_risk_revenue_share``. The recommendation is
    the suggested action of the at-risk segment holding the most revenue.
    """
    unknown = sorted(set(thresholds.at_risk_segments) - set(segments["segment"]))
    if unknown:
        raise ValueError(f"at-risk segments {unknown} are not among the segments {sorted(segments['segment'])}")
    at_risk = segments[segments["segment"].isin(thresholds.at_risk_segments)]
    share = float(at_risk["revenue_share"].sum())
    biggest = at_risk.loc[at_risk["revenue"].idxmax()]
    return Insight(
        category="customers",
        severity="warning" if share >= thresholds.at_risk_revenue_share else "info",
        title=f"{_percent(share)} of revenue sits with customers at risk",
        detail=(
            f"{int(at_risk['customers'].sum()):,} customers in {', '.join(thresholds.at_risk_segments)} have brought "
            f"{_amount(float(at_risk['revenue'].sum()))}, {_percent(share)} of all revenue; "
            f"{biggest['segment']} holds the most ({_amount(float(biggest['revenue']))})."
        ),
        metric="at_risk_revenue_share",
        value=share,
        recommendation=f"{biggest['segment']}: {biggest['suggested_action']}",
    )


def funnel_drop_off_insight(stages: pd.DataFrame, thresholds: InsightThresholds) -> Insight | None:
    """The funnel stage that loses the largest share of its sessions (``marts.funnel_stages``).

    ``stages`` is DataFrame[stage, stage_order, entered, drop_off_rate]; drop_off_rate is null
    for the last stage and for stages nobody entered. Warning when the worst drop-off reaches
    ``funnel_drop_off``. None when no stage has a drop-off rate.
    """
    ordered = stages.sort_values("stage_order").reset_index(drop=True)
    measured = ordered["drop_off_rate"].dropna()
    if measured.empty:
        return None
    worst = int(measured.idxmax())
    stage, next_stage = ordered.loc[worst, "stage"], ordered.loc[worst + 1, "stage"]
    rate = float(measured[worst])
    return Insight(
        category="funnel",
        severity="warning" if rate >= thresholds.funnel_drop_off else "info",
        title=f"Biggest funnel drop-off: {stage} to {next_stage}",
        detail=(
            f"{_percent(rate)} of the {int(ordered.loc[worst, 'entered']):,} sessions that reached {stage} "
            f"did not go on to {next_stage}."
        ),
        metric="funnel_drop_off_rate",
        value=rate,
        recommendation=f"Review the {stage} step (speed, clarity, errors) and A/B test a simpler version of it.",
    )


def ltv_cac_insight(kpis: Mapping[str, Any], thresholds: InsightThresholds) -> Insight | None:
    """Lifetime value against acquisition cost, cohort against cohort (``marts.kpi_summary``).

    ``kpis`` holds ltv_to_cac and ltv_to_cac_prior, ltv_horizon_days, ltv_cohort_month,
    cohort_ltv and cohort_cac: the contribution per customer of the latest cohort month old
    enough for the horizon, within that many days of each first order, and the CAC of the same
    month. Critical below 1 (a customer costs more than they bring), warning below
    ``ltv_cac_healthy``. When that cohort's month had no marketing spend the finding says so (a
    customer is not free for it); None when the ratio is undefined otherwise (no cohort old
    enough, no cost data: the margin rule says that).
    """
    ratio = _number(kpis["ltv_to_cac"])
    if math.isnan(ratio):
        has_cohort = kpis["ltv_cohort_month"] is not None and not pd.isna(kpis["ltv_cohort_month"])
        return _no_marketing_spend_insight() if has_cohort and math.isnan(_number(kpis["cohort_cac"])) else None
    if ratio < 1.0:
        severity = "critical"
        recommendation = "Cut the channels with the highest CAC now and raise retention before spending more."
    elif ratio < thresholds.ltv_cac_healthy:
        severity = "warning"
        recommendation = "Shift budget to the cheapest channels and raise repeat purchases to lift LTV."
    else:
        severity = "info"
        recommendation = "Acquisition pays back well: there is room to spend more on the best channels."
    cohort, horizon = pd.Timestamp(kpis["ltv_cohort_month"]), int(kpis["ltv_horizon_days"])
    return Insight(
        category="profitability",
        severity=severity,
        title=(
            f"{horizon}-day LTV/CAC of the {cohort:%B %Y} cohort is {ratio:.1f} "
            f"(healthy: {thresholds.ltv_cac_healthy:g} or more)"
        ),
        detail=(
            f"Customers acquired in {cohort:%B %Y} brought {_amount(_number(kpis['cohort_ltv']))} each in contribution "
            f"(net revenue less costs of revenue) in their first {horizon} days, against an acquisition cost of "
            f"{_amount(_number(kpis['cohort_cac']))}; the cohort before: {_ratio(_number(kpis['ltv_to_cac_prior']))}."
        ),
        metric="ltv_to_cac",
        value=ratio,
        recommendation=recommendation,
    )


def _no_marketing_spend_insight() -> Insight:
    return Insight(
        category="profitability",
        severity="info",
        title="No marketing spend: no CAC or LTV/CAC",
        detail="No marketing spend was loaded for the cohort's month, so what a new customer costs is unknown (not 0).",
        metric="ltv_to_cac",
        value=None,
        recommendation="Load the marketing spend by channel (source table marketing_spend) to judge acquisition.",
    )


def _no_cost_data_insight(last_month: pd.Timestamp) -> Insight:
    return Insight(
        category="profitability",
        severity="info",
        title="No cost data: margins unknown",
        detail=(
            f"No operating cost was loaded for any complete month up to {last_month:%B %Y}, so gross and net "
            "margins are not computed rather than shown as 100%."
        ),
        metric="net_margin",
        value=None,
        recommendation="Load the store's operating costs (source table costs) to see margins and profit.",
    )


def margin_trend_insight(
    roi_monthly: pd.DataFrame, reference_date: pd.Timestamp, thresholds: InsightThresholds
) -> Insight | None:
    """Net margin of the last complete month against the months before (``marts.roi_monthly``).

    ``roi_monthly`` is DataFrame[roi_month, net_margin, has_cost_data]; a month is complete when
    its last day is on or before ``reference_date``. Critical when the last margin is negative,
    warning when it is at least ``margin_drop`` below the average of the
    ``margin_baseline_months`` complete months before it. When no complete month has cost data
    the finding says so (a margin without costs would read 100%); None with fewer than two
    complete months that have a margin otherwise.
    """
    months = roi_monthly.assign(roi_month=pd.to_datetime(roi_monthly["roi_month"])).sort_values("roi_month")
    complete = months[months["roi_month"] + pd.offsets.MonthEnd(0) <= pd.Timestamp(reference_date)]
    if not complete.empty and not complete["has_cost_data"].any():
        return _no_cost_data_insight(complete["roi_month"].iloc[-1])
    margins = complete.dropna(subset=["net_margin"])
    if len(margins) < 2:
        return None
    last = margins.iloc[-1]
    baseline = margins.iloc[-1 - thresholds.margin_baseline_months : -1]["net_margin"]
    margin, change = float(last["net_margin"]), float(last["net_margin"] - baseline.mean())
    if margin < 0:
        severity, recommendation = "critical", "The business lost money last month: review the largest cost lines."
    elif change <= -thresholds.margin_drop:
        severity, recommendation = "warning", "Find the cost lines that grew faster than revenue and renegotiate them."
    else:
        severity, recommendation = "info", "Margins hold: keep watching the cost lines that grow with revenue."
    return Insight(
        category="profitability",
        severity=severity,
        title=f"Net margin {_percent(margin)} in {last['roi_month']:%B %Y}",
        detail=(
            f"Net margin was {_percent(margin)} in {last['roi_month']:%B %Y}, {_points(change)} the average "
            f"of the {len(baseline)} month(s) before ({_percent(float(baseline.mean()))})."
        ),
        metric="net_margin",
        value=margin,
        recommendation=recommendation,
    )


def product_mover_insight(kpis: Mapping[str, Any], thresholds: InsightThresholds) -> Insight | None:
    """The product whose net revenue moved the most money in the last complete month
    (``marts.kpi_summary``: mover_month, product_mover, product_mover_growth).

    A fall by at least ``mover_change`` is a warning, a rise by as much is info; None when there is
    no mover or its change is smaller.
    """
    growth = _number(kpis["product_mover_growth"])
    if math.isnan(growth) or abs(growth) < thresholds.mover_change:
        return None
    product, month = kpis["product_mover"], pd.Timestamp(kpis["mover_month"])
    fell = growth < 0
    return Insight(
        category="revenue",
        severity="warning" if fell else "info",
        title=f"Product {product} {'fell' if fell else 'rose'} {_percent(abs(growth))} month on month",
        detail=(
            f"Net revenue of {product} changed by {_percent(growth, signed=True)} in {month:%B %Y} against the month "
            "before: of the products that sold the month before, it moved the most money."
        ),
        metric="product_mover_growth",
        value=growth,
        recommendation=(
            f"Check what changed for {product} (price, stock, a campaign that ended, refunds) and act on it."
            if fell
            else f"Find what lifted {product} and do more of it; check stock and capacity for it."
        ),
    )


def channel_cac_mover_insight(kpis: Mapping[str, Any], thresholds: InsightThresholds) -> Insight | None:
    """The acquisition channel whose CAC changed the most in the last complete month
    (``marts.kpi_summary``: mover_month, channel_cac_mover, channel_cac_mover_change).

    A rise by at least ``mover_change`` is a warning (customers got dearer), a fall by as much is
    info; None when there is no mover or its change is smaller.
    """
    change = _number(kpis["channel_cac_mover_change"])
    if math.isnan(change) or abs(change) < thresholds.mover_change:
        return None
    channel, month = kpis["channel_cac_mover"], pd.Timestamp(kpis["mover_month"])
    rose = change > 0
    return Insight(
        category="profitability",
        severity="warning" if rose else "info",
        title=f"Channel {channel}'s CAC {'rose' if rose else 'fell'} {_percent(abs(change))} (×{change + 1:.1f})",
        detail=(
            f"What a new customer from {channel} cost changed by {_percent(change, signed=True)} in {month:%B %Y} "
            "against the month before, the largest change of any channel."
        ),
        metric="channel_cac_mover_change",
        value=change,
        recommendation=(
            f"Review the {channel} campaigns and move budget to channels with a lower CAC until it recovers."
            if rose
            else f"{channel} acquires customers more cheaply now: test a larger budget there."
        ),
    )


def weekday_pattern_insight(patterns: pd.DataFrame) -> Insight | None:
    """The strongest and weakest weekday (``ml.seasonal_patterns`` rows with pattern 'day_of_week')."""
    return _peak_period_insight(patterns, "day_of_week", "weekday_effect", noun="day", preposition="on")


def month_pattern_insight(patterns: pd.DataFrame) -> Insight | None:
    """The strongest and weakest month (``ml.seasonal_patterns`` rows with pattern 'month')."""
    return _peak_period_insight(patterns, "month", "month_effect", noun="month", preposition="in")


@dataclass(frozen=True, eq=False)
class InsightInputs:
    """The tables the rules read, each in the shape its rule documents."""

    trend: Mapping[str, Any]
    forecast: pd.DataFrame
    revenue_daily: pd.DataFrame
    segments: pd.DataFrame
    funnel_stages: pd.DataFrame
    kpis: Mapping[str, Any]
    roi_monthly: pd.DataFrame
    seasonal_patterns: pd.DataFrame


def evaluate_rules(inputs: InsightInputs, thresholds: InsightThresholds) -> dict[str, Insight | None]:
    """Every rule on its inputs, by rule name; None where the rule's figure is undefined.

    ``kpis`` also gives the reference date that decides which months are complete, and the
    forecast's confidence_level column the level of its bounds.
    """
    return {
        "revenue_trend": revenue_trend_insight(inputs.trend, thresholds),
        "revenue_forecast": revenue_forecast_insight(inputs.forecast, inputs.revenue_daily, thresholds),
        "segments_at_risk": segments_at_risk_insight(inputs.segments, thresholds),
        "funnel_drop_off": funnel_drop_off_insight(inputs.funnel_stages, thresholds),
        "ltv_cac": ltv_cac_insight(inputs.kpis, thresholds),
        "margin_trend": margin_trend_insight(inputs.roi_monthly, inputs.kpis["reference_date"], thresholds),
        "product_mover": product_mover_insight(inputs.kpis, thresholds),
        "channel_cac_mover": channel_cac_mover_insight(inputs.kpis, thresholds),
        "weekday_pattern": weekday_pattern_insight(inputs.seasonal_patterns),
        "month_pattern": month_pattern_insight(inputs.seasonal_patterns),
    }


def rank_insights(insights: Iterable[Insight]) -> pd.DataFrame:
    """DataFrame[INSIGHT_COLUMNS]: critical first, then warning, then info; within a severity
    in the order of :data:`CATEGORIES`; rank counts from 1."""
    rows = sorted(insights, key=lambda item: (SEVERITIES.index(item.severity), CATEGORIES.index(item.category)))
    frame = pd.DataFrame([asdict(item) for item in rows], columns=list(INSIGHT_COLUMNS[1:]))
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame


def _peak_period_insight(
    patterns: pd.DataFrame, pattern: str, metric: str, *, noun: str, preposition: str
) -> Insight | None:
    """Peak and trough of one seasonal pattern; None when the pattern has no rows or its peak is
    not significantly above average (the lower bound of its effect is not above 0).

    ``patterns`` is DataFrame[pattern, period, effect, lower, upper, unit]; unit 'currency'
    means effects in currency a day, 'log_revenue' effects on log1p(revenue), shown as percent.
    """
    rows = patterns[patterns["pattern"] == pattern].reset_index(drop=True)
    if rows.empty:
        return None
    peak, trough = rows.loc[rows["effect"].idxmax()], rows.loc[rows["effect"].idxmin()]
    if not peak["lower"] > 0:
        return None
    return Insight(
        category="seasonality",
        severity="info",
        title=f"{peak['period']} is the strongest {noun}, {trough['period']} the weakest",
        detail=(
            f"Daily revenue is {_effect(peak)} {preposition} {peak['period']} and {_effect(trough)} "
            f"{preposition} {trough['period']} against the average {noun}."
        ),
        metric=metric,
        value=float(peak["effect"]),
        recommendation=(
            f"Time campaigns and stock for {peak['period']}; use {trough['period']} for maintenance "
            "and for offers that lift a quiet period."
        ),
    )


def _effect(row: pd.Series) -> str:
    effect = float(row["effect"])
    if row["unit"] == "log_revenue":
        return _percent(math.expm1(effect), signed=True)
    return f"{'+' if effect >= 0 else '-'}{_amount(abs(effect))} a day"


def _number(value: Any) -> float:
    """A KPI as float, NaN for SQL null (None or pandas NA)."""
    return math.nan if value is None or pd.isna(value) else float(value)


def _percent(value: float, signed: bool = False) -> str:
    return "n/a" if math.isnan(value) else f"{value:{'+' if signed else ''}.1%}"


def _ratio(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f}"


def _points(change: float) -> str:
    return f"{abs(change) * 100:.1f} points {'above' if change >= 0 else 'below'}"


def _level(confidence_level: float) -> str:
    return f"{confidence_level * 100:g}%"


def _amount(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.0f}"


def _day(value: Any) -> str:
    return pd.Timestamp(value).date().isoformat()
