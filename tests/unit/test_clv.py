"""BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma customer-lifetime-value models (analytics_ml.clv)."""

import dataclasses
import datetime as dt
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from scipy.special import gammaln, hyp2f1

from analytics_ml.clv import (
    BGNBDParams,
    GammaGammaParams,
    MBGNBDParams,
    bgnbd_churn_probability,
    bgnbd_expected_purchases,
    bgnbd_log_likelihood,
    bgnbd_log_likelihood_with_gradient,
    bgnbd_probability_alive,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_purchase_model,
    gamma_gamma_expected_spend,
    gamma_gamma_log_likelihood,
    gamma_gamma_log_likelihood_gradient,
    mbgnbd_expected_purchases,
    mbgnbd_log_likelihood,
    mbgnbd_log_likelihood_with_gradient,
    mbgnbd_probability_alive,
    pareto_nbd_log_likelihood,
    pareto_nbd_log_likelihood_with_gradient,
    predicted_clv,
    purchase_model_covariance,
    simulate_bgnbd,
    simulate_gamma_gamma,
    simulate_mbgnbd,
    simulate_pareto_nbd,
)
from analytics_ml.purchase_model_choice import PurchaseModelChoice
from pipelines.assets.ml import (
    CUSTOMER_MODELS_FORMAT,
    CustomerModels,
    convergence_metadata,
    convergence_warnings,
    refit_reason,
)
from pipelines.defs.resources import MLAssetSettings
from pipelines.settings import Settings
from pipelines.warehouse.customer_model_store import CustomerModelFit

# CDNOW estimates, time in weeks: BG/NBD from Fader, Hardie & Lee (2005, table 1),
# Gamma-Gamma from Fader & Hardie (2013, "The Gamma-Gamma Model of Monetary Value").
PUBLISHED = {"log_likelihood": float("nan"), "n": 0.0, "converged": True, "optimizer_message": "published estimate"}
CDNOW = BGNBDParams(r=0.24, alpha=4.41, a=0.79, b=2.43, **PUBLISHED)
CDNOW_SPEND = GammaGammaParams(p=6.25, q=3.74, v=15.44, **PUBLISHED)
ITERATION_LIMIT_MESSAGE = "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT"
"""scipy's L-BFGS-B message when it stops at ``maxiter``."""


def expected_purchases_by_quadrature(params: BGNBDParams, t: float, x: float, t_x: float, T: float) -> float:
    """Eq. 10 without hyp2f1: given alive, lambda ~ Gamma(r+x, alpha+T) and p ~ Beta(a, b+x);
    a live customer buys (1 - exp(-lambda p t)) / p in t, and averaging over lambda gives
    (1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p, integrated here over p numerically."""

    def purchases_given_dropout(p: float) -> float:
        decay = ((params.alpha + T) / (params.alpha + T + p * t)) ** (params.r + x)
        return (1 - decay) / p * stats.beta.pdf(p, params.a, params.b + x)

    if_alive, _ = integrate.quad(purchases_given_dropout, 0, 1, limit=200)
    return if_alive * float(bgnbd_probability_alive(params, x, t_x, T))


def test_log_likelihood_without_repeat_purchases_is_the_closed_form():
    # x = 0: B(a, b)/B(a, b) * Gamma(r) alpha^r / (Gamma(r) (alpha+T)^r) = (alpha/(alpha+T))^r,
    # = (4.41 / 43.41)^0.24 = 0.577622 for T = 39.
    log_likelihood = bgnbd_log_likelihood((CDNOW.r, CDNOW.alpha, CDNOW.a, CDNOW.b), 0, 0, 39)

    assert np.exp(log_likelihood) == pytest.approx(0.577622, rel=1e-6)


def test_customers_without_repeat_purchases_are_alive_for_sure():
    # BG/NBD lets customers drop out only right after a repeat purchase.
    assert bgnbd_probability_alive(CDNOW, np.zeros(3), np.zeros(3), np.array([1.0, 39.0, 500.0])).tolist() == [1, 1, 1]


