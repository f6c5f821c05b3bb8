"""Ordinary least squares with Student-t prediction intervals.

For a design matrix X (n x p, rank k) and response y:

    beta      = argmin ||y - X beta||^2             (numpy.linalg.lstsq, SVD based)
    sigma^2   = ||y - X beta||^2 / (n - k)          (n - p when X has full rank)
    (X'X)^-1  = X^+ (X^+)'                          (Moore-Penrose, so rank-deficient
                                                     designs still give the min-norm fit)
    R^2       = 1 - SSR / SST                       (SST centred on mean(y))

A new point x0 has predictive standard error

    se(x0) = sigma * sqrt(1 + x0 (X'X)^-1 x0')

where h0 = x0 (X'X)^-1 x0' is its leverage, and the two-sided interval at level c is
mean +/- t_{(1+c)/2, n-k} * se(x0) (e.g. Seber & Lee, "Linear Regression Analysis",
2nd ed., section 5.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import stdtrit


@dataclass(frozen=True, eq=False)
class OLSFit:
    """A fitted OLS model: everything needed for predictions and their intervals."""

    coefficients: np.ndarray
    sigma2: float
    xtx_inv: np.ndarray
    r2: float
    dof: int
    n_obs: int

    @property
    def covariance(self) -> np.ndarray:
        """Covariance of the coefficient estimates, sigma^2 (X'X)^-1."""
        return self.sigma2 * self.xtx_inv

    @property
    def std_errors(self) -> np.ndarray:
        """Standard errors of the coefficients, sqrt(diag(sigma^2 (X'X)^-1))."""
        return np.sqrt(np.diag(self.covariance))

    def to_json(self) -> dict:
        """Plain-JSON representation (lists and floats only)."""
        return {
            "coefficients": self.coefficients.tolist(),
            "sigma2": self.sigma2,
            "xtx_inv": self.xtx_inv.tolist(),
            "r2": self.r2,
            "dof": self.dof,
            "n_obs": self.n_obs,
        }

    @classmethod
    def from_json(cls, data: dict) -> OLSFit:
        """Inverse of :meth:`to_json`."""
        return cls(
            coefficients=np.asarray(data["coefficients"], dtype=float),
            sigma2=float(data["sigma2"]),
            xtx_inv=np.asarray(data["xtx_inv"], dtype=float),
            r2=float(data["r2"]),
            dof=int(data["dof"]),
            n_obs=int(data["n_obs"]),
        )


def fit_ols(X: np.ndarray, y: np.ndarray) -> OLSFit:
    """Fit y ~ X by least squares (formulas in the module docstring).

    X must already contain an intercept column if one is wanted. Raises
    ValueError when there are not more observations than the rank of X, since
    the residual variance is then undefined.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise ValueError(f"X must be (n, p) and y (n,), got {X.shape} and {y.shape}")
    beta, _, rank, _ = np.linalg.lstsq(X, y, rcond=None)
    n_obs = X.shape[0]
    dof = n_obs - int(rank)
    if dof < 1:
        raise ValueError(f"need more observations than parameters: n={n_obs}, rank(X)={rank}")
    fitted = X @ beta
    residuals = y - fitted
    x_pinv = np.linalg.pinv(X)
    return OLSFit(
        coefficients=beta,
        sigma2=float(residuals @ residuals) / dof,
        xtx_inv=x_pinv @ x_pinv.T,
        r2=r_squared(y, fitted),
        dof=dof,
        n_obs=n_obs,
    )


def r_squared(actual: np.ndarray, predicted: np.ndarray) -> float:
    """R^2 = 1 - sum((y - yhat)^2) / sum((y - mean(y))^2); NaN when y is constant."""
    actual = np.asarray(actual, dtype=float)
    errors = actual - np.asarray(predicted, dtype=float)
    centred = actual - actual.mean()
    sst = float(centred @ centred)
    # R^2 has no meaning without variation to explain; NaN says so instead of +-inf.
    return 1.0 - float(errors @ errors) / sst if sst > 0 else float("nan")


def leverage(fit: OLSFit, X_new: np.ndarray) -> np.ndarray:
    """Leverage h0 = x0 (X'X)^-1 x0' of each row of X_new."""
    X_new = np.atleast_2d(np.asarray(X_new, dtype=float))
    return np.einsum("ij,jk,ik->i", X_new, fit.xtx_inv, X_new)


def t_quantile(confidence: float, dof: int) -> float:
    """Two-sided Student-t critical value t_{(1+c)/2, dof}: ``scipy.stats.t.ppf``'s own function, without
    importing scipy.stats, slow to import, at every run's start."""
    return float(stdtrit(dof, 0.5 + confidence / 2.0))


def prediction_interval(fit: OLSFit, X_new: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point prediction and two-sided prediction interval for new rows.

    Returns (mean, lower, upper) with mean = X_new beta and half-width
    t_{(1+c)/2, dof} * sigma * sqrt(1 + h0).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence={confidence} must be strictly between 0 and 1")
    X_new = np.atleast_2d(np.asarray(X_new, dtype=float))
    mean = X_new @ fit.coefficients
    se = np.sqrt(fit.sigma2 * (1.0 + leverage(fit, X_new)))
    half_width = t_quantile(confidence, fit.dof) * se
    return mean, mean - half_width, mean + half_width
