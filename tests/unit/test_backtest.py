"""Rolling-origin backtest, selection, conformal bands and the candidate grid (analytics_ml.backtest)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analytics_ml.backtest import (
    COMBINATION,
    MODEL_TYPES,
    REGRESSION,
    SEASONAL_NAIVE,
    WEEKLY_PROFILE,
    Candidate,
    backtest_origins,
    calibration_origins,
    candidates_for,
    conformal_quantiles,
    default_candidates,
    latest_per_step,
    run_backtest,
    seasonal_naive_forecast,
    seasonal_naive_scale,
    select_candidate,
    step_quantiles,
    total_interval,
    weekly_profile_forecast,
)

# Two weeks of history then one test week. Lag-7 differences of the history:
# |12-10|, |13-12|, |10-11|, |15-13|, |22-20|, |24-25|, |11-9| = 2, 1, 1, 2, 2, 1, 2 -> scale 11/7.
TRAIN = np.array([10, 12, 11, 13, 20, 25, 9, 12, 13, 10, 15, 22, 24, 11], dtype=float)
# Seasonal naive repeats the last week 12, 13, 10, 15, 22, 24, 11; against these actuals
# its absolute errors are 2, 0, 2, 0, 2, 3, 0 -> naive MAE 9/7.
TEST = np.array([14, 13, 12, 15, 20, 27, 11], dtype=float)
HAND_SCALE = 11 / 7
HAND_NAIVE_MAE = 9 / 7


def test_seasonal_naive_forecast_and_scale_match_hand_computation():
    assert seasonal_naive_scale(TRAIN) == pytest.approx(HAND_SCALE)
    # Ten steps ahead: the last week, then its first three days again.
    assert seasonal_naive_forecast(TRAIN, 10).tolist() == [12, 13, 10, 15, 22, 24, 11, 12, 13, 10]


def test_the_weekly_profile_is_each_weekdays_mean_over_the_last_four_weeks():
    history = np.r_[np.zeros(3), np.arange(28.0)]
    # The last four weeks are 0..27; weekday j (position 3 + 7k + j) has values j, j+7, j+14, j+21,
    # mean j + 10.5; eight steps ahead: the week, then its first day again.
    assert weekly_profile_forecast(history, 8).tolist() == [10.5, 11.5, 12.5, 13.5, 14.5, 15.5, 16.5, 10.5]


def test_origins_are_weekly_back_from_the_last_day_and_leave_eight_weeks_to_train():
    # 99, 92, ..., back to 57 (the next, 50, has fewer than 56 days before it).
    assert backtest_origins(100, 10).tolist() == [57, 64, 71, 78, 85, 92, 99]
    assert backtest_origins(100, 3).tolist() == [85, 92, 99]
    with pytest.raises(ValueError, match="56 days"):
        backtest_origins(50, 3)


def test_each_origin_forecasts_from_the_days_before_it_only():
    dates = pd.date_range("2024-01-01", periods=120, freq="D")
    values = 100 + np.arange(120.0) + np.tile([0.0, 5.0, 3.0, 8.0, 2.0, -4.0, 1.0], 18)[:120]
    changed = values.copy()
    changed[100:] += 1000.0
    candidates = default_candidates(120)

    before = run_backtest(dates, values, candidates, horizon=14, max_origins=6)
    after = run_backtest(dates, changed, candidates, horizon=14, max_origins=6)

    # Origins 84, 91, 98 saw only days < 100; 105, 112 and 119 saw the change.
    assert before.origins.tolist() == [84, 91, 98, 105, 112, 119]
    for label, forecasts in before.forecasts.items():
        np.testing.assert_array_equal(forecasts[:3], after.forecasts[label][:3], err_msg=label)
        assert not np.allclose(forecasts[3:, :1], after.forecasts[label][3:, :1]), label
    # Actual of origin o at step s is y[o + s - 1], unknown (NaN) past the last day.
    assert before.actual[0].tolist() == values[84:98].tolist()
    assert np.isnan(before.actual[-1, 1:]).all() and before.actual[-1, 0] == values[119]
    assert before.complete(14).tolist() == [True, True, True, True, False, False]


def test_gaps_in_the_daily_series_are_rejected():
    dates = pd.date_range("2024-01-01", periods=80, freq="D").delete(30)
    with pytest.raises(ValueError, match="consecutive"):
        run_backtest(dates, np.arange(79.0), default_candidates(79), horizon=7)


def test_the_candidates_within_one_standard_error_of_the_best_are_averaged():
    # A trend of 5 a day leaves the repeated week 5 x 7 x ceil(h / 7) behind: only regressions
    # follow it, and those within one standard error of the best are averaged.
    rng = np.random.default_rng(4)
    dates = pd.date_range("2024-01-01", periods=300, freq="D")
    values = np.tile([100.0, 110, 120, 115, 105, 60, 70], 43)[:300] + rng.normal(0, 10, 300) + 5.0 * np.arange(300)
    backtest = run_backtest(dates, values, default_candidates(300), 28)

    selection = select_candidate(backtest, 28)

    grid = [score for score in selection.scores if score.candidate.kind != COMBINATION]
    best = min(grid, key=lambda score: score.mase)
    within = tuple(score.candidate for score in grid if score.mase <= best.mase + best.std_error)
    assert len(within) > 1 and all(candidate.kind == REGRESSION for candidate in within)
    assert selection.chosen == Candidate(COMBINATION, members=within)
    np.testing.assert_array_equal(
        backtest.forecast_of(selection.chosen), np.mean([backtest.forecasts[c.label] for c in within], axis=0)
    )
    np.testing.assert_allclose(
        selection.chosen.predict(dates, values, 28), np.mean([c.predict(dates, values, 28) for c in within], axis=0)
    )
    # |mean error| <= mean |error| at every point: the mean scores no worse than its members on average.
    combined = selection.score_of(selection.chosen)
    assert combined.mase <= np.mean([selection.score_of(candidate).mase for candidate in within])
    assert combined.mase < selection.score_of(Candidate(SEASONAL_NAIVE)).mase


def test_seasonal_naive_is_chosen_alone_when_within_one_standard_error_of_the_best():
    # Each week's level a random step from the last one's: nothing forecasts it better than the last
    # week, so the comparison cannot tell seasonal naive from the best, and it is chosen.
    rng = np.random.default_rng(8)
    dates = pd.date_range("2024-01-01", periods=280, freq="D")
    weekly_level = np.exp(np.cumsum(rng.normal(0, 0.3, 40)))
    values = 500 * np.repeat(weekly_level, 7) * np.tile([1.0, 1.1, 1.2, 1.1, 1.0, 0.7, 0.8], 40)

    selection = select_candidate(run_backtest(dates, values, default_candidates(280), 28), 28)

    best = min(selection.scores, key=lambda score: score.mase)
    assert selection.score_of(Candidate(SEASONAL_NAIVE)).mase <= best.mase + best.std_error
    assert selection.chosen == Candidate(SEASONAL_NAIVE)
    assert "the simplest, within one standard error" in selection.reason


def test_the_chosen_candidate_never_scores_worse_than_seasonal_naive():
    rng = np.random.default_rng(9)
    dates = pd.date_range("2024-01-01", periods=250, freq="D")
    for shape in (np.ones(250), np.exp(-np.arange(250) / 120), 1 + np.arange(250) / 100):
        values = 500 * shape * rng.lognormal(0, 0.3, 250)
        backtest = run_backtest(dates, values, default_candidates(250), 28)
        for horizon in (7, 28):
            selection = select_candidate(backtest, horizon)
            naive = selection.score_of(Candidate(SEASONAL_NAIVE))
            assert selection.score_of(selection.chosen).mase <= naive.mase


def test_fewer_than_four_complete_windows_choose_seasonal_naive():
    dates = pd.date_range("2024-01-01", periods=100, freq="D")
    values = 100 + 3.0 * np.arange(100)
    # Origins 57..99; a 28-day window is complete for 57, 64, 71 only.
    selection = select_candidate(run_backtest(dates, values, default_candidates(100), 28), 28)
    assert selection.origins == 3
    assert selection.chosen == Candidate(SEASONAL_NAIVE)
    assert "3 complete 28-day backtest windows" in selection.reason


def test_the_choice_weighs_the_complete_windows_of_the_last_26_origins():
    dates = pd.date_range("2024-01-01", periods=500, freq="D")
    values = 100 + np.random.default_rng(3).normal(0, 10, 500)
    candidates = [Candidate(SEASONAL_NAIVE), Candidate(WEEKLY_PROFILE)]

    backtest = run_backtest(dates, values, candidates, horizon=28)
    selection = select_candidate(backtest, 28)

    # 52 origins 142, 149, ..., 499; the 28-day windows of those up to 472 are complete (48 of them).
    # The last 26 origins are 324 to 499, and the complete windows among them, 324 to 471, are weighed.
    assert backtest.origins.tolist() == list(range(142, 500, 7))
    assert backtest.complete(28).sum() == 48
    assert backtest.origins[selection.windows].tolist() == list(range(324, 472, 7))
    assert selection.origins == 22


def test_conformal_quantiles_take_the_ranks_n_plus_one_times_the_tail_interpolated():
    errors = np.arange(-9.0, 10.0)  # n = 19
    # 80 %: ranks 20 x 0.1 = 2 and 20 x 0.9 = 18 of -9..9, so -8 and 8.
    assert conformal_quantiles(errors, 0.8) == (-8.0, 8.0)
    # 85 %: ranks 20 x 0.075 = 1.5 and 20 x 0.925 = 18.5, half-way between -9 and -8, 8 and 9.
    assert conformal_quantiles(errors, 0.85) == pytest.approx((-8.5, 8.5))
    # All errors positive: the band must still hold the point, q_lo = 0.
    assert conformal_quantiles(errors + 20.0, 0.8) == (0.0, 28.0)
    # 95 % needs n >= 2 / 0.05 - 1 = 39.
    with pytest.raises(ValueError, match="needs 39"):
        conformal_quantiles(errors, 0.95)


def test_steps_pool_their_nearest_neighbours_until_the_interval_has_enough_errors():
    # 3 origins x 10 steps, step s's errors all equal s: an 80 % band needs 9 errors, a week
    # of steps gives 21 at least, so step 1 pools steps 1..7 and step 10 steps 4..10.
    errors = np.tile(np.arange(1.0, 11.0), (3, 1)) - 5.0
    lower, upper = step_quantiles(errors, 10, 0.8)
    # Step 1 pools -4..2 (21 values); ranks 22 x 0.1 = 2.2 and 22 x 0.9 = 19.8, between the 2nd and
    # 3rd (-4, -4) and the 19th and 20th (2, 2) -> -4, 2.
    assert (lower[0], upper[0]) == (-4.0, 2.0)
    # Step 10 pools -1..5: ranks 2.2 and 19.8 of the sorted 21 fall between equal values, -1 and 5.
    assert (lower[9], upper[9]) == (-1.0, 5.0)


def test_only_each_steps_latest_errors_are_kept():
    errors = np.array([[1.0, 2.0], [3.0, np.nan], [5.0, np.nan], [7.0, 8.0]])
    kept = latest_per_step(errors, np.array([2, 1]))
    np.testing.assert_array_equal(kept, [[np.nan, np.nan], [np.nan, np.nan], [5.0, np.nan], [7.0, 8.0]])
    # 13 for steps 1-7, 14 for steps 8-14, ..., 25 for steps 85-90.
    assert calibration_origins(90)[[0, 6, 7, 13, 89]].tolist() == [13, 13, 14, 14, 25]


def test_the_total_band_is_the_student_t_prediction_interval_of_the_log_errors():
    errors = np.array([0.1, -0.05, 0.02, 0.08, -0.01])
    m, mean, sd = 5, errors.mean(), errors.std(ddof=1)
    half = stats.t.ppf(0.95, m - 1) * sd * np.sqrt(1 + 1 / m)

    lower, upper = total_interval(1000.0, errors, 0.9)

    assert lower == pytest.approx(np.expm1(np.log1p(1000.0) + mean - half))
    assert upper == pytest.approx(np.expm1(np.log1p(1000.0) + mean + half))


def test_default_candidates_use_windows_shorter_than_history_and_yearly_terms_only_for_a_year():
    def grid(n_days):
        return {(c.spec.trend, c.spec.window_days, c.spec.fourier_order) for c in default_candidates(n_days) if c.spec}

    assert len(grid(800)) == 12
    assert ("damped", 365, 3) in grid(800) and ("damped", 180, 0) in grid(800) and ("damped", None, 3) in grid(800)
    assert grid(200) == {(trend, window, 0) for trend in MODEL_TYPES[1:] for window in (None, 180)}
    assert [c.kind for c in default_candidates(120)[:2]] == [SEASONAL_NAIVE, WEEKLY_PROFILE]
    assert len(default_candidates(120)) == 2 + 4


def test_candidates_for_restricts_the_regressions_to_the_requested_trend_and_keeps_the_naive_ones():
    assert candidates_for("auto", 800) == default_candidates(800)
    piecewise = candidates_for("piecewise", 800)
    assert {c.spec.trend for c in piecewise if c.spec} == {"piecewise"}
    assert [c.kind for c in piecewise[:2]] == [SEASONAL_NAIVE, WEEKLY_PROFILE]
    assert len(candidates_for("loglinear", 800)) == 2 + 3


def test_candidates_for_rejects_unknown_model_type_naming_the_allowed_values():
    with pytest.raises(ValueError, match=r"model_type='prophet'.*auto, linear, loglinear, damped, piecewise"):
        candidates_for("prophet", 800)