def test_probability_alive_matches_hand_computation():
    # x = 2, t_x = 20, T = 39: a/(b+x-1) = 0.79/3.43 = 0.230321, ((alpha+T)/(alpha+t_x))^(r+x)
    # = (43.41/24.41)^2.24 = 3.631193, so P(alive) = 1 / (1 + 0.836339) = 0.544562.
    assert bgnbd_probability_alive(CDNOW, 2, 20, 39) == pytest.approx(0.544562, rel=1e-5)


def test_probability_alive_lies_in_unit_interval_and_falls_with_time_since_last_purchase():
    x = np.repeat([1.0, 3.0, 10.0, 100.0], 5)
    t_x = np.tile([39.0, 30.0, 20.0, 5.0, 0.5], 4)

    alive = bgnbd_probability_alive(CDNOW, x, t_x, 39.0).reshape(4, 5)

    assert np.all((alive >= 0) & (alive <= 1))
    assert np.all(np.diff(alive, axis=1) < 0)
    assert bgnbd_churn_probability(CDNOW, x, t_x, 39.0) == pytest.approx(1 - alive.ravel())


@pytest.mark.parametrize(
    ("x", "t_x", "T", "t"),
    [(0, 0, 39, 10), (1, 30, 39, 39), (5, 38, 39, 52), (50, 38.5, 39, 52), (200, 38.9, 39, 100), (1000, 38, 39, 52)],
)
def test_expected_purchases_match_numerical_integration_including_heavy_buyers(x, t_x, T, t):
    # For x = 1000 the untransformed 2F1(r+x, b+x; a+b+x-1; z) overflows to inf in scipy.
    expected = bgnbd_expected_purchases(CDNOW, t, x, t_x, T)

    assert expected == pytest.approx(expected_purchases_by_quadrature(CDNOW, t, x, t_x, T), rel=1e-7)


@pytest.mark.parametrize("x", [0.0, 3.0, 500.0])
def test_expected_purchases_stay_finite_when_a_is_large(x):
    # a = 395 is what a fit on a store of one-time buyers gives: there the transformed 2F1 overflows
    # (a - 1 > r + x) and, for x = 500, the untransformed one would; each takes the finite form.
    params = dataclasses.replace(CDNOW, a=395.0, b=0.0025)
    t_x = 20.0 if x else 0.0

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expected = bgnbd_expected_purchases(params, 52.0, x, t_x, 39.0)

    assert expected == pytest.approx(expected_purchases_by_quadrature(params, 52.0, x, t_x, 39.0), rel=1e-7)


def test_a_store_of_one_time_buyers_fits_and_scores_without_a_warning():
    # Nobody bought twice: the MBG/NBD fit sends a far up (no customer ever seen staying), the case that
    # turned 0 * inf into NaN in the expected purchases.
    x, t_x, T = np.zeros(50), np.zeros(50), np.linspace(1.0, 400.0, 50)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        params = fit_purchase_model("mbgnbd", x, t_x, T)
        expected = mbgnbd_expected_purchases(params, 30.0, x, t_x, T)

    assert params.a > 100
    assert np.all(np.isfinite(expected)) and np.all(expected >= 0)


def test_expected_purchases_start_at_zero_and_grow_with_horizon_and_frequency():
    x = np.arange(0.0, 30.0)
    horizons = np.array([0.0, 1.0, 10.0, 52.0])

    # recency = T = 39: every customer just bought, so more purchases mean a higher rate.
    expected = np.stack([bgnbd_expected_purchases(CDNOW, t, x, np.where(x > 0, 39.0, 0.0), 39.0) for t in horizons])

    assert expected[0] == pytest.approx(np.zeros(30), abs=1e-12)
    assert np.all(np.diff(expected, axis=0) > 0)
    assert np.all(np.diff(expected[1:, 1:], axis=1) > 0)


