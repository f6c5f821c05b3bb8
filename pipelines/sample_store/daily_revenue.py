"""A generated sample store's daily net revenue, for evaluating the forecast without building a warehouse."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.sample_store.usd_amounts import transactions_in_usd


def daily_net_revenue(folder: Path) -> pd.DataFrame:
    """DataFrame[date, net_revenue] of the store in ``folder``, one row per day of its manifest's
    window (zero on days without orders).

    ``net_revenue`` as ``marts.revenue_daily`` defines it in a UTC store: the amounts (in USD) of
    completed orders (paid and not refunded) by the day they were created. The evaluation reads it
    from here to score the forecast on a store of any shape in seconds; on a built warehouse it reads
    the mart.
    """
    manifest = pd.read_json(folder / "_sample_store.json", typ="series")
    transactions = transactions_in_usd(folder, columns=["created_at", "status", "amount"])
    completed = transactions[transactions["status"] == "completed"]
    days = pd.date_range(manifest["start_date"], manifest["end_date"], freq="D")
    net = completed.groupby(completed["created_at"].dt.normalize())["amount"].sum().reindex(days, fill_value=0.0)
    return pd.DataFrame({"date": days, "net_revenue": net.to_numpy()})
