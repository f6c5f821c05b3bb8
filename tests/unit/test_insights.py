"""The insight rules of analytics_ml.insights on small hand-made inputs."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace

import pandas as pd
import pytest

from analytics_ml.insights import (
    Insight,
    InsightThresholds,
    channel_cac_mover_insight,
    funnel_drop_off_insight,
    ltv_cac_insight,
    margin_trend_insight,
    month_pattern_insight,
    product_mover_insight,
    rank_insights,
    revenue_forecast_insight,
    revenue_trend_insight,
    segments_at_risk_insight,
    weekday_pattern_insight,
)

THRESHOLDS = InsightThresholds(
    revenue_decline=0.05,
    at_risk_segments=("At Risk", "Cannot Lose Them"),
    at_risk_revenue_share=0.2,
    funnel_drop_off=0.5,
    ltv_cac_healthy=3.0,
    margin_drop=0.05,
    margin_baseline_months=3,
    mover_change=0.3,
)


# --- revenue trend --------------------------------------------------------------------------


def trend(direction: str, change_30: float) -> dict[str, object]:
    return {
        "direction": direction,
        "change_last_30_days": change_30,
        "change_last_90_days": 2 * change_30,
        "annualised_growth_rate": 0.5,
        "confidence_level": 0.95,
    }


def test_a_significant_and_material_fall_of_the_trend_is_a_warning():
    insight = revenue_trend_insight(trend("down", -0.08), THRESHOLDS)

    assert (insight.category, insight.severity) == ("revenue", "warning")
    assert (insight.metric, insight.value) == ("revenue_trend_change_30d", -0.08)
    assert "-8.0% over the last 30 days" in insight.detail


def test_a_fall_that_is_not_significant_or_too_small_is_only_info():
    # -8% but 'flat': the test could not tell it from zero. -3%: significant but below the 5% threshold.
    assert revenue_trend_insight(trend("flat", -0.08), THRESHOLDS).severity == "info"
    assert revenue_trend_insight(trend("down", -0.03), THRESHOLDS).severity == "info"


def test_an_undefined_trend_change_gives_no_insight():
    assert revenue_trend_insight(trend("flat", math.nan), THRESHOLDS) is None


# --- revenue forecast -----------------------------------------------------------------------


def forecast_frame(values: list[float]) -> pd.DataFrame:
    dates = pd.date_range("2025-04-01", periods=len(values), freq="D")
    return pd.DataFrame(
        {
            "date": dates,
            "forecast": values,
            "confidence_level": 0.9,
            # The interval of the total, as ml.revenue_forecast repeats it on every row.
            "total_lower": sum(values) - 20,
            "total_upper": sum(values) + 25,
        }
    )


def revenue_frame(values: list[float]) -> pd.DataFrame:
    dates = pd.date_range(end="2025-03-31", periods=len(values), freq="D")
    return pd.DataFrame({"revenue_date": dates, "net_revenue": values})


def test_a_forecast_below_the_last_period_by_the_threshold_is_a_warning():
    # Next 3 days: 100 each = 300; last 3 days: 150 + 120 + 130 = 400, so -25% (the 4th day back is ignored).
    insight = revenue_forecast_insight(forecast_frame([100, 100, 100]), revenue_frame([999, 150, 120, 130]), THRESHOLDS)

    assert (insight.category, insight.severity) == ("forecast", "warning")
    assert (insight.metric, insight.value) == ("forecast_net_revenue", 300)
    # The total's own interval, 300 - 20 to 300 + 25, at the table's confidence level.
    assert "-25.0% vs the last 3 days' 400" in insight.detail
    assert "with 90% confidence between 280 and 325" in insight.detail


def test_a_forecast_close_to_the_last_period_is_info():
    # 3 x 100 against 3 x 102 = 306: -2%, within the 5% threshold.
    insight = revenue_forecast_insight(forecast_frame([100, 100, 100]), revenue_frame([102, 102, 102]), THRESHOLDS)

    assert insight.severity == "info"


def test_a_forecast_longer_than_the_history_is_an_error():
    with pytest.raises(ValueError, match="revenue_daily has 2 days, fewer than the 3 days forecast"):
        revenue_forecast_insight(forecast_frame([1, 1, 1]), revenue_frame([1, 1]), THRESHOLDS)


# --- segments at risk -----------------------------------------------------------------------


def segments_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "segment": ["Champions", "At Risk", "Cannot Lose Them", "Lost"],
            "customers": [10, 20, 5, 40],
            "revenue": [600.0, 150.0, 100.0, 150.0],
            "revenue_share": [0.6, 0.15, 0.10, 0.15],
            "suggested_action": ["Reward them.", "Win them back.", "Call them.", "Let them go."],
        }
    )


def test_at_risk_segments_holding_more_than_the_threshold_of_revenue_is_a_warning():
    insight = segments_at_risk_insight(segments_frame(), THRESHOLDS)

    # At Risk 0.15 + Cannot Lose Them 0.10 = 0.25 >= 0.2; At Risk holds more revenue (150 > 100).
    assert (insight.category, insight.severity, insight.metric) == ("customers", "warning", "at_risk_revenue_share")
    assert insight.value == pytest.approx(0.25)
    assert "25 customers" in insight.detail
    assert insight.recommendation == "At Risk: Win them back."


def test_at_risk_segments_below_the_threshold_are_info():
    relaxed = replace(THRESHOLDS, at_risk_revenue_share=0.3)

    assert segments_at_risk_insight(segments_frame(), relaxed).severity == "info"


def test_an_at_risk_segment_missing_from_the_mart_is_an_error():
    renamed = replace(THRESHOLDS, at_risk_segments=("At Risk", "Slipping"))

    with pytest.raises(ValueError, match=r"at-risk segments \['Slipping'\] are not among the segments"):
        segments_at_risk_insight(segments_frame(), renamed)


# --- funnel ---------------------------------------------------------------------------------


def stages_frame(drop_offs: list[float | None]) -> pd.DataFrame:
    names = ["visit", "signup", "checkout", "paid"]
    return pd.DataFrame(
        {"stage": names, "stage_order": [1, 2, 3, 4], "entered": [1000, 600, 240, 216], "drop_off_rate": drop_offs}
    )


def test_the_stage_losing_the_largest_share_of_sessions_is_named():
    # visit -> signup loses 400/1000 = 0.4, signup -> checkout 360/600 = 0.6, checkout -> paid 24/240 = 0.1.
    insight = funnel_drop_off_insight(stages_frame([0.4, 0.6, 0.1, None]), THRESHOLDS)

    assert (insight.category, insight.severity, insight.metric) == ("funnel", "warning", "funnel_drop_off_rate")
    assert insight.value == 0.6
    assert insight.title == "Biggest funnel drop-off: signup to checkout"
    assert "of the 600 sessions that reached signup" in insight.detail


def test_a_worst_drop_off_below_the_threshold_is_info():
    assert funnel_drop_off_insight(stages_frame([0.4, 0.3, 0.1, None]), THRESHOLDS).severity == "info"


def test_a_funnel_without_drop_off_rates_gives_no_insight():
    assert funnel_drop_off_insight(stages_frame([None, None, None, None]), THRESHOLDS) is None


# --- LTV / CAC ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratio", "severity"),
    [(0.8, "critical"), (2.0, "warning"), (3.0, "info"), (4.5, "info")],
)
def test_ltv_to_cac_is_critical_below_one_and_a_warning_below_the_healthy_ratio(ratio, severity):
    kpis = {
        "ltv_to_cac": ratio,
        "ltv_to_cac_prior": 2.5,
        "ltv_horizon_days": 90,
        "ltv_cohort_month": dt.date(2025, 1, 1),
        "cohort_ltv": ratio * 40.0,
        "cohort_cac": 40.0,
    }

    insight = ltv_cac_insight(kpis, THRESHOLDS)

    assert (insight.category, insight.severity, insight.metric, insight.value) == (
        "profitability",
        severity,
        "ltv_to_cac",
        ratio,
    )
    # The label carries the cohort and the horizon the ratio is of.
    assert insight.title.startswith("90-day LTV/CAC of the January 2025 cohort")


def test_an_undefined_ltv_to_cac_gives_no_insight():
    # No cohort old enough for the horizon yet: nothing to say.
    kpis = {"ltv_to_cac": None, "ltv_to_cac_prior": None, "ltv_cohort_month": None, "cohort_cac": None}

    assert ltv_cac_insight(kpis, THRESHOLDS) is None


def test_no_marketing_spend_is_said_rather_than_a_ratio():
    # The cohort's month had new customers but no marketing spend: roi_monthly leaves its CAC null.
    kpis = {"ltv_to_cac": None, "ltv_to_cac_prior": None, "ltv_cohort_month": dt.date(2025, 1, 1), "cohort_cac": None}

    insight = ltv_cac_insight(kpis, THRESHOLDS)

    assert (insight.severity, insight.metric, insight.value) == ("info", "ltv_to_cac", None)
    assert "No marketing spend" in insight.title


# --- biggest movers -------------------------------------------------------------------------


def movers(product_growth: float | None, cac_change: float | None) -> dict[str, object]:
    """kpi_summary's mover columns: the product mug and the channel social, in March 2025."""
    return {
        "mover_month": dt.date(2025, 3, 1),
        "product_mover": "mug" if product_growth is not None else None,
        "product_mover_growth": product_growth,
        "channel_cac_mover": "social" if cac_change is not None else None,
        "channel_cac_mover_change": cac_change,
    }


