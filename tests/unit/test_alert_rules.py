"""The alert rules on small tables whose answers are worked out by hand."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from analytics_ml.alert_rules import (
    AT_RISK_SEGMENTS,
    LIKELY_CHURNED,
    PAYMENT_SUCCESS,
    Alert,
    ChurnRiskThresholds,
    ConversionDropThresholds,
    RevenueDropThresholds,
    UnusualPatternThresholds,
    churn_risk_alerts,
    conversion_drop_alerts,
    days_to_check,
    funnel_step_rates,
    payment_success_rates,
    revenue_drop_alerts,
    robust_z_scores,
    same_weekday_average,
    unusual_pattern_alerts,
)

START = dt.date(2025, 3, 3)  # a Monday


def day(offset: int) -> dt.date:
    return START + dt.timedelta(days=offset)


def test_days_with_orders_still_pending_wait_for_a_later_evaluation():
    settlement = pd.DataFrame(
        {
            "day": [day(offset) for offset in range(5)],
            "attempted_orders": [10, 10, 0, 20, 10],
            "pending_orders": [5, 0, 0, 2, 1],
        }
    )

    days, notes = days_to_check(settlement, lookback_days=4, max_pending_share=0.05)

    assert days == [day(1), day(2)], "the first day is out of the look-back; a day without orders is settled"
    assert notes == [f"{day(3)}: 10% of its orders still pending", f"{day(4)}: 10% of its orders still pending"]


def test_same_weekday_average_takes_the_same_weekday_of_the_previous_weeks():
    values = pd.Series(np.arange(21, dtype=float), index=pd.date_range(START, periods=21))

    average = same_weekday_average(values, weeks=2)

    assert average.iloc[14] == (7 + 0) / 2
    assert average.iloc[20] == (13 + 6) / 2
    assert average.iloc[:14].isna().all()


def revenue_table(net_revenue: list[float], lower: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"date": [day(offset) for offset in range(len(net_revenue))], "net_revenue": net_revenue, "lower": lower}
    )


REVENUE_THRESHOLDS = RevenueDropThresholds(drop=0.3, baseline_weeks=4, severity="critical")


def test_a_revenue_drop_needs_both_the_relative_fall_and_the_forecast_band():
    # Four weeks at 100, then: 40 (below both), 75 (below the band of 80 only), 60 (30% down but the
    # band reaches 50), and a day without its same-weekday history.
    revenue = [100.0] * 28 + [40.0, 75.0, 60.0]
    lower = [80.0] * 28 + [80.0, 80.0, 50.0]
    table = revenue_table(revenue, lower)

    result = revenue_drop_alerts(table, [day(28), day(29), day(30), day(3)], 0.95, REVENUE_THRESHOLDS)

    assert result.judged == (day(28).isoformat(), day(29).isoformat(), day(30).isoformat())
    assert result.not_judged == (f"{day(3)}: no revenue on the 4 previous Thursdays",)
    (alert,) = result.alerts
    assert (alert.subject, alert.observed, alert.expected, alert.threshold) == (day(28).isoformat(), 40.0, 100.0, 70.0)
    assert alert.key == f"revenue_drop:{day(28)}"
    assert "60% below the average of the 4 previous Mondays (100)" in alert.message


def test_a_judged_day_without_a_forecast_band_is_an_error():
    table = revenue_table([100.0] * 29, [80.0] * 28 + [math.nan])

    with pytest.raises(ValueError, match=f"no forecast band for {day(28)}"):
        revenue_drop_alerts(table, [day(28)], 0.95, REVENUE_THRESHOLDS)


def test_a_gap_in_the_daily_table_is_an_error():
    table = revenue_table([100.0] * 10, [80.0] * 10).drop(index=4)

    with pytest.raises(ValueError, match="must hold each day"):
        revenue_drop_alerts(table, [day(9)], 0.95, REVENUE_THRESHOLDS)


CONVERSION_THRESHOLDS = ConversionDropThresholds(
    std_devs=3.0, drop=0.2, baseline_days=14, min_trials=30, severity="warning"
)


def step_rates(rates: list[float], trials: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {"day": [day(offset) for offset in range(len(rates))], "step": "checkout→pay", "trials": trials, "rate": rates}
    )


def test_a_conversion_drop_needs_both_k_standard_deviations_and_the_relative_fall():
    # Fourteen days alternating 80% / 90%: mean 0.85, sample sd sqrt(14 · 0.05² / 13) = 0.05189,
    # so mean − 3 sd = 0.6943 and 0.8 · mean = 0.68: the threshold is the lower, 0.68.
    history = [0.8, 0.9] * 7
    rates = step_rates([*history, 0.69], [100] * 15)
    dropped = step_rates([*history, 0.67], [100] * 15)

    calm = conversion_drop_alerts(rates, [day(14)], CONVERSION_THRESHOLDS)
    result = conversion_drop_alerts(dropped, [day(14)], CONVERSION_THRESHOLDS)

    assert calm.judged == (f"{day(14)}/checkout→pay",) and calm.alerts == ()
    (alert,) = result.alerts
    assert alert.expected == pytest.approx(0.85)
    assert alert.threshold == pytest.approx(0.68)
    assert alert.observed == 0.67
    assert alert.metric == "checkout→pay rate"


def test_conversion_days_with_too_few_trials_are_neither_judged_nor_a_baseline():
    rates = step_rates([0.85] * 6 + [0.0] * 8 + [0.1], [100] * 6 + [5] * 8 + [100])

    result = conversion_drop_alerts(rates, [day(14)], CONVERSION_THRESHOLDS)
    short_day = conversion_drop_alerts(step_rates([0.85] * 15, [100] * 14 + [10]), [day(14)], CONVERSION_THRESHOLDS)

    assert result.alerts == ()
    assert result.not_judged == (f"{day(14)}/checkout→pay: 6 usable days in the 14 before",)
    assert short_day.not_judged == (f"{day(14)}/checkout→pay: fewer than 30 trials",)


def test_funnel_steps_pair_each_stage_with_the_next_and_payment_success_leaves_pending_out():
    funnel = pd.DataFrame(
        {
            "day": [day(0)] * 3,
            "stage": ["visit", "checkout", "payment_initiated"],
            "stage_order": [1, 2, 3],
            "entered": [100, 40, 30],
            "conversion_rate": [0.4, 0.75, None],
        }
    )
    revenue = pd.DataFrame({"day": [day(0), day(1)], "orders": [45, 0], "failed_orders": [5, 0]})

    steps = funnel_step_rates(funnel)
    payments = payment_success_rates(revenue)

    assert steps[["step", "trials", "rate"]].values.tolist() == [
        ["visit→checkout", 100, 0.4],
        ["checkout→payment_initiated", 40, 0.75],
    ]
    assert payments["step"].tolist() == [PAYMENT_SUCCESS, PAYMENT_SUCCESS]
    assert payments["rate"].iloc[0] == 0.9 and math.isnan(payments["rate"].iloc[1])


def payment_days(orders_and_failed: list[tuple[int, int]]) -> pd.DataFrame:
    """marts.revenue_daily's payment columns, one row a day from START."""
    return pd.DataFrame(
        {
            "day": [day(offset) for offset in range(len(orders_and_failed))],
            "orders": [orders for orders, _ in orders_and_failed],
            "failed_orders": [failed for _, failed in orders_and_failed],
        }
    )


