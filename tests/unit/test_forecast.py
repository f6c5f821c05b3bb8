"""The revenue forecast's entry point (analytics_ml.forecast) and its evaluation (analytics_ml.evaluate),
checked as statistics on simulated stores shaped like real ones."""

import numpy as np
import pandas as pd
import pytest

from analytics_ml.evaluate import evaluation_table
from analytics_ml.forecast import fit_revenue_forecast, forecast_revenue

WEEK = np.array([1.1, 1.15, 1.1, 1.05, 1.0, 0.8, 0.8])
# Log-normal days with sigma = 0.3: the spread is proportional to the level, as a store's is
# (its standard deviation grows from 60 to 600 on a store that grows from 200 to 2,000 a day).
SIGMA = 0.3


def simulated_store(rng: np.random.Generator, days: int, daily_growth: float) -> pd.DataFrame:
    """date, net_revenue: 200 exp(g t) x weekday factor x log-normal noise of mean 1 from 2023-01-02."""
    dates = pd.date_range("2023-01-02", periods=days, freq="D")
    level = 200.0 * np.exp(daily_growth * np.arange(days)) * WEEK[dates.day_of_week]
    return pd.DataFrame({"date": dates, "net_revenue": rng.lognormal(np.log(level) - SIGMA**2 / 2, SIGMA)})


def test_the_entry_point_returns_a_band_per_level_around_a_non_negative_forecast():
    # A store falling 1 % a day for 300 days (200 -> 10 a day): a linear trend would go negative.
    history = simulated_store(np.random.default_rng(2), 300, -0.01)

    table = forecast_revenue(history, 90, levels=(0.8, 0.95))

    assert list(table.columns) == ["date", "forecast", "lower_80", "upper_80", "lower_95", "upper_95"]
    assert table["date"].tolist() == list(pd.date_range(history["date"].iloc[-1], periods=91, freq="D")[1:])
    assert (table["lower_95"] >= 0).all()
    assert (table["lower_95"] <= table["lower_80"]).all() and (table["lower_80"] <= table["forecast"]).all()
    assert (table["forecast"] <= table["upper_80"]).all() and (table["upper_80"] <= table["upper_95"]).all()
    assert isinstance(table.attrs["model"], str) and table.attrs["selection"]
    total = table.attrs["total"]
    assert total["forecast"] == pytest.approx(table["forecast"].sum())
    assert 0 <= total["lower_95"] <= total["lower_80"] <= total["forecast"] <= total["upper_80"] <= total["upper_95"]
    # An interval of the sum: narrower than the sum of the daily bounds, whose errors partly cancel.
    assert total["upper_95"] - total["lower_95"] < (table["upper_95"] - table["lower_95"]).sum()


def test_the_history_must_have_its_columns_and_no_promotions():
    history = simulated_store(np.random.default_rng(1), 120, 0.0)
    with pytest.raises(ValueError, match="net_revenue"):
        forecast_revenue(history.rename(columns={"net_revenue": "revenue"}), 7)
    with pytest.raises(ValueError, match="promo_share"):
        forecast_revenue(history.assign(promo_share=0.0), 7)


def test_bands_cover_their_level_on_stores_whose_spread_follows_their_level():
    # 24 stores, a third each growing 0.4 % a day, flat and falling 0.3 % a day, each forecast 28
    # days from day 300: 672 days and 24 totals. Days of one store share its forecast's error, so
    # the coverage varies more than 672 independent days would (about 2 points at 80 % from seed
    # to seed); the bands 75-85 % and 90-97 % are the issue's.
    rng = np.random.default_rng(7)
    days_inside = {0.8: [], 0.95: []}
    totals_inside = {0.8: [], 0.95: []}
    first_weeks_inside = {0.8: [], 0.95: []}
    reported = []
    for store in range(24):
        history = simulated_store(rng, 328, (0.004, 0.0, -0.003)[store % 3])
        future = history["net_revenue"].to_numpy()[300:]
        trained = fit_revenue_forecast(history.iloc[:300], 28)
        table = trained.table()
        for level, name in ((0.8, "80"), (0.95, "95")):
            days_inside[level].append((future >= table[f"lower_{name}"]) & (future <= table[f"upper_{name}"]))
            total = table.attrs["total"]
            totals_inside[level].append(total[f"lower_{name}"] <= future.sum() <= total[f"upper_{name}"])
            week = trained.total(7)
            first_weeks_inside[level].append(week[f"lower_{name}"] <= future[:7].sum() <= week[f"upper_{name}"])
        reported.append(trained.out_of_sample_coverage(0.8))

    assert 0.75 <= np.mean(days_inside[0.8]) <= 0.85
    assert 0.90 <= np.mean(days_inside[0.95]) <= 0.97
    # Totals, of the 28 days and of the first 7: 24 draws, binomial sd 8 points at 80 % and 4.4 at
    # 95 %: within two sd below the level.
    for inside in (totals_inside, first_weeks_inside):
        assert np.mean(inside[0.8]) >= 0.8 - 2 * 0.082
        assert np.mean(inside[0.95]) >= 0.95 - 2 * 0.044
    # What model_performance reports: the backtest windows' coverage with bands calibrated before
    # each window, an estimate of the same 80 % the future days showed (each store's from a few
    # overlapping windows, so only their mean is pinned down).
    assert all(figures["coverage_windows"] > 0 for figures in reported)
    assert 0.75 <= np.mean([figures["out_of_sample_coverage"] for figures in reported]) <= 0.85


