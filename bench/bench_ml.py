"""Timings of the ``ml`` assets' heavy steps, on simulated data of production size.

    .venv/bin/python -m bench.bench_ml [--customers 1000000] [--days 1095] [--seed 1]

``make bench`` runs it too and keeps its figures under ``ml`` in ``bench/results.json``.

1. Customer scores: the purchase model chosen on a calibration/holdout split (BG/NBD, MBG/NBD and
   Pareto/NBD each fitted on the calibration period and judged on the holdout), the chosen one
   refitted and Gamma-Gamma fitted on ``--customers`` simulated customers (ages up to ``--days``,
   whole days as in the warehouse), then every customer scored, through the same functions as the
   ``ml/customer_scores`` asset (the SQL that reads the histories is not timed).
2. Revenue forecast: every candidate backtested from weekly origins, one chosen and its bands
   calibrated, on ``--days`` of simulated daily revenue, through the ``ml/revenue_forecast`` asset's code.
3. Forecast evaluation: ``analytics_ml.evaluate``'s rolling-origin table (origins every 7 days from
   day 180, the model chosen again at each, h = 7, 28, 90) on the sample store of ``make run``,
   growing and decaying, as ``analytics-forecast-eval --sample-store <shape>`` prints it.

Figures are printed; nothing is asserted (tests never check times).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd

from analytics_ml import clv
from analytics_ml import purchase_model_choice as choice
from analytics_ml.evaluate import evaluation_table
from pipelines.assets.ml import fit_customer_models, score_customers, train_forecast
from pipelines.cli.forecast_eval import sample_store_history
from pipelines.defs.resources import MLAssetSettings
from pipelines.sample_store.generator import DEFAULT_SPEC
from pipelines.settings import Settings

# Population parameters of the simulation (times in days): a mean purchase rate of
# r / alpha = 0.02 a day and an expected lifetime of beta / (s - 1) = 300 days.
PARETO_NBD_TRUTH = {"r": 0.4, "alpha": 20.0, "s": 1.5, "beta": 150.0}
GAMMA_GAMMA_TRUTH = {"p": 6.0, "q": 4.0, "v": 15.0}

SAMPLE_STORE = {"seed": DEFAULT_SPEC.seed, "days": DEFAULT_SPEC.days, "customers": DEFAULT_SPEC.customers}
"""The store `make run` builds (its end day fixed by ``sample_store_history``)."""

T = TypeVar("T")


def timed(label: str, step: Callable[[], T], seconds: dict[str, float]) -> T:
    """Run ``step``, print how long it took and keep it in ``seconds[label]``, return its result."""
    start = time.perf_counter()
    result = step()
    seconds[label] = round(time.perf_counter() - start, 3)
    print(f"  {label:<44} {seconds[label]:8.2f} s")
    return result


def simulated_histories(
    customers: int, max_age_days: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """The customer_scores inputs of simulated customers whose first purchase is spread uniformly over
    the last ``max_age_days`` days: the histories (frequency, recency_days, t_days, monetary), the
    calibration histories with their holdout purchases, and the holdout's days."""
    ages = rng.integers(0, max_age_days, size=customers).astype(float)
    customer, times = clv.simulate_pareto_nbd_purchase_times(customers, **PARETO_NBD_TRUTH, T=ages, rng=rng)
    # Whole days, and one purchase a day, as the warehouse counts purchase days.
    days = pd.DataFrame({"customer": customer, "day": np.ceil(times)}).drop_duplicates()
    customer, times = days["customer"].to_numpy(), days["day"].to_numpy()
    x, t_x, _ = choice.summarise_purchase_times(customer, times, customers, end=ages)
    holdout = choice.holdout_days(max_age_days)
    x_cal, t_x_cal, after = choice.summarise_purchase_times(customer, times, customers, end=ages - holdout)
    calibrated = ages >= holdout
    histories = pd.DataFrame(
        {
            "customer_id": np.arange(customers),
            "frequency": x,
            "recency_days": t_x,
            "t_days": ages,
            "monetary": clv.simulate_gamma_gamma(x, **GAMMA_GAMMA_TRUTH, rng=rng),
        }
    )
    calibration = pd.DataFrame(
        {
            "frequency": x_cal[calibrated],
            "recency_days": t_x_cal[calibrated],
            "t_days": ages[calibrated] - holdout,
            "holdout_purchases": after[calibrated],
        }
    )
    return histories, calibration, holdout