def test_simulated_purchase_counts_average_to_the_unconditional_expectation():
    # With x = t_x = T = 0, eq. 10 reduces to the unconditional E[X(t)] (paper eq. 9).
    rng = np.random.default_rng(31)
    x, _, _ = simulate_bgnbd(200_000, CDNOW.r, CDNOW.alpha, CDNOW.a, CDNOW.b, T=39.0, rng=rng)

    expected = bgnbd_expected_purchases(CDNOW, 39.0, 0, 0, 0)

    assert abs(x.mean() - expected) < 3 * x.std() / np.sqrt(len(x))


def test_fit_bgnbd_recovers_the_cdnow_parameters_from_simulated_customers():
    # Across seeds, 30-40k customers give r and alpha within ~5% and a, b within ~15%.
    rng = np.random.default_rng(1)
    x, t_x, T = simulate_bgnbd(40_000, CDNOW.r, CDNOW.alpha, CDNOW.a, CDNOW.b, T=rng.uniform(27, 39, 40_000), rng=rng)

    fitted = fit_bgnbd(x, t_x, T)

    assert fitted.converged, fitted.optimizer_message
    assert fitted.r == pytest.approx(CDNOW.r, rel=0.1)
    assert fitted.alpha == pytest.approx(CDNOW.alpha, rel=0.1)
    assert fitted.a == pytest.approx(CDNOW.a, rel=0.2)
    assert fitted.b == pytest.approx(CDNOW.b, rel=0.2)
    assert fitted.n == 40_000
    assert fitted.log_likelihood == pytest.approx(
        bgnbd_log_likelihood((fitted.r, fitted.alpha, fitted.a, fitted.b), x, t_x, T).sum()
    )


def test_weights_count_customers_like_repeated_rows():
    rng = np.random.default_rng(2)
    x, t_x, T = simulate_bgnbd(3_000, CDNOW.r, CDNOW.alpha, CDNOW.a, CDNOW.b, T=39.0, rng=rng)
    t_x = np.round(t_x)  # whole weeks, so many customers share a row
    counts = rng.integers(1, 4, len(x))

    weighted = fit_bgnbd(x, t_x, T, weights=counts)
    repeated = fit_bgnbd(np.repeat(x, counts), np.repeat(t_x, counts), np.repeat(T, counts))

    assert weighted.n == repeated.n == counts.sum()
    assert weighted.log_likelihood == pytest.approx(repeated.log_likelihood, rel=1e-9)
    assert [weighted.r, weighted.alpha, weighted.a, weighted.b] == pytest.approx(
        [repeated.r, repeated.alpha, repeated.a, repeated.b], rel=1e-6
    )


def test_a_bgnbd_fit_stopped_by_its_iteration_limit_says_it_did_not_converge():
    # From all-ones, one L-BFGS-B step cannot reach the maximum of a 2,000-customer likelihood
    # (the full fit takes 15 iterations here), so the limit, not convergence, stops it.
    rng = np.random.default_rng(4)
    x, t_x, T = simulate_bgnbd(2_000, CDNOW.r, CDNOW.alpha, CDNOW.a, CDNOW.b, T=39.0, rng=rng)

    with pytest.warns(RuntimeWarning, match="BG/NBD likelihood maximisation did not converge: STOP: TOTAL NO. OF"):
        stopped = fit_bgnbd(x, t_x, T, max_iterations=1)
    full = fit_bgnbd(x, t_x, T)

    assert (stopped.converged, stopped.optimizer_message) == (False, ITERATION_LIMIT_MESSAGE)
    assert full.converged and full.optimizer_message.startswith("CONVERGENCE")
    assert stopped.log_likelihood < full.log_likelihood, "it stopped short of the maximum"


