"""A tiny source store written as CSV files, for tests that need every row spelled out."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path

from pipelines.source_schema import SOURCE_TABLES

CUSTOMERS = [
    {"customer_id": "C1", "signup_at": "2025-01-01 09:00:00", "acquisition_channel": "organic", "country": "US"},
    {"customer_id": "C2", "signup_at": "2025-01-01 10:00:00", "acquisition_channel": "social", "country": "GB"},
    {"customer_id": "C3", "signup_at": "2025-01-02 11:00:00", "acquisition_channel": "paid_search", "country": "DE"},
]


def transaction(
    tid: str, customer: str, created: str, *, status: str = "completed", amount: str = "10.00", currency: str = "USD"
) -> dict[str, str]:
    """One transaction row as the shop would export it."""
    completed = created if status in ("completed", "refunded") else ""
    return {
        "transaction_id": tid,
        "customer_id": customer,
        "created_at": created,
        "completed_at": completed,
        "status": status,
        "amount": amount,
        "currency": currency,
        "product": "single_vector",
        "payment_method": "card",
        "promo_code": "",
        "updated_at": created,
    }


GOOD_TRANSACTIONS = [
    transaction("T1", "C1", "2025-01-01 12:00:00", amount="10.00"),
    transaction("T2", "C2", "2025-01-01 13:00:00", amount="25.50"),
    transaction("T3", "C1", "2025-01-02 09:30:00", status="refunded", amount="7.25"),
]

FUNNEL_EVENTS = [
    {"event_id": "E1", "session_id": "S1", "customer_id": "", "stage": "visit", "occurred_at": "2025-01-01 08:00:00"},
    {
        "event_id": "E2",
        "session_id": "S1",
        "customer_id": "C1",
        "stage": "signup",
        "occurred_at": "2025-01-01 09:00:00",
    },
]

COSTS = [
    {"cost_date": day, "category": category, "amount": "5.00", "currency": "USD"}
    for day in ("2025-01-01", "2025-01-02")
    for category in ("infrastructure", "salaries")
]

MARKETING = [
    {"spend_date": day, "channel": "social", "amount": "3.00", "currency": "USD"}
    for day in ("2025-01-01", "2025-01-02")
]


def write_table(folder: Path, table: str, rows: Iterable[Mapping[str, str]]) -> Path:
    """Write ``rows`` as ``folder/<table>.csv`` with the schema's columns in order."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table}.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SOURCE_TABLES[table].column_names)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_store(
    folder: Path,
    transactions: Iterable[Mapping[str, str]] = GOOD_TRANSACTIONS,
    customers: Iterable[Mapping[str, str]] = CUSTOMERS,
) -> Path:
    """A complete CSV store over 2025-01-01 .. 2025-01-02."""
    write_table(folder, "customers", customers)
    write_table(folder, "transactions", transactions)
    write_table(folder, "funnel_events", FUNNEL_EVENTS)
    write_table(folder, "costs", COSTS)
    write_table(folder, "marketing_spend", MARKETING)
    return folder
