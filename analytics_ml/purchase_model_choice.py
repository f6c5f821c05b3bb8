"""Choosing the purchase model (BG/NBD, MBG/NBD or Pareto/NBD) by a calibration/holdout split of
the store's own history.

Each model is fitted on the calibration period (every customer's history up to a split day, for the
customers who had bought by then) and judged on the holdout period after it, as Fader, Hardie & Lee
(2005) and Batislam et al. (2007) compare them on a calibration and a holdout period:

- the holdout log-likelihood: sum over customers of log P(X(T, T+t*) = x* | x, t_x, T), the
  probability the model gave, from the calibration history alone, to the number of purchases x* the
  customer made in the t* days of the holdout;
- the error per frequency group: customers grouped by their calibration repeat purchases (0, 1, ...,
  6 and 7 or more, the groups of Fader, Hardie & Lee's figure 4), the mean predicted E[X* | x, t_x, T]
  against the mean actual x* in each group; the figure is the customer-weighted mean absolute
  difference of the group means (purchases per customer).

The conditional PMF of a model that lets a live customer drop out only right after a purchase
(BG/NBD, MBG/NBD) follows from the posterior given alive, lambda ~ Gamma(r+x, alpha+T) and
p ~ Beta(a, b+k) (k the chances to drop out so far, see :mod:`analytics_ml.clv`): with N the purchases
a live customer would make in t* (negative binomial) and J the purchase after which he drops out,
X* = min(N, J), so P(X* = 0 | alive) = P(N = 0) and, for x* >= 1,

  P(X* = x* | alive) = B(a, b+k+x*-1)/B(a, b+k) P(N = x*) + B(a+1, b+k+x*-1)/B(a, b+k) P(N > x*).

For the Pareto/NBD, given alive, lambda ~ Gamma(r+x, alpha+T) and mu ~ Gamma(s, beta+T) independently
(Fader & Hardie 2005 note, section 5), and the customer either lives through the holdout or dies at
tau in (0, t*]:

  P(X* = x* | alive) = (b'/(b'+t*))^s P(N(t*) = x*) + integral_0^t* s b'^s/(b'+tau)^(s+1) P(N(tau) = x*) dtau

with b' = beta + T, evaluated by Gauss-Legendre quadrature (the integrand is smooth and bounded). In
both, P(X* = x* | x, t_x, T) = P(alive) P(X* = x* | alive) + (1 - P(alive)) [x* = 0]. The tests check
each PMF sums to 1 and its mean is the model's closed-form conditional expectation.

The rule: the model with the highest holdout log-likelihood among those that let a customer drop
out before a repeat purchase (MBG/NBD and Pareto/NBD). BG/NBD is fitted and judged too, and its
figures are recorded beside the others', but it is not eligible: it holds every one-time buyer alive
with probability 1 however long ago they bought, which makes its churn probability 0 for about half
of a typical store's customers by assumption rather than by evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import betainc, betaln, gammaln, logsumexp

from analytics_ml import clv

HOLDOUT_MAX_DAYS = 180
"""The longest holdout: half a year of purchases judges the models well without leaving the
calibration period short (the choice uses at most a third of the history, see holdout_days)."""
FREQUENCY_GROUPS = 7
"""Calibration frequencies 0 to 6 are groups of their own; 7 or more are one group."""
QUADRATURE_NODES = 32
"""Gauss-Legendre nodes of the Pareto/NBD's integral over the time of death in the holdout."""

MODEL_NAMES = {key: spec.name for key, spec in clv.PURCHASE_MODELS.items()}
ELIGIBLE = ("mbgnbd", "pareto_nbd")
"""The models the choice may fall on: those under which a one-time buyer may have dropped out."""


@dataclass(frozen=True)
class HoldoutFigures:
    """One model's calibration fit and its figures on the holdout."""

    model: str
    params: clv.PurchaseParams
    holdout_log_likelihood: float
    frequency_group_error: float
    groups: list[dict[str, float | str]]


@dataclass(frozen=True)
class PurchaseModelChoice:
    """The chosen model's key and every candidate's figures, the holdout's length and size."""

    chosen: str
    holdout_days: int
    calibration_customers: float
    candidates: list[HoldoutFigures]

    @property
    def chosen_params(self) -> clv.PurchaseParams:
        """The chosen model's fit on the calibration period."""
        return next(figures.params for figures in self.candidates if figures.model == self.chosen)