def test_a_gamma_gamma_fit_stopped_by_its_iteration_limit_says_it_did_not_converge():
    rng = np.random.default_rng(5)
    x = rng.integers(1, 11, 2_000).astype(float)
    m = simulate_gamma_gamma(x, CDNOW_SPEND.p, CDNOW_SPEND.q, CDNOW_SPEND.v, rng)

    with pytest.warns(RuntimeWarning, match="Gamma-Gamma likelihood maximisation did not converge"):
        stopped = fit_gamma_gamma(x, m, max_iterations=1)

    assert (stopped.converged, stopped.optimizer_message) == (False, ITERATION_LIMIT_MESSAGE)
    assert fit_gamma_gamma(x, m).converged


def test_an_iteration_limit_below_one_is_rejected():
    with pytest.raises(ValueError, match="max_iterations=0 must be at least 1"):
        fit_bgnbd([1, 2], [5, 30], [39, 39], max_iterations=0)


def test_the_customer_scores_asset_reports_an_unconverged_fit_by_its_model():
    # The asset's metadata and warnings (pipelines.assets.ml) on a hand-made pair of fits.
    cdnow_mbg = MBGNBDParams(**dataclasses.asdict(CDNOW))
    stopped = dataclasses.replace(cdnow_mbg, converged=False, optimizer_message=ITERATION_LIMIT_MESSAGE)
    choice = PurchaseModelChoice(chosen="mbgnbd", holdout_days=13, calibration_customers=2357.0, candidates=[])
    models = CustomerModels(purchases=stopped, choice=choice, gamma_gamma=CDNOW_SPEND, excluded_from_spend_fit=0)

    assert convergence_metadata(models) == {
        "mbgnbd_converged": False,
        "mbgnbd_optimizer_message": ITERATION_LIMIT_MESSAGE,
        "gamma_gamma_converged": True,
        "gamma_gamma_optimizer_message": "published estimate",
    }
    (warning,) = convergence_warnings(models)
    assert warning.startswith(f"The MBG/NBD fit did not converge ({ITERATION_LIMIT_MESSAGE})")
    assert convergence_warnings(dataclasses.replace(models, purchases=cdnow_mbg)) == []


def test_recency_beyond_age_is_rejected():
    with pytest.raises(ValueError, match="recency"):
        fit_bgnbd([1, 2], [5, 40], [39, 39])


def test_fit_gamma_gamma_recovers_parameters_from_simulated_spend():
    # p and v trade off against each other (the population mean spend p v / (q - 1) is
    # what the data pin down): across seeds, 30k customers give p and v within ~10%,
    # q within ~1.5% and the population mean within ~0.6%.
    rng = np.random.default_rng(3)
    x = rng.integers(0, 11, 30_000).astype(float)
    m = simulate_gamma_gamma(x, CDNOW_SPEND.p, CDNOW_SPEND.q, CDNOW_SPEND.v, rng)

    fitted = fit_gamma_gamma(x, m)

    assert fitted.n == np.count_nonzero(x)
    assert fitted.p == pytest.approx(CDNOW_SPEND.p, rel=0.2)
    assert fitted.q == pytest.approx(CDNOW_SPEND.q, rel=0.05)
    assert fitted.v == pytest.approx(CDNOW_SPEND.v, rel=0.2)
    # p v / (q - 1) = 6.25 * 15.44 / 2.74 = 35.219
    assert fitted.p * fitted.v / (fitted.q - 1) == pytest.approx(35.219, rel=0.02)


def test_expected_spend_shrinks_the_observed_mean_towards_the_population_mean():
    # E[M] = p (v + x m) / (p x + q - 1). x = 4, m = 30: 6.25 * 135.44 / 27.74 = 30.5155,
    # the weighted average 2.74/27.74 * 35.2190 + 25/27.74 * 30 of the population mean
    # p v / (q - 1) = 96.5 / 2.74 = 35.2190 and the observed mean. x = 0 gives 35.2190.
    spend = gamma_gamma_expected_spend(CDNOW_SPEND, np.array([4.0, 0.0, 1000.0]), np.array([30.0, np.nan, 30.0]))

    assert spend[0] == pytest.approx(30.5155, rel=1e-5)
    assert spend[1] == pytest.approx(35.2190, rel=1e-5)
    assert spend[2] == pytest.approx(30.0, rel=1e-3)


