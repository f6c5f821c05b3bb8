"""How each KPI of ``marts.kpi_summary`` (and of the dashboard's date-range cards) is shown: its label,
its unit and whether a fall is good news. The API serves these with its answers, so the dashboard
and any other reader name a figure the same way."""

from __future__ import annotations

import dataclasses
import datetime as dt


@dataclasses.dataclass(frozen=True)
class KpiDisplay:
    label: str
    unit: str
    """money (in the reporting currency), count, percent (a share: 0.25 is 25 %), ratio or minutes."""
    lower_is_better: bool = False
    """A fall is good news (costs, churn, time to convert): it decides the colour of a change."""


KPI_DISPLAY = {
    "net_revenue": KpiDisplay("Net revenue", "money"),
    "gross_revenue": KpiDisplay("Gross revenue", "money"),
    "refunds": KpiDisplay("Refunds", "money", lower_is_better=True),
    "orders": KpiDisplay("Orders", "count"),
    "paying_customers": KpiDisplay("Paying customers", "count"),
    "new_customers": KpiDisplay("New customers", "count"),
    "average_order_value": KpiDisplay("Average order value", "money"),
    "revenue_per_customer": KpiDisplay("Revenue per paying customer", "money"),
    "mrr": KpiDisplay("Monthly recurring revenue", "money"),
    "customers": KpiDisplay("Customers to date", "count"),
    "average_revenue_per_customer_to_date": KpiDisplay("Average spend per customer to date", "money"),
    "repeat_rate": KpiDisplay("Repeat customers", "percent"),
    "churn_rate": KpiDisplay("Churned customers", "percent", lower_is_better=True),
    "payment_success_rate": KpiDisplay("Payment success rate", "percent"),
    "sessions": KpiDisplay("Sessions", "count"),
    "conversion_rate": KpiDisplay("Visit-to-purchase conversion", "percent"),
    "average_conversion_minutes": KpiDisplay("Average minutes to convert", "minutes", lower_is_better=True),
    "marketing_spend": KpiDisplay("Marketing spend", "money", lower_is_better=True),
    "operating_costs": KpiDisplay("Operating costs", "money", lower_is_better=True),
    "cac": KpiDisplay("Customer acquisition cost", "money", lower_is_better=True),
    "cost_per_acquisition": KpiDisplay("Cost per new customer", "money", lower_is_better=True),
    "gross_profit": KpiDisplay("Gross profit", "money"),
    "gross_margin": KpiDisplay("Gross margin", "percent"),
    "net_profit": KpiDisplay("Net profit", "money"),
    "net_margin": KpiDisplay("Net margin", "percent"),
    "roi": KpiDisplay("Return on investment", "percent"),
    "profit_per_customer": KpiDisplay("Profit per customer", "money"),
    "net_revenue_growth": KpiDisplay("Net revenue growth", "percent"),
    "ltv_to_cac": KpiDisplay("LTV / CAC", "ratio"),
}


def kpi_display(metric: str) -> KpiDisplay:
    """How ``metric`` is shown; a column without an entry above by its name in words, as a number."""
    return KPI_DISPLAY.get(metric) or KpiDisplay(metric.replace("_", " ").capitalize(), "number")


def kpi_label(row: dict[str, object], metric: str) -> str:
    """What the KPI card of ``metric`` in the ``marts.kpi_summary`` ``row`` is called; for LTV/CAC the
    cohort and horizon it is the figure of (``ltv_cohort_month``, ``ltv_horizon_days``), as the
    insight names them."""
    if metric == "ltv_to_cac":
        horizon = f"{row['ltv_horizon_days']}-day LTV/CAC"
        cohort = row["ltv_cohort_month"]
        return f"{horizon} of the {dt.date.fromisoformat(cohort):%B %Y} cohort" if cohort else f"{horizon} by cohort"
    return kpi_display(metric).label


def display_table() -> dict[str, dict[str, object]]:
    """Every KPI's label, unit and ``lower_is_better``, keyed by its metric, as JSON."""
    return {metric: dataclasses.asdict(display) for metric, display in KPI_DISPLAY.items()}