# Three weeks alternating 90 paid / 10 failed and 95 / 5: rates 0.90 and 0.95.
ORDINARY_PAYMENTS = [(90, 10), (95, 5)] * 10 + [(90, 10)]
WEEK_THREE = [day(offset) for offset in range(14, 21)]


def test_a_falling_payment_success_rate_fires_the_conversion_drop_alert():
    # On 2025-03-23 (day 20) 60 of 100 payments succeed. Its 14 days before alternate 0.90 / 0.95:
    # mean 0.925, sample sd sqrt(14 · 0.025² / 13) = 0.02594, so mean − 3 sd = 0.8472 and
    # 0.8 · mean = 0.74: the threshold is the lower, 0.74, and 0.60 is below it.
    falling = payment_days([*ORDINARY_PAYMENTS[:20], (60, 40)])

    result = conversion_drop_alerts(payment_success_rates(falling), WEEK_THREE, CONVERSION_THRESHOLDS)

    assert len(result.judged) == 7
    (alert,) = result.alerts
    assert alert.key == f"conversion_drop:{day(20)}/{PAYMENT_SUCCESS}"
    assert (alert.observed, alert.expected, alert.threshold) == pytest.approx((0.6, 0.925, 0.74))
    assert alert.metric == f"{PAYMENT_SUCCESS} rate"
    assert alert.message.startswith(f"Payment success on {day(20)} was 60.0% of 100, 35% below its mean of 92.5%")