def test_clv_is_expected_purchases_times_expected_spend_discounted_per_period():
    x, t_x, T, m = np.array([0.0, 2.0, 8.0]), np.array([0.0, 20.0, 38.0]), 39.0, np.array([np.nan, 25.0, 60.0])
    spend = gamma_gamma_expected_spend(CDNOW_SPEND, x, m)
    week_1 = bgnbd_expected_purchases(CDNOW, 1.0, x, t_x, T)
    weeks_1_2 = bgnbd_expected_purchases(CDNOW, 2.0, x, t_x, T)

    undiscounted = predicted_clv(CDNOW, CDNOW_SPEND, x, t_x, T, m=m, horizon=2.0)
    discounted = predicted_clv(CDNOW, CDNOW_SPEND, x, t_x, T, m=m, horizon=2.0, discount_rate_per_period=0.01)

    assert undiscounted == pytest.approx(weeks_1_2 * spend)
    # Week 1's purchases discounted once, week 2's twice.
    assert discounted == pytest.approx(spend * (week_1 / 1.01 + (weeks_1_2 - week_1) / 1.01**2))
    assert np.all((discounted > 0) & (discounted < undiscounted))


@pytest.mark.parametrize("params", [(0.243, 4.414, 0.793, 2.426), (2.0, 0.5, 1.7, 0.4)])
def test_bgnbd_gradient_matches_central_differences(params):
    # Customers with and without repeat purchases, young and old, light and heavy.
    x = np.array([0.0, 0.0, 1.0, 2.0, 7.0, 30.0])
    t_x = np.array([0.0, 0.0, 10.0, 25.0, 30.0, 38.0])
    T = np.array([5.0, 40.0, 39.0, 39.0, 40.0, 40.0])
    step = 1e-6

    log_likelihood, analytic = bgnbd_log_likelihood_with_gradient(params, x, t_x, T)

    np.testing.assert_array_equal(log_likelihood, bgnbd_log_likelihood(params, x, t_x, T))
    for index in range(4):
        up, down = list(params), list(params)
        up[index] += step
        down[index] -= step
        numeric = (bgnbd_log_likelihood(up, x, t_x, T) - bgnbd_log_likelihood(down, x, t_x, T)) / (2 * step)
        np.testing.assert_allclose(analytic[:, index], numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("params", [(6.25, 3.74, 15.44), (1.3, 8.0, 120.0)])
def test_gamma_gamma_gradient_matches_central_differences(params):
    x = np.array([1.0, 2.0, 5.0, 40.0])
    m = np.array([12.5, 30.0, 8.2, 55.0])
    step = 1e-6

    analytic = gamma_gamma_log_likelihood_gradient(params, x, m)

    for index in range(3):
        up, down = list(params), list(params)
        up[index] += step
        down[index] -= step
        numeric = (gamma_gamma_log_likelihood(up, x, m) - gamma_gamma_log_likelihood(down, x, m)) / (2 * step)
        np.testing.assert_allclose(analytic[:, index], numeric, rtol=1e-5, atol=1e-7)


# --- MBG/NBD and Pareto/NBD -------------------------------------------------------------------


def cdnow_sample() -> pd.DataFrame:
    """The 2,357 CDNOW customers of Fader, Hardie & Lee (2005): x, t_x, T in weeks, from the data file
    the dev dependency lifetimes ships (found without importing lifetimes)."""
    (package,) = importlib.util.find_spec("lifetimes").submodule_search_locations
    return pd.read_csv(Path(package) / "datasets" / "cdnow_customers_summary_with_transactions.csv")


def test_bgnbd_reproduces_the_published_cdnow_estimates():
    # Fader, Hardie & Lee (2005), table 1: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4.
    cdnow = cdnow_sample()

    fitted = fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"])

    assert fitted.n == 2357
    assert [fitted.r, fitted.alpha, fitted.a, fitted.b] == pytest.approx([0.243, 4.414, 0.793, 2.426], abs=6e-4)
    assert fitted.log_likelihood == pytest.approx(-9582.4, abs=0.05)


def test_pareto_nbd_reproduces_the_published_cdnow_estimates():
    # Fader, Hardie & Lee (2005, "Counting your customers the easy way", table 1), the Pareto/NBD on
    # the same sample: r = 0.55, alpha = 10.58, s = 0.61, beta = 11.67, LL = -9595.0.
    cdnow = cdnow_sample()

    fitted = fit_purchase_model("pareto_nbd", cdnow["x"], cdnow["t_x"], cdnow["T"])

    assert fitted.converged, fitted.optimizer_message
    assert [fitted.r, fitted.alpha, fitted.s, fitted.beta] == pytest.approx([0.55, 10.58, 0.61, 11.67], abs=6e-3)
    assert fitted.log_likelihood == pytest.approx(-9595.0, abs=0.05)


def pareto_nbd_likelihood_by_quadrature(params, x: float, t_x: float, T: float) -> float:
    """The Pareto/NBD likelihood without hyp2f1: given lambda and mu, a customer alive at T has
    likelihood lambda^x e^-(lambda+mu)T, one who died at tau in (t_x, T] lambda^x e^-lambda tau mu e^-mu tau.
    Averaging over lambda ~ Gamma(r, alpha) and mu ~ Gamma(s, beta), with
    N(tau) = Gamma(r+x)/Gamma(r) alpha^r/(alpha+tau)^(r+x), gives
    L = N(T) (beta/(beta+T))^s + integral over (t_x, T] of N(tau) s beta^s/(beta+tau)^(s+1)."""
    r, alpha, s, beta = params

    def purchases(tau: float) -> float:
        return np.exp(gammaln(r + x) - gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + tau))

    def died_at(tau: float) -> float:
        return purchases(tau) * s * beta**s / (beta + tau) ** (s + 1)

    died, _ = integrate.quad(died_at, t_x, T, epsabs=0, epsrel=1e-12, limit=200)
    return purchases(T) * (beta / (beta + T)) ** s + died


