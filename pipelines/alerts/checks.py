"""What each alert sensor watches, reads from the warehouse and judges with :mod:`analytics_ml.alert_rules`.

A check is the data side of one sensor: the tables whose new materializations trigger it and a
function from a warehouse connection and the thresholds to the rules' results. The tick's work
(:mod:`pipelines.alerts.tick`) stores and delivers what it found; the sensors
(:mod:`pipelines.defs.sensors`) decide when a tick runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pandas as pd

from analytics_ml import alert_rules
from analytics_ml.alert_rules import (
    AlertThresholds,
    ChurnRiskThresholds,
    ConversionDropThresholds,
    RevenueDropThresholds,
    RuleResult,
    UnusualPatternThresholds,
)
from pipelines.settings import AlertSettings

SETTLEMENT_SQL = """
with pending as (
    select
        order_date,
        count(*) as pending_orders
    from staging.stg_transactions
    where status = 'pending'
    group by order_date
)

select
    revenue_daily.revenue_date as day,
    revenue_daily.attempted_orders,
    coalesce(pending.pending_orders, 0) as pending_orders
from marts.revenue_daily
left join pending on pending.order_date = revenue_daily.revenue_date
order by day
"""

REVENUE_SQL = """
select
    revenue_daily.revenue_date as date,
    revenue_daily.net_revenue,
    revenue_daily.orders,
    fitted.lower
from marts.revenue_daily
left join ml.revenue_fitted_history as fitted on fitted.date = revenue_daily.revenue_date
order by date
"""


def alert_thresholds(alerts: AlertSettings) -> AlertThresholds:
    """The rules' thresholds of the alert settings (``ANALYTICS_ALERT_*``)."""
    return AlertThresholds(
        lookback_days=alerts.lookback_days,
        max_pending_share=alerts.max_pending_share,
        revenue_drop=RevenueDropThresholds(
            drop=alerts.revenue_drop,
            baseline_weeks=alerts.revenue_baseline_weeks,
            severity=alerts.revenue_drop_severity,
        ),
        conversion_drop=ConversionDropThresholds(
            std_devs=alerts.conversion_std_devs,
            drop=alerts.conversion_drop,
            baseline_days=alerts.conversion_baseline_days,
            min_trials=alerts.conversion_min_entered,
            severity=alerts.conversion_drop_severity,
        ),
        unusual_pattern=UnusualPatternThresholds(
            robust_z=alerts.unusual_z,
            window_days=alerts.unusual_window_days,
            baseline_weeks=alerts.revenue_baseline_weeks,
            severity=alerts.unusual_pattern_severity,
        ),
        churn_risk=ChurnRiskThresholds(
            segments=alerts.churn_segments,
            segment_revenue_share=alerts.churn_segment_revenue_share,
            churn_probability=alerts.churn_probability,
            customer_share=alerts.churn_customer_share,
            severity=alerts.churn_risk_severity,
        ),
        run_failure_severity=alerts.run_failure_severity,
    )


@dataclass(frozen=True)
class AlertCheck:
    """One sensor's data: the tables it watches (``schema.table``) and how it judges them."""

    sensor_name: str
    description: str
    monitored: tuple[str, ...]
    evaluate: Callable[[duckdb.DuckDBPyConnection, AlertThresholds], list[RuleResult]]


def read_days_to_check(con: duckdb.DuckDBPyConnection, thresholds: AlertThresholds) -> tuple[list, list[str]]:
    """The settled days among the last ``lookback_days`` of ``marts.revenue_daily``, and notes on
    those left out (:func:`analytics_ml.alert_rules.days_to_check`)."""
    settlement = con.execute(SETTLEMENT_SQL).df()
    return alert_rules.days_to_check(settlement, thresholds.lookback_days, thresholds.max_pending_share)


def with_notes(results: list[RuleResult], notes: list[str]) -> list[RuleResult]:
    """The results with ``notes`` (days not yet settled) among the subjects they did not judge."""
    return [dataclasses.replace(result, not_judged=(*notes, *result.not_judged)) for result in results]


def evaluate_revenue(con: duckdb.DuckDBPyConnection, thresholds: AlertThresholds) -> list[RuleResult]:
    """Revenue drops and unusual days (revenue or orders) among the days to check."""
    days, notes = read_days_to_check(con, thresholds)
    revenue = con.execute(REVENUE_SQL).df()
    (confidence_level,) = con.execute("select max(confidence_level) from ml.revenue_forecast").fetchone()
    return with_notes(
        [
            alert_rules.revenue_drop_alerts(revenue, days, confidence_level, thresholds.revenue_drop),
            alert_rules.unusual_pattern_alerts(revenue, days, thresholds.unusual_pattern),
        ],
        notes,
    )


def evaluate_conversion(con: duckdb.DuckDBPyConnection, thresholds: AlertThresholds) -> list[RuleResult]:
    """Drops of each funnel step's daily conversion rate and of the daily payment success rate."""
    days, notes = read_days_to_check(con, thresholds)
    funnel = con.execute(
        "select session_date as day, stage, stage_order, entered, conversion_rate from marts.funnel_daily"
    ).df()
    payments = con.execute("select revenue_date as day, orders, failed_orders from marts.revenue_daily").df()
    rates = pd.concat(
        [alert_rules.funnel_step_rates(funnel), alert_rules.payment_success_rates(payments)], ignore_index=True
    )
    return with_notes([alert_rules.conversion_drop_alerts(rates, days, thresholds.conversion_drop)], notes)


def evaluate_churn(con: duckdb.DuckDBPyConnection, thresholds: AlertThresholds) -> list[RuleResult]:
    """The revenue share of the at-risk segments and the share of likely churned customers."""
    segments = con.execute("select segment, customers, revenue from marts.customer_segments").df()
    churn_probability = con.execute("select churn_probability from ml.customer_scores").df()["churn_probability"]
    (reference_date,) = con.execute("select reference_date from marts.kpi_summary").fetchone()
    return [alert_rules.churn_risk_alerts(segments, churn_probability, reference_date, thresholds.churn_risk)]


REVENUE_CHECK = AlertCheck(
    sensor_name="revenue_drop_sensor",
    description="After marts.revenue_daily and the forecast's fitted history are rebuilt: revenue drops "
    "and unusual days (revenue or orders) among the latest settled days.",
    monitored=("marts.revenue_daily", "ml.revenue_fitted_history"),
    evaluate=evaluate_revenue,
)
CONVERSION_CHECK = AlertCheck(
    sensor_name="conversion_drop_sensor",
    description="After marts.funnel_daily and marts.revenue_daily are rebuilt: drops of a funnel step's "
    "daily conversion rate or of the payment success rate among the latest settled days.",
    monitored=("marts.funnel_daily", "marts.revenue_daily"),
    evaluate=evaluate_conversion,
)
CHURN_CHECK = AlertCheck(
    sensor_name="churn_risk_sensor",
    description="After marts.customer_segments and ml.customer_scores are rebuilt: the revenue share of the "
    "at-risk RFM segments and the share of customers the model sees as likely churned.",
    monitored=("marts.customer_segments", "ml.customer_scores"),
    evaluate=evaluate_churn,
)
ALERT_CHECKS = (REVENUE_CHECK, CONVERSION_CHECK, CHURN_CHECK)
