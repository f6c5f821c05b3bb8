"""Rolling-origin evaluation of ``analytics_ml.forecast`` on a store's own history.

Time-series cross-validation as Hyndman & Athanasopoulos describe it (*Forecasting: Principles
and Practice*, 3rd ed., section 5.10): an evaluation origin every ``spacing`` days from day
``first_origin``; at each origin o the whole forecast, model selection included, is made again
from y[:o] alone (``forecasts_at_horizons``, the nightly run's code), and each horizon h with
o + h <= n is scored on y[o : o + h]. Pooled over every (origin, step) of a horizon:

  ratio        MAE / MAE of seasonal naive from the same origins: below 1 beats repeating last week.
  mase         mean |y - yhat| / q_o, q_o the in-sample MAE of the lag-7 naive forecast over the
               last 13 weeks before o (Hyndman & Koehler 2006, as in ``analytics_ml.backtest``).
  bias         sum (yhat - y) / sum y: the share by which the forecast over- (+) or under- (-)
               states revenue.
  coverage_<p> share of days inside the band of level p.
  total_coverage_<p>  share of origins whose h-day total lies inside the total's band.
  models       how often each forecaster was chosen (a mean of candidates by how many it averaged).

``evaluation_table`` does this; the command ``analytics-forecast-eval`` (pipelines/cli) runs it
on a CSV, the warehouse or a generated sample store and prints and writes the table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from analytics_ml.backtest import (
    COMBINATION,
    MASE_SCALE_DAYS,
    Candidate,
    seasonal_naive_forecast,
    seasonal_naive_scale,
)
from analytics_ml.forecast import DEFAULT_LEVELS, bound_columns, forecasts_at_horizons, history_series, level_name

DEFAULT_HORIZONS = (7, 28, 90)
DEFAULT_FIRST_ORIGIN = 180
DEFAULT_SPACING = 7


def evaluation_points(
    history: pd.DataFrame,
    horizons: Sequence[int] = DEFAULT_HORIZONS,
    levels: Sequence[float] = DEFAULT_LEVELS,
    *,
    first_origin: int = DEFAULT_FIRST_ORIGIN,
    spacing: int = DEFAULT_SPACING,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(days, totals): one row per (horizon, origin, step) with actual, forecast, naive, scale and
    the bounds of each level; one row per (horizon, origin) with the total, its bounds and the
    chosen model."""
    dates, values = history_series(history)
    if first_origin + min(horizons) > len(values):
        raise ValueError(
            f"{len(values)} days are too few to evaluate from day {first_origin}: the shortest horizon "
            f"({min(horizons)} days) needs {first_origin + min(horizons)}"
        )
    days, totals = [], []
    for origin in range(first_origin, len(values) - min(horizons) + 1, spacing):
        fitting = [horizon for horizon in horizons if origin + horizon <= len(values)]
        past = pd.DataFrame({"date": dates[:origin], "net_revenue": values[:origin]})
        scale = seasonal_naive_scale(values[:origin][-MASE_SCALE_DAYS:])
        for horizon, answer in forecasts_at_horizons(past, fitting, levels).items():
            table = answer.table()
            actual = values[origin : origin + horizon]
            days.append(
                table.assign(
                    horizon=horizon,
                    origin=dates[origin],
                    step=np.arange(1, horizon + 1),
                    actual=actual,
                    naive=seasonal_naive_forecast(values[:origin], horizon),
                    scale=scale,
                )
            )
            totals.append(
                {
                    "horizon": horizon,
                    "origin": dates[origin],
                    "model": forecaster_name(answer.chosen),
                    "actual": float(actual.sum()),
                    **table.attrs["total"],
                }
            )
    return pd.concat(days, ignore_index=True), pd.DataFrame(totals)


def evaluation_table(
    history: pd.DataFrame,
    horizons: Sequence[int] = DEFAULT_HORIZONS,
    levels: Sequence[float] = DEFAULT_LEVELS,
    *,
    first_origin: int = DEFAULT_FIRST_ORIGIN,
    spacing: int = DEFAULT_SPACING,
) -> pd.DataFrame:
    """One row per horizon: origins, ratio, mase, bias, coverage_<p> and total_coverage_<p> per
    level, and the models chosen (module docstring)."""
    days, totals = evaluation_points(history, horizons, levels, first_origin=first_origin, spacing=spacing)
    rows = []
    for horizon in horizons:
        day, total = days[days["horizon"] == horizon], totals[totals["horizon"] == horizon]
        if day.empty:
            continue
        errors = (day["forecast"] - day["actual"]).to_numpy()
        row = {
            "horizon": horizon,
            "origins": len(total),
            "ratio": float(np.mean(np.abs(errors)) / np.mean(np.abs(day["naive"] - day["actual"]))),
            "mase": float(np.mean(np.abs(errors) / day["scale"])),
            "bias": float(errors.sum() / day["actual"].sum()),
        }
        for level in levels:
            lower, upper = bound_columns(level)
            row[f"coverage_{level_name(level)}"] = _share_inside(day["actual"], day[lower], day[upper])
            row[f"total_coverage_{level_name(level)}"] = _share_inside(total["actual"], total[lower], total[upper])
        row["models"] = ", ".join(f"{label} x{count}" for label, count in Counter(total["model"]).most_common())
        rows.append(row)
    return pd.DataFrame(rows)


def forecaster_name(candidate: Candidate) -> str:
    """The candidate's label; a combination's 'mean of <n>', its members being many and changing
    from night to night."""
    return f"mean of {len(candidate.members)}" if candidate.kind == COMBINATION else candidate.label


def _share_inside(actual: pd.Series, lower: pd.Series, upper: pd.Series) -> float:
    return float(((actual >= lower) & (actual <= upper)).mean())