# CDNOW's optimum, a store whose customers die much faster than they buy (alpha >> beta: the
# hypergeometric argument near 1), one where they buy much faster (beta >> alpha), the two
# scales equal (argument 0), and a far step of an optimizer where scipy's 2F1 fails (NaN; the
# likelihood integrates F instead); in days with heavy buyers and a one-time buyer of 3 years ago.
@pytest.mark.parametrize(
    "params",
    [
        (0.55, 10.58, 0.61, 11.67),
        (0.4, 400.0, 2.5, 3.0),
        (1.5, 2.0, 0.3, 900.0),
        (0.8, 50.0, 1.2, 50.0),
        (195.3, 1e6, 5.24, 84.5),
    ],
)
@pytest.mark.parametrize(("x", "t_x", "T"), [(0, 0, 1095), (0, 0, 1), (1, 3, 30), (4, 200, 900), (60, 1000, 1095)])
def test_pareto_nbd_likelihood_matches_numerical_integration(params, x, t_x, T):
    # Checks scipy's hyp2f1 over the parameter range the fit visits, both branches of the note.
    log_likelihood = pareto_nbd_log_likelihood(params, x, t_x, T)

    assert np.exp(log_likelihood) == pytest.approx(pareto_nbd_likelihood_by_quadrature(params, x, t_x, T), rel=1e-8)


