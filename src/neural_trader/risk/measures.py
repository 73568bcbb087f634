"""Basic portfolio risk on a history of returns: historical and normal VaR/CVaR and volatility.

Losses are reported as positive fractions of portfolio value (VaR 0.02 = "lose 2% or more with
probability 1 - confidence"). Horizons scale by the square root of time for the parametric
method and by summing overlapping h-day returns for the historical one. The full risk service
(Student-t, Cornish-Fisher, Monte Carlo, GARCH) lives in :mod:`neural_trader.risk.var`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from neural_trader.errors import RiskError


def check_returns(returns: np.ndarray, confidence: float, horizon: int) -> np.ndarray:
    """The returns as float64, or a RiskError saying why they cannot carry a risk figure."""
    if not 0 < confidence < 1:
        raise RiskError(f"confidence must be strictly between 0 and 1, got {confidence}")
    if horizon < 1:
        raise RiskError(f"horizon must be at least 1 period, got {horizon}")
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or r.size < 2:
        raise RiskError(f"need at least 2 returns, got {r.size}")
    if not np.all(np.isfinite(r)):
        raise RiskError(f"returns contain {int(np.sum(~np.isfinite(r)))} NaN or infinite values")
    if float(np.std(r)) == 0.0:
        raise RiskError("returns are constant: risk is undefined")
    return r


def historical_var_cvar(
    returns: np.ndarray, confidence: float, horizon: int = 1
) -> tuple[float, float]:
    """Empirical quantile of losses (linear interpolation) and the mean loss beyond it."""
    r = check_returns(returns, confidence, horizon)
    if horizon > 1:
        c = np.concatenate(([0.0], np.cumsum(r)))
        r = c[horizon:] - c[:-horizon]
    losses = -r
    var = float(np.quantile(losses, confidence))
    tail = losses[losses >= var]
    return var, float(tail.mean())


def normal_var_cvar(
    returns: np.ndarray, confidence: float, horizon: int = 1
) -> tuple[float, float]:
    """Closed forms: VaR = −μh + σ√h·z,  CVaR = −μh + σ√h·φ(z)/(1−c)."""
    r = check_returns(returns, confidence, horizon)
    mu = float(r.mean()) * horizon
    sigma = float(r.std(ddof=1)) * math.sqrt(horizon)
    z = float(stats.norm.ppf(confidence))
    return -mu + sigma * z, -mu + sigma * float(stats.norm.pdf(z)) / (1 - confidence)


def portfolio_returns(asset_returns: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Daily-rebalanced portfolio returns; weights must match the assets and be finite."""
    w = np.asarray(weights, dtype=np.float64)
    assets = asset_returns.shape[1] if asset_returns.ndim == 2 else 1
    if asset_returns.ndim != 2 or assets != w.size:
        raise RiskError(f"{w.size} weights for {assets} assets")
    if not np.all(np.isfinite(w)):
        raise RiskError("weights contain NaN or infinite values")
    return np.asarray(asset_returns @ w, dtype=np.float64)
