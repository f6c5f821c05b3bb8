"""The purchase model's choice by a calibration/holdout split (analytics_ml.purchase_model_choice)."""

import numpy as np
import pytest

from analytics_ml import clv
from analytics_ml.purchase_model_choice import (
    ELIGIBLE,
    choose_purchase_model,
    conditional_purchase_log_pmf,
    conditional_purchase_pmf,
    frequency_group_comparison,
    holdout_days,
    summarise_purchase_times,
)

FIT = {"log_likelihood": float("nan"), "n": 0.0, "converged": True, "optimizer_message": "given"}
# CDNOW's published estimates in weeks (Fader, Hardie & Lee 2005) for BG/NBD and Pareto/NBD; the
# MBG/NBD with BG/NBD's figures (any parameters do for these identities).
MODELS = [
    clv.BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426, **FIT),
    clv.MBGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426, **FIT),
    clv.ParetoNBDParams(r=0.55, alpha=10.58, s=0.61, beta=11.67, **FIT),
]
# Days: a purchase every r/alpha = 50 days while alive, an expected lifetime of beta/(s-1) = 300 days.
PARETO_STORE = {"r": 0.5, "alpha": 25.0, "s": 1.5, "beta": 150.0}


@pytest.mark.parametrize("params", MODELS, ids=lambda params: type(params).__name__)
def test_the_conditional_pmf_sums_to_one_and_its_mean_is_the_conditional_expectation(params):
    # Independent of each other: the PMF is built from the posterior given alive term by term, the
    # expectation is each model's closed form (BG/NBD eq. 10, MBG/NBD the same with b + 1, the note's section 6).
    x = np.array([0.0, 0.0, 1.0, 2.0, 7.0, 30.0])
    t_x = np.array([0.0, 0.0, 10.0, 25.0, 30.0, 38.0])
    T = np.array([5.0, 40.0, 39.0, 39.0, 40.0, 40.0])
    counts = np.arange(300.0)[:, None]

    pmf = conditional_purchase_pmf(params, 39.0, x, t_x, T, count=counts)

    assert np.all(pmf >= 0)
    np.testing.assert_allclose(pmf.sum(axis=0), 1.0, rtol=1e-9)
    np.testing.assert_allclose((counts * pmf).sum(axis=0), clv.expected_purchases(params, 39.0, x, t_x, T), rtol=1e-8)


@pytest.mark.parametrize("params", MODELS, ids=lambda params: type(params).__name__)
def test_an_unlikely_holdout_count_has_a_finite_log_probability(params):
    # A one-time buyer of 2 years ago (weeks) who buys 1,000 times in the next 26 weeks: the
    # probability underflows a double, its log does not.
    log_pmf = conditional_purchase_log_pmf(params, 26.0, 0.0, 0.0, 104.0, count=1000.0)

    assert np.isfinite(log_pmf) and log_pmf < np.log(np.finfo(float).tiny)


def test_the_frequency_group_error_weighs_each_groups_mean_error_by_its_customers():
    # Group 0: 3 customers, actual mean (0+1+2)/3 = 1, predicted 0.5 -> |0.5| x 3;
    # group 7+: x = 7 and 9, actual mean 4, predicted mean 5 -> |1| x 2; error (1.5 + 2) / 5 = 0.7.
    error, groups = frequency_group_comparison(
        x=[0, 0, 0, 7, 9], actual=[0, 1, 2, 3, 5], predicted=[0.5, 0.5, 0.5, 4, 6], weights=np.ones(5)
    )

    assert error == pytest.approx(0.7)
    assert [(group["group"], group["customers"]) for group in groups] == [("0", 3.0), ("7+", 2.0)]


def test_the_holdout_is_a_third_of_the_history_up_to_half_a_year():
    assert (holdout_days(120), holdout_days(730)) == (40, 180)
    with pytest.raises(ValueError, match="a history of 2 day"):
        holdout_days(2)


def test_purchase_times_split_into_calibration_history_and_holdout_purchases():
    # Customer 0 bought again at 3 and 8, customer 1 at 12; split at 10 for both.
    x, t_x, after = summarise_purchase_times([0, 0, 1], [3.0, 8.0, 12.0], 3, end=10.0)

    assert (x.tolist(), t_x.tolist(), after.tolist()) == ([2, 0, 0], [8, 0, 0], [0, 1, 0])


def test_on_a_simulated_store_the_choice_judges_every_model_and_old_one_time_buyers_have_churned():
    # 3,000 Pareto/NBD customers, first purchases spread over 3 years, whole days; the last 180 days
    # are the holdout. A one-time buyer of more than a year ago has most likely died (expected
    # lifetime 300 days), and the chosen model must say so: mean churn probability above 0.5.
    rng = np.random.default_rng(8)
    n, days = 3_000, 180
    age = rng.integers(1, 3 * 365, n).astype(float)
    customer, times = clv.simulate_pareto_nbd_purchase_times(n, **PARETO_STORE, T=age, rng=rng)
    times = np.floor(times)
    calibrated = age > days
    x_cal, t_x_cal, holdout = summarise_purchase_times(customer, times, n, end=age - days)
    x, t_x, _ = summarise_purchase_times(customer, times, n, end=age)

    chosen = choose_purchase_model(
        (x_cal[calibrated], t_x_cal[calibrated], age[calibrated] - days), holdout[calibrated], days
    )
    fitted = clv.fit_purchase_model(chosen.chosen, x, t_x, age)
    churn = 1.0 - clv.probability_alive(fitted, x, t_x, age)

    assert [figures.model for figures in chosen.candidates] == ["bgnbd", "mbgnbd", "pareto_nbd"]
    eligible = [figures for figures in chosen.candidates if figures.model in ELIGIBLE]
    assert chosen.chosen == max(eligible, key=lambda figures: figures.holdout_log_likelihood).model
    assert chosen.calibration_customers == calibrated.sum()
    for figures in chosen.candidates:
        assert np.isfinite(figures.holdout_log_likelihood) and figures.holdout_log_likelihood < 0
        assert sum(group["customers"] for group in figures.groups) == calibrated.sum()
    old_one_time_buyers = (x == 0) & (age > 365)
    assert old_one_time_buyers.sum() > 100
    assert churn[old_one_time_buyers].mean() > 0.5