def test_scipys_2f1_fails_at_the_far_step_the_likelihood_is_checked_at():
    # What the last parameters of the integration check above exercise: 2F1(r+s+x, s+1; r+s+x+1;
    # (alpha-beta)/alpha) of a one-time buyer at t_x = 0.
    r, alpha, s, beta = 195.3, 1e6, 5.24, 84.5
    assert np.isnan(hyp2f1(r + s, s + 1, r + s + 1, (alpha - beta) / alpha))


def test_a_pareto_nbd_fit_driven_where_scipys_2f1_fails_warns_nothing():
    # 400 customers of whom 2 bought again: the optimizer's steps go far out (r and s large, alpha or
    # beta at its bound), where scipy's 2F1 overflows or fails and its NaN used to reach logaddexp
    # and the optimizer (RuntimeWarning: invalid value; the fit stopped with a NaN log-likelihood).
    rng = np.random.default_rng(0)
    ages = rng.integers(1, 500, 400).astype(float)
    x, t_x, T = simulate_pareto_nbd(400, 0.05, 300.0, 3.0, 30.0, T=ages, rng=rng)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted = fit_purchase_model("pareto_nbd", x, np.floor(t_x), T)

    assert (x > 0).sum() == 2
    assert fitted.converged, fitted.optimizer_message
    assert np.isfinite(fitted.log_likelihood)


def test_mbgnbd_one_time_buyers_may_have_dropped_out_the_likelier_the_longer_ago_they_bought():
    # MBG/NBD: a one-time buyer is alive with 1 / (1 + a/b ((alpha+T)/alpha)^r); with CDNOW's BG/NBD
    # figures and T = 39: a/b = 0.79/2.43 = 0.325103, (43.41/4.41)^0.24 = 1.731236, so 0.639865.
    mbg = MBGNBDParams(**{**dataclasses.asdict(CDNOW)})
    alive = mbgnbd_probability_alive(mbg, np.zeros(3), np.zeros(3), np.array([1.0, 39.0, 500.0]))

    assert alive[1] == pytest.approx(0.639865, rel=1e-5)
    assert np.all(np.diff(alive) < 0)


@pytest.mark.parametrize(
    ("log_likelihood_with_gradient", "log_likelihood"),
    [(mbgnbd_log_likelihood_with_gradient, mbgnbd_log_likelihood), (pareto_nbd_log_likelihood_with_gradient, None)],
)
@pytest.mark.parametrize("params", [(0.243, 4.414, 0.793, 2.426), (2.0, 0.5, 1.7, 0.4)])
def test_mbgnbd_and_pareto_nbd_gradients_match_central_differences(
    log_likelihood_with_gradient, log_likelihood, params
):
    # MBG/NBD's is analytic; Pareto/NBD's is itself a central difference at relative step 1e-6, checked
    # here against differences at step 1e-4 (the two agree to their truncation errors).
    log_likelihood = log_likelihood or pareto_nbd_log_likelihood
    x = np.array([0.0, 0.0, 1.0, 2.0, 7.0, 30.0])
    t_x = np.array([0.0, 0.0, 10.0, 25.0, 30.0, 38.0])
    T = np.array([5.0, 40.0, 39.0, 39.0, 40.0, 40.0])

    value, analytic = log_likelihood_with_gradient(params, x, t_x, T)

    np.testing.assert_array_equal(value, log_likelihood(params, x, t_x, T))
    for index in range(4):
        step = 1e-4 * params[index]
        up, down = list(params), list(params)
        up[index] += step
        down[index] -= step
        numeric = (log_likelihood(up, x, t_x, T) - log_likelihood(down, x, t_x, T)) / (2 * step)
        np.testing.assert_allclose(analytic[:, index], numeric, rtol=1e-5, atol=1e-7)


WALD_LEVEL = 0.999