def test_a_product_falling_by_the_threshold_is_a_warning_and_one_rising_is_info():
    fell = product_mover_insight(movers(-0.3, None), THRESHOLDS)
    rose = product_mover_insight(movers(0.5, None), THRESHOLDS)

    assert (fell.category, fell.severity, fell.metric, fell.value) == (
        "revenue",
        "warning",
        "product_mover_growth",
        -0.3,
    )
    assert fell.title == "Product mug fell 30.0% month on month"
    assert "March 2025" in fell.detail
    assert (rose.severity, rose.title) == ("info", "Product mug rose 50.0% month on month")


def test_a_channel_whose_cac_doubled_is_a_warning_and_one_whose_cac_fell_is_info():
    doubled = channel_cac_mover_insight(movers(None, 1.0), THRESHOLDS)
    cheaper = channel_cac_mover_insight(movers(None, -0.4), THRESHOLDS)

    assert (doubled.category, doubled.severity, doubled.value) == ("profitability", "warning", 1.0)
    # +100 %: twice the month before's CAC.
    assert doubled.title == "Channel social's CAC rose 100.0% (×2.0)"
    assert (cheaper.severity, cheaper.title) == ("info", "Channel social's CAC fell 40.0% (×0.6)")


def test_movers_below_the_threshold_or_without_a_change_give_no_insight():
    assert product_mover_insight(movers(-0.29, None), THRESHOLDS) is None
    assert channel_cac_mover_insight(movers(None, 0.29), THRESHOLDS) is None
    assert product_mover_insight(movers(None, None), THRESHOLDS) is None
    assert channel_cac_mover_insight(movers(None, None), THRESHOLDS) is None