def simulated_revenue(days: int, rng: np.random.Generator) -> pd.DataFrame:
    """DataFrame[date, net_revenue]: trend, weekday and yearly cycles and noise growing with the level."""
    dates = pd.date_range(end=pd.Timestamp.today().normalize(), periods=days, freq="D")
    t = np.arange(days)
    weekday = np.array([1.0, 1.05, 1.1, 1.05, 1.0, 0.8, 0.85])[dates.day_of_week]
    yearly = 1.0 + 0.2 * np.cos(2 * np.pi * (dates.day_of_year.to_numpy() - 330) / 365.25)
    level = (2000.0 + 1.5 * t) * weekday * yearly
    return pd.DataFrame({"date": dates, "net_revenue": rng.normal(level, 0.1 * level)})


def bench_customer_scores(
    customers: int, max_age_days: int, rng: np.random.Generator, horizon_days: int
) -> dict[str, object]:
    print(f"Customer scores: {customers:,} simulated customers, ages up to {max_age_days} days")
    seconds: dict[str, float] = {}
    histories, calibration, holdout = timed(
        "simulate", lambda: simulated_histories(customers, max_age_days, rng), seconds
    )
    distinct = len(histories[["frequency", "recency_days", "t_days"]].drop_duplicates())
    print(f"  distinct (x, t_x, T) rows the fits see: {distinct:,}")
    models = timed(
        "choose, fit the purchase model + Gamma-Gamma",
        lambda: fit_customer_models(histories, calibration, holdout),
        seconds,
    )
    timed("score every customer", lambda: score_customers(histories, models, horizon_days), seconds)
    for figures in models.choice.candidates:
        print(
            f"  {figures.model:<10} on the {holdout}-day holdout: "
            f"log-likelihood {figures.holdout_log_likelihood:,.0f}, "
            f"frequency-group error {figures.frequency_group_error:.4f}"
        )
    print(f"  chosen {models.choice.chosen}: {models.purchases} (simulated Pareto/NBD with {PARETO_NBD_TRUTH})")
    return {
        "customers": customers,
        "distinct_histories": distinct,
        "chosen": models.choice.chosen,
        "seconds": seconds,
    }


def bench_forecast(days: int, rng: np.random.Generator, settings: MLAssetSettings) -> dict[str, object]:
    print(f"Revenue forecast: {days} days of simulated daily revenue")
    revenue = simulated_revenue(days, rng)
    seconds: dict[str, float] = {}
    trained = timed("backtest every candidate, choose, fit", lambda: train_forecast(revenue, settings), seconds)
    candidates, origins = len(trained.backtest.candidates), len(trained.backtest.origins)
    fits = candidates * origins + 1
    metrics = trained.backtest_metrics(settings.confidence_level)
    print(
        f"  {candidates} candidates x {origins} origins x {settings.days_ahead} days "
        f"({fits} fits); chosen {trained.chosen.label}"
    )
    print(
        f"  MASE {metrics['mase']:.3f}, MAE / seasonal naive MAE {metrics['relative_mae']:.3f} over "
        f"{trained.selection.origins} complete windows"
    )
    return {"days": days, "fits": fits, "chosen": trained.chosen.label, "seconds": seconds}


def bench_evaluation(shape: str) -> dict[str, object]:
    """The rolling-origin evaluation on the default sample store of ``shape`` (module docstring)."""
    print(f"Forecast evaluation: the sample store of `make run`, {shape}")
    seconds: dict[str, float] = {}
    history = timed("generate the store", lambda: sample_store_history(shape, **SAMPLE_STORE), seconds)
    table = timed("evaluate (7-day origins from day 180)", lambda: evaluation_table(history), seconds)
    print(table.to_string(index=False, float_format=lambda value: f"{value:.3f}"))
    return {"shape": shape, "days": len(history), "rows": table.to_dict("records"), "seconds": seconds}


def bench_ml(customers: int = 1_000_000, days: int = 3 * 365, seed: int = 1) -> dict[str, object]:
    """Both timings with the default settings, as a dict of figures."""
    rng = np.random.default_rng(seed)
    settings = MLAssetSettings.from_settings(Settings())
    return {
        "customer_scores": bench_customer_scores(customers, days, rng, settings.clv_horizon_days),
        "forecast": bench_forecast(days, rng, settings),
        "forecast_evaluation": {shape: bench_evaluation(shape) for shape in ("growing", "decaying")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=3 * 365)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    bench_ml(args.customers, args.days, args.seed)


if __name__ == "__main__":
    main()