@pytest.mark.parametrize(
    ("simulate", "model", "truth"),
    [
        # Days: a purchase every 50 days on average (r/alpha), a 1 in 4 chance to drop out at each chance.
        (simulate_mbgnbd, "mbgnbd", (0.5, 25.0, 0.75, 2.25)),
        # Days: a purchase every 50 days, an expected lifetime of beta/(s-1) = 300 days.
        (simulate_pareto_nbd, "pareto_nbd", (0.5, 25.0, 1.5, 150.0)),
    ],
)
def test_mbgnbd_and_pareto_nbd_recover_simulated_parameters_within_their_standard_errors(simulate, model, truth):
    # The Wald statistic (fitted - truth)' I (fitted - truth), I the observed information, is
    # chi-square with 4 degrees of freedom when the estimates are normal with the covariance the
    # fit reports: below its 99.9 % quantile, 18.47, unless the fit or its standard errors are wrong.
    # 4,000 customers whose ages spread over 2 years, whole days of recency as in the warehouse.
    rng = np.random.default_rng(17)
    ages = rng.integers(30, 730, 4_000).astype(float)
    x, t_x, T = simulate(4_000, *truth, T=ages, rng=rng)
    t_x = np.floor(t_x)

    fitted = fit_purchase_model(model, x, t_x, T)
    estimate = np.array(dataclasses.astuple(fitted)[:4])
    covariance = purchase_model_covariance(fitted, x, t_x, T)

    assert fitted.converged, fitted.optimizer_message
    error = estimate - np.array(truth)
    wald = error @ np.linalg.solve(covariance, error)
    assert wald < stats.chi2.ppf(WALD_LEVEL, df=4), (estimate, np.sqrt(np.diag(covariance)))
    # And each parameter alone within 3.3 of its standard errors (the same 99.9 %, two-sided).
    assert np.all(np.abs(error) < stats.norm.ppf(1 - (1 - WALD_LEVEL) / 2) * np.sqrt(np.diag(covariance)))


# --- refit schedule of the customer models (pipelines.assets.ml.refit_reason) ----------------

REFIT_SETTINGS = MLAssetSettings.from_settings(Settings()).model_copy(
    update={"customer_model_refit_days": 7, "customer_model_refit_base_change": 0.1}
)
"""Refit every 7 days, or when the customers moved by more than 10 % (the defaults, whatever the environment)."""


def stored_fit(fitted_on: dt.date, customers: int, format_: str = CUSTOMER_MODELS_FORMAT) -> CustomerModelFit:
    return CustomerModelFit(
        model_version="clv-planted",
        fitted_on=fitted_on,
        fitted_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        customers=customers,
        purchase_model="mbgnbd",
        parameters={"format": format_},
    )


@pytest.mark.parametrize(
    ("fit", "reason"),
    [
        (None, "no stored fit"),
        (stored_fit(dt.date(2025, 3, 4), 1000), None),  # 6 days old, the same customers
        (stored_fit(dt.date(2025, 3, 3), 1000), "7 days old"),
        (stored_fit(dt.date(2025, 3, 9), 1100), None),  # 1,000 is 9.1 % below 1,100: within 10 %
        (stored_fit(dt.date(2025, 3, 9), 1000 / 1.1 - 1), "moved by 10.1%"),  # 909 -> 1,000: +10.01 %
        (stored_fit(dt.date(2025, 3, 9), 1200), "moved by 16.7%"),  # 1,200 -> 1,000: -16.7 %
        (stored_fit(dt.date(2025, 3, 11), 1000), "after the reference date"),
        (stored_fit(dt.date(2025, 3, 9), 1000, "older/0"), "format 'older/0'"),
    ],
)
def test_the_customer_models_are_refitted_weekly_or_when_the_base_moved(fit, reason):
    found = refit_reason(fit, dt.date(2025, 3, 10), 1000, REFIT_SETTINGS)

    assert found is None if reason is None else reason in found