# --- margin trend ---------------------------------------------------------------------------


def roi_frame(margins: list[float | None], has_cost_data: bool = True) -> pd.DataFrame:
    months = pd.date_range("2024-11-01", periods=len(margins), freq="MS")
    return pd.DataFrame({"roi_month": months.date, "net_margin": margins, "has_cost_data": has_cost_data})


def test_a_margin_drop_of_the_last_complete_month_is_a_warning():
    # Nov..Apr; on 2025-04-15 April is incomplete, so March (0.20) is compared with Dec..Feb:
    # (0.32 + 0.28 + 0.30) / 3 = 0.30, a drop of 0.10 >= 0.05. November is outside the 3 months.
    insight = margin_trend_insight(
        roi_frame([-0.50, 0.32, 0.28, 0.30, 0.20, -0.90]), pd.Timestamp("2025-04-15"), THRESHOLDS
    )

    assert (insight.category, insight.severity, insight.metric) == ("profitability", "warning", "net_margin")
    assert insight.value == pytest.approx(0.20)
    assert "March 2025" in insight.title
    assert "10.0 points below the average of the 3 month(s) before (30.0%)" in insight.detail


def test_a_negative_margin_is_critical_and_a_steady_one_info():
    on_march_31 = pd.Timestamp("2025-03-31")

    assert margin_trend_insight(roi_frame([0.1, 0.1, 0.1, 0.1, -0.02]), on_march_31, THRESHOLDS).severity == "critical"
    assert margin_trend_insight(roi_frame([0.1, 0.1, 0.1, 0.1, 0.08]), on_march_31, THRESHOLDS).severity == "info"


