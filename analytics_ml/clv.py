"""BG/NBD purchase counts and Gamma-Gamma spend for customer lifetime value.

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
grows. The result is clipped at 0 against round-off for t -> 0, and a is kept at least
1e-8 away from 1, where (a+b+x-1)/(a-1) is a removable 0/0.

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
decides whether such parameters may be used.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

LOG_PARAM_BOUNDS = (np.log(1e-6), np.log(1e6))
MAX_ITERATIONS = 15_000
"""L-BFGS-B iterations a fit may take (scipy's own default)."""
_A_AWAY_FROM_ONE = 1e-8


@dataclass(frozen=True)
class BGNBDParams:
    """Fitted BG/NBD parameters; log_likelihood is the weighted total over n customers;
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
    r, alpha, a, b = r_alpha_a_b
    x, t_x, T = _purchase_history(x, t_x, T)
    alive, dropped = _bgnbd_branches(r_alpha_a_b, x, t_x, T)
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    return common + np.logaddexp(alive, dropped)


def _bgnbd_branches(
    r_alpha_a_b: Sequence[float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The logs of eq. 6's two terms without their common factor: still alive, and dropped out
    after the last purchase (log 0 without repeat purchases)."""
    r, alpha, a, b = r_alpha_a_b
    repeat = x > 0
    alive = betaln(a, b + x) - (r + x) * np.log(alpha + T)
    # The dropped-out branch exists only for x > 0; a dummy x = 1 keeps betaln finite
    # elsewhere before the branch is replaced by log(0).
    dropped = betaln(a + 1, b + np.where(repeat, x, 1.0) - 1) - (r + x) * np.log(alpha + t_x)
    return alive, np.where(repeat, dropped, -np.inf)


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
    r, alpha, a, b = r_alpha_a_b
    x, t_x, T = _purchase_history(x, t_x, T)
    alive, dropped = _bgnbd_branches(r_alpha_a_b, x, t_x, T)
    branches = np.logaddexp(alive, dropped)
    log_likelihood = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b) + branches
    w_alive, w_dropped = np.exp(alive - branches), np.exp(dropped - branches)
    # w_dropped is 0 where x = 0; a dummy x = 1 keeps psi(b+x-1) finite there, as in the branches.
    x_or_1 = np.where(x > 0, x, 1.0)
    psi_abx = digamma(a + b + x)
    gradient = np.column_stack(
        [
            digamma(r + x) - digamma(r) + np.log(alpha) - w_alive * np.log(alpha + T) - w_dropped * np.log(alpha + t_x),
            r / alpha - (r + x) * (w_alive / (alpha + T) + w_dropped / (alpha + t_x)),
            digamma(a + b) - digamma(a) + w_alive * (digamma(a) - psi_abx) + w_dropped * (digamma(a + 1) - psi_abx),
            digamma(a + b)
            - digamma(b)
            + w_alive * (digamma(b + x) - psi_abx)
            + w_dropped * (digamma(b + x_or_1 - 1) - psi_abx),
        ]
    )
    return log_likelihood, gradient


def fit_bgnbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    max_iterations: int = MAX_ITERATIONS,
) -> BGNBDParams:
    """Maximum-likelihood BG/NBD fit; ``weights`` count customers per row (default 1)."""
    x, t_x, T = _purchase_history(frequency, recency, T)
    (x, t_x, T), w = _merge_identical_rows((x, t_x, T), _weights(weights, x))

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(log_params)
        return _negative_mean(w, params, *bgnbd_log_likelihood_with_gradient(params, x, t_x, T))

    optimum = _maximise(objective, n_params=4, max_iterations=max_iterations, model="BG/NBD")
    r, alpha, a, b = optimum.params
    return BGNBDParams(r=r, alpha=alpha, a=a, b=b, **optimum.fit_record(w))


def bgnbd_probability_alive(params: BGNBDParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
    """P(alive | x, t_x, T), eq. 12; exactly 1 for customers with x = 0."""
    x, t_x, T = _purchase_history(x, t_x, T)
    repeat = x > 0
    log_odds_dropped = (
        np.log(params.a)
        - np.log(params.b + np.where(repeat, x, 1.0) - 1)
        + (params.r + x) * (np.log(params.alpha + T) - np.log(params.alpha + t_x))
    )
    return expit(-np.where(repeat, log_odds_dropped, -np.inf))


def bgnbd_churn_probability(params: BGNBDParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
    """1 - P(alive | x, t_x, T)."""
    return 1.0 - bgnbd_probability_alive(params, x, t_x, T)


def bgnbd_expected_purchases(params: BGNBDParams, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
    """E[number of purchases in (T, T+t] | x, t_x, T], eq. 10 in the Euler-transformed
    form described in the module docstring."""
    x, t_x, T = _purchase_history(x, t_x, T)
    r, alpha, b = params.r, params.alpha, params.b
    a = _away_from_one(params.a)
    log_one_minus_z = np.log(alpha + T) - np.log(alpha + T + t)
    z = t / (alpha + T + t)
    transformed = np.exp((a - 1) * log_one_minus_z) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
    expected_if_alive = (a + b + x - 1) / (a - 1) * (1.0 - transformed)
    return np.maximum(expected_if_alive * bgnbd_probability_alive(params, x, t_x, T), 0.0)


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


def predicted_clv(
    bg: BGNBDParams,
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
    cumulative = np.stack([bgnbd_expected_purchases(bg, end, x, t_x, T) for end in period_ends])
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
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    rate = rng.gamma(r, 1.0 / alpha, size=n)
    # Beta draws with a < 1 can underflow to 0, which Geometric(p) rejects.
    dropout = np.clip(rng.beta(a, b, size=n), 1e-12, 1.0)
    purchases_while_alive = rng.geometric(dropout)
    purchases_in_window = rng.poisson(rate * T)
    x = np.minimum(purchases_in_window, purchases_while_alive)
    repeat = x > 0
    last_order_statistic = rng.beta(np.where(repeat, x, 1), purchases_in_window - x + 1)
    t_x = np.where(repeat, T * last_order_statistic, 0.0)
    return x.astype(float), t_x, T


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


def _merge_identical_rows(
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
    total = weights.sum()
    return -float(weights @ log_likelihood) / total, -(weights @ gradient) * params / total


def _maximise(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]], n_params: int, max_iterations: int, model: str
) -> _Optimum:
    """L-BFGS-B over log-parameters from all-ones, with the objective's analytic gradient (a fourth
    of the likelihood evaluations of finite differences), at most ``max_iterations`` iterations;
    warns naming ``model`` when it stops without converging."""
    if max_iterations < 1:
        raise ValueError(f"max_iterations={max_iterations} must be at least 1")
    result = minimize(
        objective,
        x0=np.zeros(n_params),
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
