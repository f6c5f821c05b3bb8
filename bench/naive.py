"""The naive approach the seed describes, for comparison: every request computes the analytics
from the raw source rows with pandas, instead of reading tables built once a night.

It computes the core of the ``comprehensive`` answer (headline KPIs over the last 30 days and
the 30 before, RFM segments, funnel conversion, monthly ROI) the simple way; the benchmark times
one such request against reading the finished answer from the serving snapshot.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

PAID = ("completed", "refunded")
WINDOW = pd.Timedelta(days=30)
STAGES = ("visit", "signup", "upload", "checkout", "payment_initiated", "payment_completed")


def comprehensive_on_request(store: Path) -> dict[str, object]:
    """The comprehensive answer computed from the source files, as one request would."""
    transactions = pd.read_parquet(
        store / "transactions", columns=["transaction_id", "customer_id", "created_at", "status", "amount"]
    )
    transactions["amount"] = transactions["amount"].astype(float)
    paid = transactions[transactions["status"].isin(PAID)].copy()
    paid["net"] = paid["amount"].where(paid["status"] == "completed", 0.0)
    reference = paid["created_at"].max().normalize()
    return {
        "kpis": _kpis(transactions, paid, reference),
        "segments": _segments(paid, reference),
        "funnel": _funnel(pd.read_parquet(store / "funnel_events", columns=["session_id", "stage"])),
        "roi": _roi_monthly(paid, pd.read_parquet(store / "costs"), pd.read_parquet(store / "marketing_spend")),
    }


def _kpis(transactions: pd.DataFrame, paid: pd.DataFrame, reference: pd.Timestamp) -> dict[str, float]:
    day = paid["created_at"].dt.normalize()
    start = reference - WINDOW + pd.Timedelta(days=1)
    last = paid[day >= start]
    before = paid[(day < start) & (day >= start - WINDOW)]
    # Paid against failed attempts: pending and cancelled orders are no payment outcome yet.
    attempts = transactions[
        (transactions["created_at"].dt.normalize() >= start) & transactions["status"].isin((*PAID, "failed"))
    ]
    return {
        "net_revenue": float(last["net"].sum()),
        "growth": float(last["net"].sum() / before["net"].sum() - 1),
        "average_order_value": float(last["amount"].mean()),
        "revenue_per_customer": float(last["net"].sum() / last["customer_id"].nunique()),
        "payment_success_rate": float(attempts["status"].isin(PAID).mean()),
    }


def _segments(paid: pd.DataFrame, reference: pd.Timestamp) -> list[dict[str, object]]:
    customers = paid.groupby("customer_id").agg(
        last_order=("created_at", "max"), frequency=("transaction_id", "count"), monetary=("net", "sum")
    )
    recency = (reference - customers["last_order"].dt.normalize()).dt.days
    scores = pd.DataFrame(
        {
            "r": pd.qcut(-recency.rank(method="first"), 5, labels=False) + 1,
            "f": pd.qcut(customers["frequency"].rank(method="first"), 5, labels=False) + 1,
            "m": pd.qcut(customers["monetary"].rank(method="first"), 5, labels=False) + 1,
        }
    )
    fm = (scores["f"] + scores["m"]) / 2
    segment = np.select(
        [
            (scores["r"] >= 4) & (fm >= 4),
            (scores["r"] >= 3) & (fm >= 3),
            scores["r"] >= 4,
            (scores["r"] <= 2) & (fm >= 3),
        ],
        ["Champions", "Loyal Customers", "New Customers", "At Risk"],
        default="Hibernating",
    )
    table = (
        customers.assign(segment=segment)
        .groupby("segment")
        .agg(customers=("frequency", "size"), revenue=("monetary", "sum"))
    )
    return table.reset_index().to_dict("records")


def _funnel(events: pd.DataFrame) -> list[dict[str, object]]:
    order = events["stage"].map({stage: index for index, stage in enumerate(STAGES, start=1)})
    furthest = order.groupby(events["session_id"]).max()
    entered = [int((furthest >= index).sum()) for index in range(1, len(STAGES) + 1)]
    return [
        {
            "stage": stage,
            "sessions": count,
            "conversion_rate": (entered[i + 1] / count) if i + 1 < len(STAGES) else None,
        }
        for i, (stage, count) in enumerate(zip(STAGES, entered, strict=True))
    ]


def _roi_monthly(paid: pd.DataFrame, costs: pd.DataFrame, marketing: pd.DataFrame) -> list[dict[str, object]]:
    revenue = paid.groupby(paid["created_at"].dt.to_period("M"))["net"].sum()
    cost = costs.groupby(pd.to_datetime(costs["cost_date"]).dt.to_period("M"))["amount"].sum().astype(float)
    spend = marketing.groupby(pd.to_datetime(marketing["spend_date"]).dt.to_period("M"))["amount"].sum().astype(float)
    months = pd.DataFrame({"revenue": revenue, "costs": cost, "marketing": spend}).fillna(0.0)
    months["profit"] = months["revenue"] - months["costs"] - months["marketing"]
    months["roi"] = months["profit"] / (months["costs"] + months["marketing"])
    months["cumulative_profit"] = months["profit"].cumsum()
    return months.reset_index(names="month").astype({"month": str}).to_dict("records")