def test_an_ordinary_payment_week_fires_nothing():
    # The same alternation throughout: every day of week three is within its usual 0.90 to 0.95.
    result = conversion_drop_alerts(
        payment_success_rates(payment_days(ORDINARY_PAYMENTS)), WEEK_THREE, CONVERSION_THRESHOLDS
    )

    assert result.judged == tuple(f"{judged}/{PAYMENT_SUCCESS}" for judged in WEEK_THREE)
    assert result.alerts == ()


def test_robust_z_score_of_a_spike_against_the_days_before():
    values = pd.Series([10.0, 12, 11, 13, 9, 10, 11, 30], index=pd.date_range(START, periods=8))

    z, median, scale = robust_z_scores(values, window_days=7)

    # median of the first seven is 11; their absolute deviations 1,1,0,2,2,1,0 have median 1.
    assert median.iloc[7] == 11.0
    assert scale.iloc[7] == pytest.approx(1.4826)
    assert z.iloc[7] == pytest.approx(19 / 1.4826)
    assert z.iloc[:7].isna().all(), "fewer than seven earlier days give no score"


def test_unusual_orders_fire_in_both_directions_and_revenue_only_when_high():
    weekly = [100.0, 110, 90, 105, 95, 120, 80]
    rng = np.random.default_rng(3)
    noise = rng.normal(1.0, 0.03, size=63)
    orders = np.tile(weekly, 9) * noise
    revenue = orders * 20
    orders[60], revenue[61], revenue[62] = orders[60] * 3, revenue[61] / 3, revenue[62] * 3
    table = pd.DataFrame({"date": [day(offset) for offset in range(63)], "net_revenue": revenue, "orders": orders})
    thresholds = UnusualPatternThresholds(robust_z=5.0, window_days=28, baseline_weeks=4, severity="info")

    result = unusual_pattern_alerts(table, [day(offset) for offset in range(56, 63)], thresholds)

    assert sorted(alert.subject for alert in result.alerts) == [f"{day(60)}/orders", f"{day(62)}/net_revenue"]
    assert len(result.judged) == 14


SEGMENTS = pd.DataFrame(
    {
        "segment": ["Champions", "At Risk", "Cannot Lose Them", "Lost"],
        "customers": [10, 20, 5, 40],
        "revenue": [600.0, 200.0, 100.0, 100.0],
    }
)


def churn_thresholds(segment_revenue_share: float, customer_share: float) -> ChurnRiskThresholds:
    return ChurnRiskThresholds(
        segments=("At Risk", "Cannot Lose Them"),
        segment_revenue_share=segment_revenue_share,
        churn_probability=0.7,
        customer_share=customer_share,
        severity="warning",
    )


def test_churn_risk_fires_from_its_thresholds_on():
    probabilities = pd.Series([0.9, 0.7, 0.1, 0.2])  # half the customers at 0.7 or more

    at = churn_risk_alerts(SEGMENTS, probabilities, day(0), churn_thresholds(0.3, 0.5))
    below = churn_risk_alerts(SEGMENTS, probabilities, day(0), churn_thresholds(0.31, 0.51))

    assert [(alert.subject, alert.observed) for alert in at.alerts] == [(AT_RISK_SEGMENTS, 0.3), (LIKELY_CHURNED, 0.5)]
    assert "30.0% of all revenue sits with the 25 customers in At Risk, Cannot Lose Them" in at.alerts[0].message
    assert below.alerts == () and below.judged == (AT_RISK_SEGMENTS, LIKELY_CHURNED)


def test_a_churn_segment_that_does_not_exist_is_a_configuration_error():
    thresholds = ChurnRiskThresholds(("At Risk", "Sleepy"), 0.3, 0.7, 0.5, "warning")

    with pytest.raises(ValueError, match=r"churn segments \['Sleepy'\] are not among the segments"):
        churn_risk_alerts(SEGMENTS, pd.Series([0.1]), day(0), thresholds)


def test_an_alert_names_an_unknown_severity():
    with pytest.raises(ValueError, match="severity='urgent' is not one of"):
        Alert("revenue_drop", "urgent", "2025-03-03", day(0), "net_revenue", 1.0, 2.0, 1.5, "message")
