"""Basic portfolio risk on a history of returns: historical and normal VaR/CVaR and volatility.

Losses are reported as positive fractions of portfolio value (VaR 0.02 = "lose 2% or more with
probability 1 - confidence"). Horizons scale by the square root of time for the parametric
method and by summing overlapping h-day returns for the historical one. The full risk service
(Student-t, Cornish-Fisher, Monte Carlo, GARCH) builds on these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from neural_trader.errors import RiskError


@dataclass(frozen=True)
class RiskSummary:
    symbols: list[str]
    weights: list[float]
    confidence: float
    horizon: int
    observations: int
    volatility_annual: float
    var_historical: float
    cvar_historical: float
    var_normal: float
    cvar_normal: float
    max_drawdown: float


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


def summarize_risk(
    symbols: list[str],
    weights: list[float],
    asset_returns: np.ndarray,
    confidence: float = 0.95,
    horizon: int = 1,
    periods_per_year: float = 252.0,
) -> RiskSummary:
    r = portfolio_returns(asset_returns, np.asarray(weights))
    var_h, cvar_h = historical_var_cvar(r, confidence, horizon)
    var_n, cvar_n = normal_var_cvar(r, confidence, horizon)
    wealth = np.cumprod(1 + r)
    peak = np.maximum.accumulate(wealth)
    return RiskSummary(
        symbols=symbols,
        weights=list(weights),
        confidence=confidence,
        horizon=horizon,
        observations=int(r.size),
        volatility_annual=float(r.std(ddof=1) * math.sqrt(periods_per_year)),
        var_historical=var_h,
        cvar_historical=cvar_h,
        var_normal=var_n,
        cvar_normal=cvar_n,
        max_drawdown=float((wealth / peak - 1).min()),
    )