def test_a_store_without_cost_data_is_told_so_instead_of_a_margin():
    # roi_monthly leaves the margins null in months without cost rows.
    insight = margin_trend_insight(
        roi_frame([None, None, None], has_cost_data=False), pd.Timestamp("2025-01-31"), THRESHOLDS
    )

    assert (insight.severity, insight.metric, insight.value) == ("info", "net_margin", None)
    assert insight.title == "No cost data: margins unknown"
    assert "January 2025" in insight.detail


def test_fewer_than_two_complete_months_give_no_margin_insight():
    # November is complete on 2024-12-10, December is not.
    assert margin_trend_insight(roi_frame([0.3, 0.2]), pd.Timestamp("2024-12-10"), THRESHOLDS) is None


# --- seasonality ----------------------------------------------------------------------------


def patterns_frame(effects: list[float], half_width: float, unit: str = "currency") -> pd.DataFrame:
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    return pd.DataFrame(
        {
            "pattern": "day_of_week",
            "period": days,
            "effect": effects,
            "lower": [e - half_width for e in effects],
            "upper": [e + half_width for e in effects],
            "unit": unit,
        }
    )


def test_the_strongest_and_weakest_weekday_are_named_when_the_peak_is_significant():
    insight = weekday_pattern_insight(patterns_frame([10, 0, 0, 0, 120, -100, -30], half_width=50))

    assert (insight.category, insight.severity, insight.metric, insight.value) == (
        "seasonality",
        "info",
        "weekday_effect",
        120,
    )
    assert insight.title == "Fri is the strongest day, Sat the weakest"
    assert "+120 a day on Fri and -100 a day on Sat" in insight.detail


def test_log_scale_effects_are_shown_as_percent():
    # exp(0.2) - 1 = 22.1%, exp(-0.1) - 1 = -9.5%.
    insight = weekday_pattern_insight(patterns_frame([0.2, -0.1, 0, 0, 0, 0, -0.1], 0.05, unit="log_revenue"))

    assert "+22.1% on Mon and -9.5% on Tue" in insight.detail


def test_a_peak_within_the_noise_or_a_missing_pattern_gives_no_insight():
    patterns = patterns_frame([10, 0, 0, 0, 120, -100, -30], half_width=150)

    assert weekday_pattern_insight(patterns) is None
    assert month_pattern_insight(patterns) is None


# --- ranking --------------------------------------------------------------------------------


def finding(category: str, severity: str) -> Insight:
    return Insight(category, severity, f"{category} {severity}", "detail", f"{category}_metric", 1.0, "act")


def test_insights_rank_by_severity_then_category():
    ranked = rank_insights(
        [
            finding("seasonality", "info"),
            finding("funnel", "warning"),
            finding("revenue", "info"),
            finding("profitability", "critical"),
            finding("customers", "warning"),
        ]
    )

    assert list(ranked["rank"]) == [1, 2, 3, 4, 5]
    assert list(ranked["title"]) == [
        "profitability critical",
        "customers warning",
        "funnel warning",
        "revenue info",
        "seasonality info",
    ]


def test_an_unknown_severity_or_category_is_an_error():
    with pytest.raises(ValueError, match="severity='urgent'"):
        finding("revenue", "urgent")
    with pytest.raises(ValueError, match="category='marketing'"):
        finding("marketing", "info")
