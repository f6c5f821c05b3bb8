"""BG/NBD, MBG/NBD and Pareto/NBD purchase counts and Gamma-Gamma spend for customer lifetime value.

Per customer, all times in one unit chosen by the caller (days or weeks; alpha and
every horizon t are then in that unit):

  x    frequency: number of repeat purchases (purchases after the first one)
  t_x  recency: time from the first to the last purchase (0 when x = 0)
  T    age: time from the first purchase to the end of observation (T >= t_x)
  m    monetary value: mean value of the x repeat purchases (Gamma-Gamma only)

BG/NBD (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way: An Alternative
to the Pareto/NBD Model", Marketing Science 24(2)). While alive a customer buys as a
Poisson process with rate lambda ~ Gamma(r, alpha); after each repeat purchase they drop
out with probability p ~ Beta(a, b). Individual likelihood (paper eq. 6):

  L = B(a, b+x)/B(a, b) * Gamma(r+x) alpha^r / (Gamma(r) (alpha+T)^(r+x))
    + [x > 0] B(a+1, b+x-1)/B(a, b) * Gamma(r+x) alpha^r / (Gamma(r) (alpha+t_x)^(r+x))

  P(alive | x, t_x, T) = 1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))  (eq. 12)

so a customer without repeat purchases is alive with probability 1 (dropout can only
happen right after a repeat purchase), and the conditional expectation (eq. 10) is

  E[Y(t) | x, t_x, T] = P(alive) (a+b+x-1)/(a-1)
                        * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]

with z = t/(alpha+T+t). Everything is evaluated in log space (gammaln, betaln,
logaddexp, expit). scipy's hyp2f1 loses accuracy or overflows when its first two
arguments grow with x (heavy buyers, z near 1), so eq. 10 uses Euler's transformation
2F1(A, B; C; z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z), which turns the bracket into

  1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)

whose first two arguments do not depend on x and whose series converges faster as x
grows. That form overflows in turn when a is large (a - 1 > r + x: a fit on a store of one-time
buyers drives a up), so each customer takes the form whose 2F1 has C - A - B >= 0, finite up to
z = 1: the untransformed one when a - 1 >= r + x, else Euler's. The result is clipped at 0
against round-off for t -> 0, and a is kept at least
1e-8 away from 1, where (a+b+x-1)/(a-1) is a removable 0/0.

MBG/NBD (Batislam, Denizel & Filiztekin 2007, "Empirical validation and comparison of models
for customer base analysis", IJRM 24(3)). As BG/NBD, but a customer may also drop out right after
the first purchase, so one with x repeat purchases has had k = x + 1 chances to drop out (BG/NBD:
k = x). With k in place of x in the beta functions, the paper's likelihood and P(alive) (their
equation numbers are not cited: not checked against the paper here; the tests recover simulated
parameters instead):

  L = B(a, b+x+1)/B(a, b) * Gamma(r+x) alpha^r / (Gamma(r) (alpha+T)^(r+x))
    + B(a+1, b+x)/B(a, b) * Gamma(r+x) alpha^r / (Gamma(r) (alpha+t_x)^(r+x))

  P(alive | x, t_x, T) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))

so a one-time buyer's P(alive) falls with T. Given alive, the dropout chance is Beta(a, b+x+1)
instead of BG/NBD's Beta(a, b+x), so E[Y(t) | x, t_x, T] is BG/NBD's eq. 10 above with b+1 for b
(the tests check it against the mean of the conditional PMF, built independently).

Pareto/NBD (Schmittlein, Morrison & Colombo 1987, "Counting Your Customers: Who Are They and What
Will They Do Next?", Management Science 33(1); the likelihood as derived in Fader & Hardie 2005, "A
Note on Deriving the Pareto/NBD Model and Related Expressions", section 3). While alive a customer
buys at rate lambda ~ Gamma(r, alpha) and dies at rate mu ~ Gamma(s, beta), at any time:

  L = Gamma(r+x) alpha^r beta^s / Gamma(r)
      * { 1/((alpha+T)^(r+x) (beta+T)^s) + s/(r+s+x) A_0 }

  A_0 = F(t_x) - F(T),  F(y) = 2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/(alpha+y)) / (alpha+y)^(r+s+x)
                                                                                  if alpha >= beta
                              2F1(r+s+x, r+x; r+s+x+1; (beta-alpha)/(beta+y)) / (beta+y)^(r+s+x)
                                                                                  if alpha < beta

with the larger of alpha and beta in the denominator, so that the argument lies in [0, 1) (the
note's stable form). P(alive) is the first term's share of L (section 5), and (section 6)

  E[Y(t) | x, t_x, T] = P(alive) (r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)].

Its likelihood is checked against numerical integration (tests), which checks scipy's hyp2f1
over the range of parameters the fit visits. Where scipy's 2F1 is not finite (it overflows or
fails when r+s+x grows with the argument near 1, at an optimizer's far steps), F is the integral
it stands for, F(y) = (r+s+x) int_y^inf (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau, by quadrature
in log space: no NaN reaches the fit; its gradient is by central differences, because
the derivatives of 2F1 by its parameters have no closed form.

Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV: Using Iso-Value Curves for Customer
Base Analysis", JMR 42(4); Fader & Hardie 2013, "The Gamma-Gamma Model of Monetary
Value"). Transaction values are Gamma(p, nu) with nu ~ Gamma(q, v) across customers,
independent of the purchase process. The mean m of x values has density

  f(m | x) = Gamma(px+q) / (Gamma(px) Gamma(q)) v^q m^(px-1) x^(px) / (v + m x)^(px+q)

and E[M | x, m] = p (v + x m) / (p x + q - 1); for x = 0 this is the population mean
p v / (q - 1), which needs q > 1.

Fitting maximises the weighted log-likelihood over log-parameters with L-BFGS-B inside
[1e-6, 1e6]. Customers sharing the same (x, t_x, T) have identical likelihood terms,
so they are merged into one weighted row first: with whole-day recency and age, a
million customers collapse to far fewer distinct rows. A fit that stops before the
optimizer converges (iteration limit, a line search that fails) still returns its last
parameters, with ``converged`` False and the optimizer's message, and warns: the caller
decides whether such parameters may be used. The weighted sums are numpy's pairwise sums of
elementwise products, never BLAS dot products, so the same data give the same fit bit for bit.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import integrate
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

LOG_PARAM_BOUNDS = (np.log(1e-6), np.log(1e6))
MAX_ITERATIONS = 15_000
"""L-BFGS-B iterations a fit may take (scipy's own default)."""
_A_AWAY_FROM_ONE = 1e-8


@dataclass(frozen=True)
class _BetaGeometricParams:
    """Fitted parameters of a model whose dropout chance p ~ Beta(a, b) comes with purchases:
    purchase rate ~ Gamma(r, alpha); log_likelihood is the weighted total over n customers;
    converged and optimizer_message are L-BFGS-B's verdict on the fit."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n: float
    converged: bool
    optimizer_message: str


@dataclass(frozen=True)
class BGNBDParams(_BetaGeometricParams):
    """Fitted BG/NBD parameters."""


@dataclass(frozen=True)
class MBGNBDParams(_BetaGeometricParams):
    """Fitted MBG/NBD parameters (the same meaning as BG/NBD's; dropout possible at time 0 too)."""


@dataclass(frozen=True)
class ParetoNBDParams:
    """Fitted Pareto/NBD parameters: purchase rate ~ Gamma(r, alpha), dropout rate ~ Gamma(s, beta)."""

    r: float
    alpha: float
    s: float
    beta: float
    log_likelihood: float
    n: float
    converged: bool
    optimizer_message: str


PurchaseParams = BGNBDParams | MBGNBDParams | ParetoNBDParams
"""A fitted purchase model: what probability_alive, expected_purchases and predicted_clv take."""


@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma parameters; n counts the customers with x > 0 used; converged and
    optimizer_message are L-BFGS-B's verdict on the fit."""

    p: float
    q: float
    v: float
    log_likelihood: float
    n: float
    converged: bool
    optimizer_message: str


@dataclass(frozen=True)
class _Optimum:
    """Where L-BFGS-B stopped: the parameters, the mean log-likelihood there and whether it converged."""

    params: tuple[float, ...]
    mean_log_likelihood: float
    converged: bool
    message: str

    def fit_record(self, weights: np.ndarray) -> dict[str, object]:
        """The fields every fitted model records besides its parameters, for ``weights`` customers."""
        return {
            "log_likelihood": float(self.mean_log_likelihood * weights.sum()),
            "n": float(weights.sum()),
            "converged": self.converged,
            "optimizer_message": self.message,
        }


def bgnbd_log_likelihood(r_alpha_a_b: Sequence[float], x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
    """Per-customer log of the BG/NBD likelihood (eq. 6, module docstring)."""
    return bgnbd_log_likelihood_with_gradient(r_alpha_a_b, x, t_x, T)[0]


def mbgnbd_log_likelihood(r_alpha_a_b: Sequence[float], x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
    """Per-customer log of the MBG/NBD likelihood (module docstring)."""
    return mbgnbd_log_likelihood_with_gradient(r_alpha_a_b, x, t_x, T)[0]


def _dropout_chances(x: np.ndarray, dropout_at_start: bool) -> np.ndarray:
    """k: the chances to drop out a customer with x repeat purchases has had (BG/NBD: one after each
    repeat purchase; MBG/NBD: one more, right after the first purchase)."""
    return x + 1.0 if dropout_at_start else x


def _beta_geometric_branches(
    r_alpha_a_b: Sequence[float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray, k: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The logs of the likelihood's two terms without their common factor: still alive (survived all k
    chances to drop out), and dropped out at the last one (log 0 where k = 0)."""
    r, alpha, a, b = r_alpha_a_b
    chances = k > 0
    alive = betaln(a, b + k) - (r + x) * np.log(alpha + T)
    # The dropped-out branch exists only for k > 0; a dummy k = 1 keeps betaln finite
    # elsewhere before the branch is replaced by log(0).
    dropped = betaln(a + 1, b + np.where(chances, k, 1.0) - 1) - (r + x) * np.log(alpha + t_x)
    return alive, np.where(chances, dropped, -np.inf)


def _beta_geometric_log_likelihood_with_gradient(
    r_alpha_a_b: Sequence[float], x: ArrayLike, t_x: ArrayLike, T: ArrayLike, *, dropout_at_start: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The BG/NBD (``dropout_at_start`` False) or MBG/NBD (True) log-likelihood per customer and its
    gradient, with k the chances to drop out (:func:`_dropout_chances`); see
    :func:`bgnbd_log_likelihood_with_gradient` for the formulas, in which MBG/NBD has k for x in the
    beta functions."""
    r, alpha, a, b = r_alpha_a_b
    x, t_x, T = _purchase_history(x, t_x, T)
    k = _dropout_chances(x, dropout_at_start)
    alive, dropped = _beta_geometric_branches(r_alpha_a_b, x, t_x, T, k)
    branches = np.logaddexp(alive, dropped)
    log_likelihood = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b) + branches
    w_alive, w_dropped = np.exp(alive - branches), np.exp(dropped - branches)
    # w_dropped is 0 where k = 0; a dummy k = 1 keeps psi(b+k-1) finite there, as in the branches.
    k_or_1 = np.where(k > 0, k, 1.0)
    psi_abk = digamma(a + b + k)
    gradient = np.column_stack(
        [
            digamma(r + x) - digamma(r) + np.log(alpha) - w_alive * np.log(alpha + T) - w_dropped * np.log(alpha + t_x),
            r / alpha - (r + x) * (w_alive / (alpha + T) + w_dropped / (alpha + t_x)),
            digamma(a + b) - digamma(a) + w_alive * (digamma(a) - psi_abk) + w_dropped * (digamma(a + 1) - psi_abk),
            digamma(a + b)
            - digamma(b)
            + w_alive * (digamma(b + k) - psi_abk)
            + w_dropped * (digamma(b + k_or_1 - 1) - psi_abk),
        ]
    )
    return log_likelihood, gradient


def bgnbd_log_likelihood_with_gradient(
    r_alpha_a_b: Sequence[float], x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`bgnbd_log_likelihood` per customer and its partial derivatives by (r, alpha, a, b),
    shape (n, 4), from one evaluation of the two terms (what each step of the fit needs).

    With L = common + log(e^A + e^D) and the branch weights w_A = e^(A-L'), w_D = e^(D-L') (L' the
    logaddexp; w_D = 0 without repeat purchases), and d/dp log B(p, q) = psi(p) - psi(p+q):

      dL/dr     = psi(r+x) - psi(r) + log alpha - w_A log(alpha+T) - w_D log(alpha+t_x)
      dL/dalpha = r/alpha - (r+x) (w_A/(alpha+T) + w_D/(alpha+t_x))
      dL/da     = psi(a+b) - psi(a) + w_A (psi(a) - psi(a+b+x)) + w_D (psi(a+1) - psi(a+b+x))
      dL/db     = psi(a+b) - psi(b) + w_A (psi(b+x) - psi(a+b+x)) + w_D (psi(b+x-1) - psi(a+b+x))
    """
    return _beta_geometric_log_likelihood_with_gradient(r_alpha_a_b, x, t_x, T, dropout_at_start=False)


def mbgnbd_log_likelihood_with_gradient(
    r_alpha_a_b: Sequence[float], x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`mbgnbd_log_likelihood` per customer and its gradient by (r, alpha, a, b): the formulas
    of :func:`bgnbd_log_likelihood_with_gradient` with k = x + 1 in place of x in every beta and
    digamma term (and w_D > 0 for every customer)."""
    return _beta_geometric_log_likelihood_with_gradient(r_alpha_a_b, x, t_x, T, dropout_at_start=True)


def fit_purchase_model(
    model: str,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    max_iterations: int = MAX_ITERATIONS,
    start: PurchaseParams | None = None,
) -> PurchaseParams:
    """Maximum-likelihood fit of the purchase model ``model`` (a key of PURCHASE_MODELS: ``bgnbd``,
    ``mbgnbd``, ``pareto_nbd``); ``weights`` count customers per row (default 1). ``start``, a fit
    of the same model on related data (the calibration period), is where the search begins: near
    the optimum, it takes fewer iterations than from all-ones.

    The scaffolding every model shares: check the histories, merge identical (x, t_x, T) rows into
    weights, maximise the weighted log-likelihood of the 4 parameters with the model's gradient
    (analytic for BG/NBD and MBG/NBD, central differences for Pareto/NBD)."""
    if model not in PURCHASE_MODELS:
        raise ValueError(f"unknown purchase model {model!r}: one of {', '.join(PURCHASE_MODELS)}")
    spec = PURCHASE_MODELS[model]
    x, t_x, T = _purchase_history(frequency, recency, T)
    (x, t_x, T), w = merge_identical_rows((x, t_x, T), _weights(weights, x))

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(log_params)
        return _negative_mean(w, params, *spec.log_likelihood_with_gradient(params, x, t_x, T))

    if start is not None and not isinstance(start, spec.params_type):
        raise ValueError(f"a {spec.name} fit cannot start from {type(start).__name__}")
    optimum = _maximise(
        objective,
        n_params=4,
        max_iterations=max_iterations,
        model=spec.name,
        start=None if start is None else _parameter_vector(start),
    )
    names = [field.name for field in fields(spec.params_type)[:4]]
    return spec.params_type(**dict(zip(names, optimum.params, strict=True)), **optimum.fit_record(w))


def fit_bgnbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    max_iterations: int = MAX_ITERATIONS,
) -> BGNBDParams:
    """Maximum-likelihood BG/NBD fit: :func:`fit_purchase_model` of ``bgnbd``."""
    return fit_purchase_model("bgnbd", frequency, recency, T, weights, max_iterations=max_iterations)


def _beta_geometric_probability_alive(
    params: BGNBDParams | MBGNBDParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> np.ndarray:
    """1 / (1 + [k > 0] a/(b+k-1) ((alpha+T)/(alpha+t_x))^(r+x)), k the chances to drop out."""
    x, t_x, T = _purchase_history(x, t_x, T)
    k = _dropout_chances(x, isinstance(params, MBGNBDParams))
    chances = k > 0
    log_odds_dropped = (
        np.log(params.a)
        - np.log(params.b + np.where(chances, k, 1.0) - 1)
        + (params.r + x) * (np.log(params.alpha + T) - np.log(params.alpha + t_x))
    )
    return expit(-np.where(chances, log_odds_dropped, -np.inf))


def bgnbd_probability_alive(params: BGNBDParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
    """P(alive | x, t_x, T), eq. 12; exactly 1 for customers with x = 0."""
    return _beta_geometric_probability_alive(params, x, t_x, T)


def mbgnbd_probability_alive(params: MBGNBDParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)) (Batislam et al. 2007),
    below 1 for one-time buyers too."""
    return _beta_geometric_probability_alive(params, x, t_x, T)


def bgnbd_churn_probability(params: BGNBDParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
    """1 - P(alive | x, t_x, T)."""
    return 1.0 - bgnbd_probability_alive(params, x, t_x, T)


def _beta_geometric_expected_purchases(
    params: BGNBDParams | MBGNBDParams, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> np.ndarray:
    """P(alive) (a+b+k-1)/(a-1) [1 - (1-z)^(a-1) 2F1(a+b'-1-r, a-1; a+b+k-1; z)], b' = b + k - x: BG/NBD's
    eq. 10 in the Euler-transformed form of the module docstring, and MBG/NBD's (whose posterior
    dropout chance given alive is Beta(a, b+x+1) instead of Beta(a, b+x))."""
    x, t_x, T = _purchase_history(x, t_x, T)
    b = params.b + (1.0 if isinstance(params, MBGNBDParams) else 0.0)
    a = _away_from_one(params.a)
    # The bracket depends on the customer only through (x, T): evaluated once per distinct pair.
    pair_x, pair_T, pair_of = _distinct_pairs(x, T)
    bracket = _beta_geometric_bracket(pair_x, pair_T, r=params.r, alpha=params.alpha, a=a, b=b, t=t)[pair_of]
    expected_if_alive = (a + b + x - 1) / (a - 1) * (1.0 - bracket)
    return np.maximum(expected_if_alive * _beta_geometric_probability_alive(params, x, t_x, T), 0.0)


def _beta_geometric_bracket(
    x: np.ndarray, T: np.ndarray, *, r: float, alpha: float, a: float, b: float, t: float
) -> np.ndarray:
    """(1-z)^(a-1) 2F1(a+b'-1-r, a-1; a+b+x-1; z) of :func:`_beta_geometric_expected_purchases`, or the
    equal untransformed (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z), z = t / (alpha+T+t)."""
    log_one_minus_z = np.log(alpha + T) - np.log(alpha + T + t)
    z = t / (alpha + T + t)
    # Of the two equal forms, each customer takes the one whose 2F1 has C - A - B >= 0, so that it
    # stays finite as z -> 1: the 2F1 of the other grows like (1-z)^(C-A-B) and overflows to inf
    # (times a prefactor that underflows to 0: NaN) for heavy buyers (x large) in the untransformed
    # form and for a large a (a fit on one-time buyers only) in the transformed one.
    untransformed = a - 1 >= r + x
    bracket = np.empty_like(z)
    bracket[untransformed] = np.exp((r + x[untransformed]) * log_one_minus_z[untransformed]) * hyp2f1(
        r + x[untransformed], b + x[untransformed], a + b + x[untransformed] - 1, z[untransformed]
    )
    transformed = ~untransformed
    bracket[transformed] = np.exp((a - 1) * log_one_minus_z[transformed]) * hyp2f1(
        a + b - 1 - r, a - 1, a + b + x[transformed] - 1, z[transformed]
    )
    return bracket


def _distinct_pairs(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct pairs of two same-shape arrays' elements, as their first values, their second
    values, and for each element the index of its pair. A complex number per pair hashes both values
    exactly: pandas' factorize finds the distinct pairs in one pass, where np.unique(axis=0) sorts
    rows (docs/benchmarks.md)."""
    codes, pairs = pd.factorize(first.ravel() + 1j * second.ravel())
    return pairs.real, pairs.imag, codes.reshape(first.shape)


def bgnbd_expected_purchases(params: BGNBDParams, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
    """E[number of purchases in (T, T+t] | x, t_x, T], eq. 10 in the Euler-transformed
    form described in the module docstring."""
    return _beta_geometric_expected_purchases(params, t, x, t_x, T)


def mbgnbd_expected_purchases(params: MBGNBDParams, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
    """E[number of purchases in (T, T+t] | x, t_x, T] of the MBG/NBD (Batislam et al. 2007):
    BG/NBD's eq. 10 with b + 1 for b, in the same Euler-transformed form."""
    return _beta_geometric_expected_purchases(params, t, x, t_x, T)


# ---------------------------------------------------------------------------------------------
# Pareto/NBD


@dataclass(frozen=True)
class _ParetoNBDHistories:
    """Purchase histories with the distinct (x, y) pairs, y = t_x or T, that the Pareto/NBD's
    2F1 terms depend on: found once, then evaluated for every parameter vector the fit tries."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    pair_x: np.ndarray
    pair_y: np.ndarray
    recency_pair: np.ndarray
    age_pair: np.ndarray

    @classmethod
    def of(cls, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> _ParetoNBDHistories:
        x, t_x, T = _purchase_history(x, t_x, T)
        n = x.size
        pair_x, pair_y, pair_of = _distinct_pairs(
            np.concatenate([x.ravel(), x.ravel()]), np.concatenate([t_x.ravel(), T.ravel()])
        )
        return cls(
            x=x,
            t_x=t_x,
            T=T,
            pair_x=pair_x,
            pair_y=pair_y,
            recency_pair=pair_of[:n].reshape(x.shape),
            age_pair=pair_of[n:].reshape(x.shape),
        )


def pareto_nbd_log_likelihood(
    r_alpha_s_beta: Sequence[float], x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> np.ndarray:
    """Per-customer log of the Pareto/NBD likelihood (Fader & Hardie 2005 note, section 3; module
    docstring): log of Gamma(r+x) alpha^r beta^s / Gamma(r) {alive + s/(r+s+x) A_0}."""
    return _pareto_nbd_log_likelihood(r_alpha_s_beta, _ParetoNBDHistories.of(x, t_x, T))


def _pareto_nbd_log_likelihood(r_alpha_s_beta: Sequence[float], histories: _ParetoNBDHistories) -> np.ndarray:
    r, alpha, s, beta = r_alpha_s_beta
    alive, dropped = _pareto_nbd_branches(r_alpha_s_beta, histories)
    common = gammaln(r + histories.x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    return common + np.logaddexp(alive, dropped)


def _pareto_nbd_branches(
    r_alpha_s_beta: Sequence[float], histories: _ParetoNBDHistories
) -> tuple[np.ndarray, np.ndarray]:
    """The logs of the two terms in braces: alive at T, log (alpha+T)^-(r+x) (beta+T)^-s, and died in
    (t_x, T], log s/(r+s+x) + log A_0 (log 0 where t_x = T).

    A_0 = F(t_x) - F(T) with F(y) = 2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/(alpha+y)) / (alpha+y)^(r+s+x)
    when alpha >= beta, and 2F1(r+s+x, r+x; r+s+x+1; (beta-alpha)/(beta+y)) / (beta+y)^(r+s+x)
    otherwise: the note's choice, which keeps the argument in [0, 1). The 2F1 depends on the
    customer only through (x, y), so it is evaluated once per distinct pair, far fewer than the
    distinct histories. log A_0 = log F(t_x) + log(1 - F(T)/F(t_x)), F decreasing in y.
    """
    r, alpha, s, beta = r_alpha_s_beta
    x, t_x, T = histories.x, histories.t_x, histories.T
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    log_f = _pareto_nbd_log_f(r_alpha_s_beta, histories.pair_x, histories.pair_y)
    log_f_recency, log_f_age = log_f[histories.recency_pair], log_f[histories.age_pair]
    died_in_window = t_x < T
    # The placeholder -1 keeps log1mexp finite where t_x = T, before the branch is set to log(0); F(T)
    # < F(t_x) for T > t_x, and the difference is kept below 0 where two ways of computing F meet.
    ratio = np.where(died_in_window, np.minimum(log_f_age - log_f_recency, -np.finfo(float).eps), -1.0)
    dropped = np.log(s) - np.log(r + s + x) + log_f_recency + _log1mexp(ratio)
    return alive, np.where(died_in_window, dropped, -np.inf)


def _pareto_nbd_log_f(r_alpha_s_beta: Sequence[float], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log F(y) of :func:`_pareto_nbd_branches` at the pairs (x, y): by scipy's 2F1, or where that
    is not finite (it overflows or fails where its parameters grow large with the argument near 1,
    at the optimizer's far steps) by :func:`_pareto_nbd_log_f_by_quadrature`."""
    r, alpha, s, beta = r_alpha_s_beta
    if alpha >= beta:
        larger, second = alpha, s + 1
    else:
        larger, second = beta, r + x
    a = r + s + x
    z = abs(alpha - beta) / (larger + y)
    # The values scipy cannot give are NaN, inf or 0; those are replaced below, so their warnings are not news.
    with np.errstate(divide="ignore", invalid="ignore"):
        log_f = np.log(hyp2f1(a, second, a + 1, z)) - a * np.log(larger + y)
    for pair in np.flatnonzero(~np.isfinite(log_f)):
        log_f[pair] = _pareto_nbd_log_f_by_quadrature(r_alpha_s_beta, float(x[pair]), float(y[pair]))
    return log_f


def _pareto_nbd_log_f_by_quadrature(r_alpha_s_beta: Sequence[float], x: float, y: float) -> float:
    """log F(y) from the integral F's 2F1 stands for (the note, section 3; either form):

      F(y) = (r+s+x) integral over (y, inf) of (alpha+tau)^-(r+x) (beta+tau)^-(s+1) d tau,

    in log space: the integrand is divided by its value at y, from which it falls, and integrated by
    adaptive quadrature. It is log-convex, so it lies above its tangent (in log) at y, and the
    scaled integral is at least 1 / kappa, kappa = (r+x)/(alpha+y) + (s+1)/(beta+y) the rate of
    its fall there: the quadrature is kept at least at that bound, which it tends to as the fall
    steepens and which catches a fall too steep for the quadrature's nodes."""
    r, alpha, s, beta = r_alpha_s_beta

    def log_integrand(tau: float) -> float:
        return -(r + x) * math.log(alpha + tau) - (s + 1) * math.log(beta + tau)

    start = log_integrand(y)
    # full_output: a tolerance the quadrature cannot reach is reported in its output, not warned.
    area = integrate.quad(
        lambda tau: math.exp(log_integrand(tau) - start), y, math.inf, epsabs=0, epsrel=1e-10, limit=200, full_output=1
    )[0]
    fall_rate = (r + x) / (alpha + y) + (s + 1) / (beta + y)
    return math.log(r + s + x) + start + math.log(max(area, 1.0 / fall_rate))


def _log1mexp(d: np.ndarray) -> np.ndarray:
    """log(1 - e^d) for d < 0, accurate at both ends (Maechler 2012, "Accurately Computing log(1 - exp(-|a|))")."""
    return np.where(d > -np.log(2.0), np.log(-np.expm1(d)), np.log1p(-np.exp(d)))


PARETO_NBD_GRADIENT_STEP = 1e-6
"""Relative step of the Pareto/NBD gradient's central differences (error about step^2, 1e-12)."""


def pareto_nbd_log_likelihood_with_gradient(
    r_alpha_s_beta: Sequence[float], x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pareto_nbd_log_likelihood` per customer and its partial derivatives by (r, alpha, s,
    beta), shape (n, 4), by central differences with relative step PARETO_NBD_GRADIENT_STEP.

    The derivatives of 2F1 by its parameters have no closed form, so the gradient is numerical;
    tests check it against differences at another step and the fit against the published CDNOW
    optimum."""
    params = np.asarray(r_alpha_s_beta, dtype=float)
    histories = _ParetoNBDHistories.of(x, t_x, T)
    columns = []
    for index in range(4):
        step = PARETO_NBD_GRADIENT_STEP * params[index]
        up, down = params.copy(), params.copy()
        up[index] += step
        down[index] -= step
        difference = _pareto_nbd_log_likelihood(up, histories) - _pareto_nbd_log_likelihood(down, histories)
        columns.append(difference / (2 * step))
    return _pareto_nbd_log_likelihood(params, histories), np.column_stack(columns)


def pareto_nbd_probability_alive(params: ParetoNBDParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
    """P(alive | x, t_x, T) = Gamma(r+x) alpha^r beta^s / (Gamma(r) (alpha+T)^(r+x) (beta+T)^s) / L
    (the note, section 5): the alive term's share of the likelihood."""
    alive, dropped = _pareto_nbd_branches(_pareto_nbd_vector(params), _ParetoNBDHistories.of(x, t_x, T))
    return np.exp(alive - np.logaddexp(alive, dropped))


def pareto_nbd_expected_purchases(
    params: ParetoNBDParams, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> np.ndarray:
    """E[Y(t) | x, t_x, T] = P(alive) (r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)]
    (the note, section 6); at s = 1 the bracket over (s-1) is its limit log((beta+T+t)/(beta+T))."""
    x, t_x, T = _purchase_history(x, t_x, T)
    r, alpha, s, beta = _pareto_nbd_vector(params)
    log_growth = np.log(beta + T + t) - np.log(beta + T)
    near_one = abs(s - 1.0) < _A_AWAY_FROM_ONE
    lifetime_share = log_growth if near_one else -np.expm1(-(s - 1.0) * log_growth) / (s - 1.0)
    expected_if_alive = (r + x) * (beta + T) / (alpha + T) * lifetime_share
    return expected_if_alive * pareto_nbd_probability_alive(params, x, t_x, T)


def _pareto_nbd_vector(params: ParetoNBDParams) -> tuple[float, float, float, float]:
    return params.r, params.alpha, params.s, params.beta


def _parameter_vector(params: PurchaseParams) -> np.ndarray:
    """The fitted parameters in the order of their model's likelihood: (r, alpha, a, b) or (r, alpha, s, beta)."""
    if isinstance(params, ParetoNBDParams):
        return np.array([params.r, params.alpha, params.s, params.beta])
    return np.array([params.r, params.alpha, params.a, params.b])


@dataclass(frozen=True)
class _PurchaseModel:
    """What fitting one purchase model takes: its name, its parameters' type and its log-likelihood
    with gradient (per customer, by the parameters in the type's order)."""

    name: str
    params_type: type[BGNBDParams] | type[MBGNBDParams] | type[ParetoNBDParams]
    log_likelihood_with_gradient: Callable[..., tuple[np.ndarray, np.ndarray]]


PURCHASE_MODELS = {
    "bgnbd": _PurchaseModel("BG/NBD", BGNBDParams, bgnbd_log_likelihood_with_gradient),
    "mbgnbd": _PurchaseModel("MBG/NBD", MBGNBDParams, mbgnbd_log_likelihood_with_gradient),
    "pareto_nbd": _PurchaseModel("Pareto/NBD", ParetoNBDParams, pareto_nbd_log_likelihood_with_gradient),
}
"""The purchase models by key."""


def purchase_model_key(params: PurchaseParams) -> str:
    """The key in PURCHASE_MODELS of the model ``params`` were fitted for."""
    return next(key for key, spec in PURCHASE_MODELS.items() if isinstance(params, spec.params_type))


HESSIAN_STEP = 1e-4
"""Relative step of the central differences of the gradient that give the observed information."""


def purchase_model_covariance(
    params: PurchaseParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, weights: ArrayLike | None = None
) -> np.ndarray:
    """The asymptotic covariance of the maximum-likelihood estimates, in the parameter order of
    :func:`_parameter_vector`: the inverse of the observed information, minus the Hessian of the
    weighted log-likelihood at ``params``, from central differences of its gradient (relative step
    HESSIAN_STEP). Their standard errors are the square roots of the diagonal."""
    x, t_x, T = _purchase_history(x, t_x, T)
    (x, t_x, T), w = merge_identical_rows((x, t_x, T), _weights(weights, x))
    gradient_of = PURCHASE_MODELS[purchase_model_key(params)].log_likelihood_with_gradient
    theta = _parameter_vector(params)
    hessian = np.empty((4, 4))
    for index in range(4):
        step = HESSIAN_STEP * theta[index]
        up, down = theta.copy(), theta.copy()
        up[index] += step
        down[index] -= step
        difference = gradient_of(up, x, t_x, T)[1] - gradient_of(down, x, t_x, T)[1]
        hessian[:, index] = np.sum(w[:, None] * difference, axis=0) / (2 * step)
    information = -(hessian + hessian.T) / 2
    return np.linalg.inv(information)


def fit_gamma_gamma(
    frequency: ArrayLike,
    monetary_value: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    max_iterations: int = MAX_ITERATIONS,
) -> GammaGammaParams:
    """Maximum-likelihood Gamma-Gamma fit on the customers with x > 0 (others ignored)."""
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary_value, dtype=float)
    w = _weights(weights, x)
    repeat = x > 0
    x, m, w = x[repeat], m[repeat], w[repeat]
    if not np.all(m > 0):
        raise ValueError("monetary_value must be positive for customers with frequency > 0")

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(log_params)
        return _negative_mean(
            w, params, gamma_gamma_log_likelihood(params, x, m), gamma_gamma_log_likelihood_gradient(params, x, m)
        )

    optimum = _maximise(objective, n_params=3, max_iterations=max_iterations, model="Gamma-Gamma")
    p, q, v = optimum.params
    return GammaGammaParams(p=p, q=q, v=v, **optimum.fit_record(w))


def gamma_gamma_log_likelihood(p_q_v: Sequence[float], x: ArrayLike, m: ArrayLike) -> np.ndarray:
    """Per-customer log f(m | x) of the Gamma-Gamma model (x > 0, m > 0)."""
    p, q, v = p_q_v
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(v + m * x)
    )


def gamma_gamma_log_likelihood_gradient(p_q_v: Sequence[float], x: ArrayLike, m: ArrayLike) -> np.ndarray:
    """Per-customer partial derivatives of :func:`gamma_gamma_log_likelihood` by (p, q, v), shape (n, 3):

    dL/dp = x (psi(px+q) - psi(px) + log m + log x - log(v + m x))
    dL/dq = psi(px+q) - psi(q) + log v - log(v + m x)
    dL/dv = q/v - (px+q)/(v + m x)
    """
    p, q, v = p_q_v
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    px = p * x
    psi_pxq, log_vmx = digamma(px + q), np.log(v + m * x)
    return np.column_stack(
        [
            x * (psi_pxq - digamma(px) + np.log(m) + np.log(x) - log_vmx),
            psi_pxq - digamma(q) + np.log(v) - log_vmx,
            q / v - (px + q) / (v + m * x),
        ]
    )


def gamma_gamma_expected_spend(params: GammaGammaParams, x: ArrayLike, m: ArrayLike) -> np.ndarray:
    """E[M | x, m] = p (v + x m) / (p x + q - 1); m is ignored where x = 0."""
    x = np.asarray(x, dtype=float)
    observed_total = np.where(x > 0, x * np.asarray(m, dtype=float), 0.0)
    return params.p * (params.v + observed_total) / (params.p * x + params.q - 1)


def probability_alive(params: PurchaseParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
    """P(alive | x, t_x, T) under whichever purchase model ``params`` were fitted for."""
    if isinstance(params, ParetoNBDParams):
        return pareto_nbd_probability_alive(params, x, t_x, T)
    return _beta_geometric_probability_alive(params, x, t_x, T)


def expected_purchases(params: PurchaseParams, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
    """E[purchases in (T, T+t] | x, t_x, T] under whichever purchase model ``params`` were fitted for."""
    if isinstance(params, ParetoNBDParams):
        return pareto_nbd_expected_purchases(params, t, x, t_x, T)
    return _beta_geometric_expected_purchases(params, t, x, t_x, T)


def predicted_clv(
    bg: PurchaseParams,
    gg: GammaGammaParams,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    *,
    m: ArrayLike,
    horizon: float,
    discount_rate_per_period: float = 0.0,
) -> np.ndarray:
    """Expected revenue over (T, T+horizon]: expected purchases x expected spend.

    Simplifications: spend is independent of the purchase process (the Gamma-Gamma
    assumption), so the expectation of the product is the product of expectations; the
    purchases expected in period i = 1..ceil(horizon) (the last one possibly partial)
    are discounted by (1 + d)^-i, as if all made at the period's end. Without
    discounting the increments telescope to E[Y(horizon)], which is evaluated directly.
    """
    if horizon <= 0 or discount_rate_per_period < 0:
        raise ValueError("horizon must be > 0 and discount_rate_per_period >= 0")
    if discount_rate_per_period:
        period_ends = np.minimum(np.arange(1, np.ceil(horizon) + 1), horizon)
    else:
        period_ends = np.array([float(horizon)])
    cumulative = np.stack([expected_purchases(bg, end, x, t_x, T) for end in period_ends])
    per_period = np.diff(cumulative, axis=0, prepend=0.0)
    discount = (1.0 + discount_rate_per_period) ** -np.arange(1, len(period_ends) + 1)
    return (discount @ per_period) * gamma_gamma_expected_spend(gg, x, m)


def simulate_bgnbd(
    n: int, r: float, alpha: float, a: float, b: float, *, T: ArrayLike, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw (x, t_x, T) for n customers from the BG/NBD model; T is scalar or length n.

    With N ~ Poisson(lambda T) purchases the process would make in (0, T] and
    J ~ Geometric(p) the repeat purchase after which the customer drops out,
    x = min(N, J); given N, the x-th purchase time is the x-th of N uniform order
    statistics, t_x = T Beta(x, N - x + 1).
    """
    return _simulate_beta_geometric(n, r, alpha, a, b, T=T, rng=rng, dropout_at_start=False)


def simulate_mbgnbd(
    n: int, r: float, alpha: float, a: float, b: float, *, T: ArrayLike, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw (x, t_x, T) from the MBG/NBD model: as :func:`simulate_bgnbd`, but the first chance to
    drop out comes right after the first purchase, so x = min(N, J - 1)."""
    return _simulate_beta_geometric(n, r, alpha, a, b, T=T, rng=rng, dropout_at_start=True)


def _simulate_beta_geometric(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    *,
    T: ArrayLike,
    rng: np.random.Generator,
    dropout_at_start: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    rate = rng.gamma(r, 1.0 / alpha, size=n)
    # Beta draws with a < 1 can underflow to 0, which Geometric(p) rejects.
    dropout = np.clip(rng.beta(a, b, size=n), 1e-12, 1.0)
    purchases_while_alive = rng.geometric(dropout) - (1 if dropout_at_start else 0)
    purchases_in_window = rng.poisson(rate * T)
    x = np.minimum(purchases_in_window, purchases_while_alive)
    return x.astype(float), _last_purchase_time(x, purchases_in_window, T, rng), T


def _last_purchase_time(
    x: np.ndarray, purchases_in_window: np.ndarray, window: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """t_x: the x-th of N uniform order statistics on (0, window], window Beta(x, N - x + 1); 0 where x = 0."""
    repeat = x > 0
    last_order_statistic = rng.beta(np.where(repeat, x, 1), purchases_in_window - x + 1)
    return np.where(repeat, window * last_order_statistic, 0.0)


def simulate_pareto_nbd(
    n: int, r: float, alpha: float, s: float, beta: float, *, T: ArrayLike, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw (x, t_x, T) for n customers from the Pareto/NBD model; T is scalar or length n.

    lambda ~ Gamma(r, alpha), mu ~ Gamma(s, beta), the lifetime omega ~ Exponential(mu); the customer
    buys as a Poisson(lambda) process over (0, min(omega, T)], so x ~ Poisson(lambda min(omega, T))
    and t_x is the last of x uniform times on that window.
    """
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    rate = rng.gamma(r, 1.0 / alpha, size=n)
    lifetime = rng.exponential(1.0 / rng.gamma(s, 1.0 / beta, size=n))
    window = np.minimum(lifetime, T)
    x = rng.poisson(rate * window)
    return x.astype(float), _last_purchase_time(x, x, window, rng), T


def simulate_pareto_nbd_purchase_times(
    n: int, r: float, alpha: float, s: float, beta: float, *, T: ArrayLike, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The repeat purchase times of n Pareto/NBD customers observed for T after their first purchase
    (as :func:`simulate_pareto_nbd`, which gives only their summary): (customer index, time) of each
    purchase, ordered by customer and time, for tests and benchmarks that split a history in two."""
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    rate = rng.gamma(r, 1.0 / alpha, size=n)
    lifetime = rng.exponential(1.0 / rng.gamma(s, 1.0 / beta, size=n))
    window = np.minimum(lifetime, T)
    counts = rng.poisson(rate * window)
    customer = np.repeat(np.arange(n), counts)
    times = rng.uniform(0.0, 1.0, size=customer.size) * window[customer]
    order = np.lexsort((times, customer))
    return customer[order], times[order]


def simulate_gamma_gamma(frequency: ArrayLike, p: float, q: float, v: float, rng: np.random.Generator) -> np.ndarray:
    """Draw each customer's mean transaction value m from the Gamma-Gamma model.

    nu ~ Gamma(q, rate v) and the sum of x values is Gamma(p x, rate nu); m is NaN
    where x = 0 (no repeat purchases to average).
    """
    x = np.asarray(frequency, dtype=float)
    nu = rng.gamma(q, 1.0 / v, size=x.shape)
    total = rng.gamma(np.where(x > 0, p * x, 1.0), 1.0 / nu)
    return np.where(x > 0, total / np.where(x > 0, x, 1.0), np.nan)


def _purchase_history(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Broadcast to float arrays and check 0 <= t_x <= T and x >= 0."""
    x, t_x, T = np.broadcast_arrays(*(np.asarray(value, dtype=float) for value in (x, t_x, T)))
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > T):
        raise ValueError("need frequency >= 0 and 0 <= recency <= T")
    return x, t_x, T


def _weights(weights: ArrayLike | None, like: np.ndarray) -> np.ndarray:
    if weights is None:
        return np.ones(like.shape)
    w = np.broadcast_to(np.asarray(weights, dtype=float), like.shape)
    if np.any(w < 0) or not w.sum() > 0:
        raise ValueError("weights must be non-negative with a positive total")
    return w


def merge_identical_rows(
    columns: tuple[np.ndarray, ...], weights: np.ndarray
) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Collapse rows with identical values in every column, summing their weights."""
    names = [f"c{i}" for i in range(len(columns))]
    frame = pd.DataFrame(dict(zip(names, (column.ravel() for column in columns), strict=True), w=weights.ravel()))
    merged = frame.groupby(names, sort=False)["w"].sum().reset_index()
    return tuple(merged[name].to_numpy() for name in names), merged["w"].to_numpy()


def _negative_mean(
    weights: np.ndarray, params: np.ndarray, log_likelihood: np.ndarray, gradient: np.ndarray
) -> tuple[float, np.ndarray]:
    """The weighted mean negative log-likelihood and its gradient by the log-parameters
    (d/d log p = p d/dp)."""
    # Elementwise products and numpy's pairwise sums, not BLAS dot products: their order of
    # summation is fixed, so the same data give the same fit, bit for bit, on every run.
    total = weights.sum()
    return (
        -float(np.sum(weights * log_likelihood)) / total,
        -np.sum(weights[:, None] * gradient, axis=0) * params / total,
    )


def _maximise(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]],
    n_params: int,
    max_iterations: int,
    model: str,
    start: np.ndarray | None = None,
) -> _Optimum:
    """L-BFGS-B over log-parameters from ``start`` (default all-ones), with the objective's gradient
    (analytic where the model has one: a fourth of the likelihood evaluations of finite
    differences), at most ``max_iterations`` iterations; warns naming ``model`` when it stops
    without converging."""
    if max_iterations < 1:
        raise ValueError(f"max_iterations={max_iterations} must be at least 1")
    result = minimize(
        objective,
        x0=np.zeros(n_params) if start is None else np.log(start),
        jac=True,
        method="L-BFGS-B",
        bounds=[LOG_PARAM_BOUNDS] * n_params,
        options={"maxiter": max_iterations},
    )
    message = str(result.message)
    if not result.success:
        warnings.warn(f"{model} likelihood maximisation did not converge: {message}", RuntimeWarning, stacklevel=3)
    return _Optimum(
        params=tuple(float(value) for value in np.exp(result.x)),
        mean_log_likelihood=-float(result.fun),
        converged=bool(result.success),
        message=message,
    )


def _away_from_one(a: float) -> float:
    return a if abs(a - 1.0) >= _A_AWAY_FROM_ONE else 1.0 + np.copysign(_A_AWAY_FROM_ONE, a - 1.0)