def test_on_a_decaying_store_the_chosen_model_is_not_worse_than_seasonal_naive():
    # A store losing 0.4 % of its revenue a day for 480 days (200 -> 30 a day), evaluated from day
    # 180 every 28 days at 7, 28 and 90 days ahead, the model chosen again at each origin.
    history = simulated_store(np.random.default_rng(11), 480, -0.004)

    table = evaluation_table(history, horizons=(7, 28, 90), spacing=28).set_index("horizon")

    assert table.loc[[7, 28, 90], "ratio"].le(1.0).all(), table
    assert table.loc[90, "origins"] == len(range(180, 480 - 90 + 1, 28))


def test_the_selection_is_stable_from_one_night_to_the_next():
    # One more day of the same store moves every score by a day's errors at most: the same model.
    history = simulated_store(np.random.default_rng(5), 400, 0.002)
    tonight = fit_revenue_forecast(history.iloc[:-1], 28)
    tomorrow = fit_revenue_forecast(history, 28)
    assert tonight.chosen == tomorrow.chosen


def test_a_day_far_off_the_forecast_does_not_widen_the_band_it_is_judged_by():
    rng = np.random.default_rng(5)
    history = simulated_store(rng, 200, daily_growth=0.003)
    day = len(history) - 3
    history.loc[day, "net_revenue"] *= 0.25  # a collapse three days before the end
    trained = fit_revenue_forecast(history, 30)

    judged = trained.fitted_history(0.95, judged_days=7).set_index("date")
    contaminated = trained.fitted_history(0.95).set_index("date")
    collapse = history.loc[day, "date"]

    # Calibrated only on days before the last week, the band is that of an ordinary day, and the
    # collapse lies below it; calibrated on every error, the collapse's own error set the band.
    assert judged.loc[collapse, "actual"] < judged.loc[collapse, "lower"]
    assert contaminated.loc[collapse, "lower"] < judged.loc[collapse, "lower"]
    assert (judged["lower"] <= judged["fitted"]).all() and (judged["fitted"] <= judged["upper"]).all()


def test_each_week_of_steps_takes_the_level_at_which_its_past_bands_held():
    # A store whose decline steepens half-way (0.1 % a day, then 0.8 %): bands from the errors of the
    # gentle first half promise more than they held since, most weeks ahead, so some weeks are raised.
    rng = np.random.default_rng(3)
    history = simulated_store(rng, 420, -0.001)
    history.loc[210:, "net_revenue"] *= np.exp(-0.007 * np.arange(420 - 210))
    trained = fit_revenue_forecast(history, 28)

    levels = trained.band_levels(0.8)
    windows = np.flatnonzero(trained.backtest.complete(28))

    def held(level: float, week: int) -> float:
        return np.vstack(trained.windows_inside(level, windows))[:, 7 * week : 7 * week + 7].mean()

    assert levels.shape == (28,) and (levels >= 0.8).all() and (levels <= 0.99).all()
    for week in range(4):
        level = levels[7 * week]
        assert (levels[7 * week : 7 * week + 7] == level).all()
        if level == 0.8:
            assert held(0.8, week) >= 0.8
            continue
        # Raised: between the last level of 0.80, 0.81, ... whose bands held less than 80 % and the
        # next, which held enough, where the line through their shares held crosses 80 %.
        above = round(np.ceil(level * 100 - 1e-9) / 100, 6)
        below = round(above - 0.01, 6)
        held_above, held_below = held(above, week), held(below, week)
        assert held_below < 0.8 <= held_above
        assert level == pytest.approx(above - 0.01 * (held_above - 0.8) / (held_above - held_below))
    assert (levels > 0.8).any()
