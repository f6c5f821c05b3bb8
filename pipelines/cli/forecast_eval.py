"""``analytics-forecast-eval``: the rolling-origin evaluation of the revenue forecast on a history.

    analytics-forecast-eval --csv revenue.csv            # columns date, net_revenue
    analytics-forecast-eval --warehouse data/warehouse.duckdb
    analytics-forecast-eval --sample-store decaying      # a generated store of that shape

Prints one row per horizon (``analytics_ml.evaluate``: the MAE ratio to seasonal naive, MASE, bias,
the coverage of each band and of each total's band, the models chosen) and writes the table as JSON
(``--out``). Exit status 2 with a message on a history it cannot use.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd

from analytics_ml.evaluate import DEFAULT_FIRST_ORIGIN, DEFAULT_HORIZONS, DEFAULT_SPACING, evaluation_table
from analytics_ml.forecast import DEFAULT_LEVELS
from pipelines.assets.ml import read_revenue_series
from pipelines.sample_store.daily_revenue import daily_net_revenue
from pipelines.sample_store.generator import DEFAULT_SPEC, SHAPES, SampleStoreSpec, generate_sample_store

SAMPLE_END_DATE = dt.date(2025, 3, 31)
"""Last day of a generated store: fixed, so that an evaluation can be repeated exactly."""


def read_csv_history(path: Path) -> pd.DataFrame:
    """DataFrame[date, net_revenue] of a CSV with those columns (others are ignored)."""
    frame = pd.read_csv(path)
    missing = {"date", "net_revenue"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path} lacks the column(s) {', '.join(sorted(missing))}: it needs date, net_revenue")
    return frame.assign(date=pd.to_datetime(frame["date"]))[["date", "net_revenue"]]


def read_warehouse_history(path: Path) -> pd.DataFrame:
    """``marts.revenue_daily``'s date and net_revenue, the nightly forecast's history, opened read-only."""
    if not path.is_file():
        raise ValueError(f"no warehouse at {path}")
    with duckdb.connect(str(path), read_only=True) as con:
        return read_revenue_series(con)


def sample_store_history(shape: str, seed: int, days: int, customers: int) -> pd.DataFrame:
    """The daily net revenue of a sample store of ``shape`` generated in a temporary folder."""
    spec = SampleStoreSpec(seed=seed, days=days, customers=customers, end_date=SAMPLE_END_DATE, shape=shape)
    with tempfile.TemporaryDirectory(prefix="forecast-eval-") as folder:
        generate_sample_store(Path(folder), spec)
        return daily_net_revenue(Path(folder))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", type=Path, help="a CSV of date, net_revenue")
    source.add_argument("--warehouse", type=Path, help="a built warehouse: marts.revenue_daily")
    source.add_argument("--sample-store", choices=SHAPES, help="a generated sample store of this shape")
    parser.add_argument("--seed", type=int, default=DEFAULT_SPEC.seed, help="of the sample store")
    parser.add_argument("--days", type=int, default=DEFAULT_SPEC.days, help="of the sample store")
    parser.add_argument("--customers", type=int, default=DEFAULT_SPEC.customers, help="of the sample store")
    parser.add_argument("--horizons", type=int, nargs="+", default=list(DEFAULT_HORIZONS))
    parser.add_argument("--levels", type=float, nargs="+", default=list(DEFAULT_LEVELS))
    parser.add_argument("--first-origin", type=int, default=DEFAULT_FIRST_ORIGIN, help="day of the first origin")
    parser.add_argument("--spacing", type=int, default=DEFAULT_SPACING, help="days between origins")
    parser.add_argument("--out", type=Path, help="write the table here as JSON")
    return parser.parse_args(argv)


def history_of(args: argparse.Namespace) -> tuple[str, pd.DataFrame]:
    """(a name of the source, its history)."""
    if args.csv is not None:
        return str(args.csv), read_csv_history(args.csv)
    if args.warehouse is not None:
        return str(args.warehouse), read_warehouse_history(args.warehouse)
    name = f"sample store ({args.sample_store}, seed {args.seed}, {args.days} days, {args.customers} customers)"
    return name, sample_store_history(args.sample_store, args.seed, args.days, args.customers)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        source, history = history_of(args)
        table = evaluation_table(
            history, args.horizons, args.levels, first_origin=args.first_origin, spacing=args.spacing
        )
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    seconds = round(time.perf_counter() - started, 1)
    print(f"Rolling-origin evaluation of the revenue forecast on {source} ({len(history)} days, {seconds} s)")
    print(table.to_string(index=False, float_format=lambda value: f"{value:.3f}"))
    if args.out is not None:
        args.out.write_text(
            json.dumps({"source": source, "days": len(history), "rows": table.to_dict("records")}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