def holdout_days(history_days: int) -> int:
    """A third of the store's history, at most HOLDOUT_MAX_DAYS; at least a day of holdout and of
    calibration are needed."""
    days = min(HOLDOUT_MAX_DAYS, history_days // 3)
    if days < 1:
        raise ValueError(f"a history of {history_days} day(s) is too short to split into calibration and holdout")
    return days


def summarise_purchase_times(
    customer: ArrayLike, times: ArrayLike, n: int, end: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per customer 0..n-1, from the times of their repeat purchases (time 0 the first purchase):
    x and t_x counting the purchases up to ``end`` (a time per customer), and the purchases after it."""
    customer = np.asarray(customer, dtype=int)
    times = np.asarray(times, dtype=float)
    end = np.broadcast_to(np.asarray(end, dtype=float), (n,))
    before = times <= end[customer]
    x = np.bincount(customer[before], minlength=n).astype(float)
    t_x = np.zeros(n)
    np.maximum.at(t_x, customer[before], times[before])
    after = np.bincount(customer[~before], minlength=n).astype(float)
    return x, t_x, after


def conditional_purchase_pmf(
    params: clv.PurchaseParams, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, *, count: ArrayLike
) -> np.ndarray:
    """P(X(T, T+t) = count | x, t_x, T): the exponential of :func:`conditional_purchase_log_pmf`."""
    return np.exp(conditional_purchase_log_pmf(params, t, x, t_x, T, count=count))


def conditional_purchase_log_pmf(
    params: clv.PurchaseParams, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, *, count: ArrayLike
) -> np.ndarray:
    """log P(X(T, T+t) = count | x, t_x, T) under the model ``params`` were fitted for (module
    docstring), in log space throughout, so an unlikely count is a finite log, not log(0)."""
    x, t_x, T, count = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T, count)))
    alive = clv.probability_alive(params, x, t_x, T)
    if isinstance(params, clv.ParetoNBDParams):
        log_if_alive = _pareto_nbd_log_pmf_if_alive(params, t, count, x, T)
    else:
        log_if_alive = _beta_geometric_log_pmf_if_alive(params, t, count, x, T)
    with np.errstate(divide="ignore"):  # log(0): alive for sure (BG/NBD's one-time buyers), or dead for sure
        log_alive, log_dead = np.log(alive), np.log1p(-alive)
    return np.logaddexp(log_alive + log_if_alive, np.where(count == 0, log_dead, -np.inf))


def _log_nbd_pmf(count: np.ndarray, shape: np.ndarray, rate: np.ndarray, t: ArrayLike) -> np.ndarray:
    """log P(N = count) for N ~ Poisson(lambda t), lambda ~ Gamma(shape, rate): the negative binomial."""
    return (
        gammaln(shape + count)
        - gammaln(shape)
        - gammaln(count + 1)
        + shape * (np.log(rate) - np.log(rate + t))
        + count * (np.log(t) - np.log(rate + t))
    )


def _log_nbd_beyond(count: np.ndarray, shape: np.ndarray, rate: np.ndarray, t: float) -> np.ndarray:
    """log P(N > count) for the negative binomial of :func:`_log_nbd_pmf`: P(N <= k) = I_p(shape, k+1)
    with p = rate/(rate+t), so P(N > k) = I_(1-p)(k+1, shape), the regularized incomplete beta."""
    with np.errstate(divide="ignore"):  # a tail below the smallest double is log 0
        return np.log(betainc(count + 1, shape, t / (rate + t)))


def _beta_geometric_log_pmf_if_alive(
    params: clv.BGNBDParams | clv.MBGNBDParams, t: float, count: np.ndarray, x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    shape, rate = params.r + x, params.alpha + T
    b = params.b + x + (1.0 if isinstance(params, clv.MBGNBDParams) else 0.0)
    previous = np.maximum(count - 1, 0.0)
    survived_all = betaln(params.a, b + previous) - betaln(params.a, b) + _log_nbd_pmf(count, shape, rate, t)
    dropped_at_last = betaln(params.a + 1, b + previous) - betaln(params.a, b) + _log_nbd_beyond(count, shape, rate, t)
    return np.where(count > 0, np.logaddexp(survived_all, dropped_at_last), _log_nbd_pmf(count, shape, rate, t))


def _pareto_nbd_log_pmf_if_alive(
    params: clv.ParetoNBDParams, t: float, count: np.ndarray, x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    shape, rate, death_rate = params.r + x, params.alpha + T, params.beta + T
    nodes, node_weights = np.polynomial.legendre.leggauss(QUADRATURE_NODES)
    taus = (nodes + 1.0) * t / 2.0
    # The density of the time of death at each node, times the chance of count purchases by then.
    log_died_at = (
        np.log(params.s)
        + params.s * np.log(death_rate[..., None])
        - (params.s + 1) * np.log(death_rate[..., None] + taus)
        + _log_nbd_pmf(count[..., None], shape[..., None], rate[..., None], taus)
    )
    log_died = logsumexp(log_died_at + np.log(node_weights * t / 2.0), axis=-1)
    log_lived = params.s * (np.log(death_rate) - np.log(death_rate + t)) + _log_nbd_pmf(count, shape, rate, t)
    return np.logaddexp(log_lived, log_died)


def frequency_group_labels(x: ArrayLike) -> np.ndarray:
    """'0' to '6' and '7+': the calibration frequency groups."""
    x = np.asarray(x, dtype=int)
    return np.where(x >= FREQUENCY_GROUPS, f"{FREQUENCY_GROUPS}+", x.astype(str))


def frequency_group_comparison(
    x: ArrayLike, actual: ArrayLike, predicted: ArrayLike, weights: ArrayLike
) -> tuple[float, list[dict[str, float | str]]]:
    """Per frequency group: customers, mean actual and mean predicted holdout purchases; and the
    customer-weighted mean absolute difference of the group means."""
    frame = pd.DataFrame(
        {
            "group": frequency_group_labels(x),
            "customers": np.asarray(weights, dtype=float),
            "actual": np.asarray(actual, dtype=float) * weights,
            "predicted": np.asarray(predicted, dtype=float) * weights,
        }
    )
    sums = frame.groupby("group", sort=True)[["customers", "actual", "predicted"]].sum()
    means = sums[["actual", "predicted"]].div(sums["customers"], axis=0)
    error = float(np.sum(sums["customers"] * (means["predicted"] - means["actual"]).abs()) / sums["customers"].sum())
    groups = [
        {
            "group": str(group),
            "customers": float(sums.at[group, "customers"]),
            "actual": float(means.at[group, "actual"]),
            "predicted": float(means.at[group, "predicted"]),
        }
        for group in sums.index
    ]
    return error, groups


def judge_on_holdout(
    model: str,
    params: clv.PurchaseParams,
    calibration: tuple[np.ndarray, np.ndarray, np.ndarray],
    holdout_purchases: np.ndarray,
    weights: np.ndarray,
    *,
    days: int,
) -> HoldoutFigures:
    """One calibration fit's holdout log-likelihood and frequency-group error."""
    x, t_x, T = calibration
    log_pmf = conditional_purchase_log_pmf(params, days, x, t_x, T, count=holdout_purchases)
    predicted = clv.expected_purchases(params, days, x, t_x, T)
    error, groups = frequency_group_comparison(x, holdout_purchases, predicted, weights)
    return HoldoutFigures(
        model=model,
        params=params,
        holdout_log_likelihood=float(np.sum(weights * log_pmf)),
        frequency_group_error=error,
        groups=groups,
    )


def choose_purchase_model(
    calibration: tuple[ArrayLike, ArrayLike, ArrayLike],
    holdout_purchases: ArrayLike,
    days: int,
    weights: ArrayLike | None = None,
) -> PurchaseModelChoice:
    """Fit every model on the calibration histories (x, t_x, T up to the split), judge each on the
    purchases each customer made in the ``days`` after it, and choose (module docstring)."""
    x, t_x, T = (np.asarray(column, dtype=float) for column in calibration)
    holdout = np.asarray(holdout_purchases, dtype=float)
    if x.size == 0:
        raise ValueError("no customer had bought before the holdout began: the purchase model cannot be chosen")
    if np.any(holdout < 0) or np.any(holdout != np.round(holdout)):
        raise ValueError("holdout purchases must be whole numbers >= 0")
    w = np.ones(x.shape) if weights is None else np.asarray(weights, dtype=float)
    # One row per distinct (x, t_x, T, x*): the PMF and the expectations are the same within one.
    (x, t_x, T, holdout), w = clv.merge_identical_rows((x, t_x, T, holdout), w)
    candidates = [
        judge_on_holdout(model, clv.fit_purchase_model(model, x, t_x, T, w), (x, t_x, T), holdout, w, days=days)
        for model in clv.PURCHASE_MODELS
    ]
    eligible = [figures for figures in candidates if figures.model in ELIGIBLE]
    best = max(eligible, key=lambda figures: figures.holdout_log_likelihood)
    return PurchaseModelChoice(
        chosen=best.model, holdout_days=days, calibration_customers=float(w.sum()), candidates=candidates
    )
