"""A generated sample store's orders in USD, converted from its files in pandas.

The sample store sells in USD, EUR and GBP; readers of its raw files that want the figures the
warehouse shows (the forecast evaluation, tests that recompute a mart) convert each order with the
latest rate of its currency on or before its UTC day, rounded to cents half away from zero, as the
ingest does (:mod:`pipelines.sources.currency`), but here with pandas' as-of merge and Python's
``Decimal``: a second, independent computation.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd

CENT = Decimal("0.01")


def transactions_in_usd(folder: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """The store's transactions (``columns`` of them, default all) with ``amount`` in USD, see :func:`in_usd`."""
    needed = None if columns is None else list(dict.fromkeys([*columns, "created_at", "amount", "currency"]))
    return in_usd(pd.read_parquet(folder / "transactions", columns=needed), pd.read_parquet(folder / "exchange_rates"))


def in_usd(transactions: pd.DataFrame, rates: pd.DataFrame) -> pd.DataFrame:
    """``transactions`` with ``amount`` (and ``currency``) in USD, converted with ``rates`` (rate_date,
    currency, rate), and the original amount and currency in ``original_amount`` and
    ``original_currency``, in their order."""
    rates = rates.assign(rate_date=pd.to_datetime(rates["rate_date"]).astype("datetime64[us]"))
    orders = transactions.assign(
        _day=pd.to_datetime(transactions["created_at"]).dt.normalize().astype("datetime64[us]"),
        _position=range(len(transactions)),
    )
    rated = pd.merge_asof(
        orders.sort_values("_day"),
        rates[["rate_date", "currency", "rate"]].sort_values("rate_date"),
        left_on="_day",
        right_on="rate_date",
        by="currency",
    ).sort_values("_position")
    rate = rated["rate"].where(rated["currency"] != "USD", 1.0)
    usd = [
        float((Decimal(str(amount)) * Decimal(str(one_rate))).quantize(CENT, ROUND_HALF_UP))
        for amount, one_rate in zip(rated["amount"], rate, strict=True)
    ]
    originals = {"original_amount": transactions["amount"], "original_currency": transactions["currency"]}
    return transactions.assign(**originals).assign(amount=usd, currency="USD")
