"""Where a portfolio's risk comes from: Euler component VaR, beta to a benchmark, exposures and
heat (risk to stop).

Component VaR uses the parametric normal VaR, which is homogeneous of degree one in the
weights, so by Euler's theorem the components w_i ∂VaR/∂w_i add up to the portfolio VaR
exactly. That is what makes them useful: "JPM is 46% of the risk" is a statement the numbers
keep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from neural_trader.errors import RiskError


@dataclass(frozen=True)
class Component:
    """One position's share of the portfolio's normal VaR."""

    symbol: str
    weight: float
    marginal_var: float  # ∂VaR/∂w_i: VaR added per unit of weight
    component_var: float  # w_i · marginal; the components sum to the portfolio VaR
    share: float  # component / portfolio VaR


@dataclass(frozen=True)
class Exposures:
    """Weights as fractions of equity: gross Σ|w|, net Σw, and per symbol."""

    gross: float
    net: float
    long: float
    short: float
    by_symbol: dict[str, float]


def component_var(
    symbols: list[str],
    asset_returns: ArrayLike,
    weights: ArrayLike,
    confidence: float,
    horizon: int = 1,
) -> list[Component]:
    """Euler decomposition of VaR = −hμᵀw + z√h·σ_p with σ_p = √(wᵀΣw)."""
    if not 0 < confidence < 1:
        raise RiskError(f"confidence must be strictly between 0 and 1, got {confidence}")
    x = np.asarray(asset_returns, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != w.size or len(symbols) != w.size:
        raise RiskError(f"{w.size} weights for {len(symbols)} symbols and {x.shape} returns")
    cov = np.atleast_2d(np.cov(x, rowvar=False))
    sigma = math.sqrt(float(w @ cov @ w))
    if sigma == 0:
        raise RiskError("portfolio returns are constant: risk is undefined")
    z = float(stats.norm.ppf(confidence))
    marginal = -horizon * x.mean(axis=0) + z * math.sqrt(horizon) * (cov @ w) / sigma
    total = float(w @ marginal)
    return [
        Component(s, float(wi), float(m), float(wi * m), float(wi * m / total))
        for s, wi, m in zip(symbols, w, marginal, strict=True)
    ]


def beta(portfolio_returns: ArrayLike, benchmark_returns: ArrayLike) -> float:
    """OLS slope of the portfolio's returns on the benchmark's, over the periods both have."""
    p = np.asarray(portfolio_returns, dtype=np.float64)
    b = np.asarray(benchmark_returns, dtype=np.float64)
    if p.shape != b.shape:
        raise RiskError(f"{p.size} portfolio returns against {b.size} benchmark returns")
    both = np.isfinite(p) & np.isfinite(b)
    if int(both.sum()) < 3:
        raise RiskError("fewer than 3 periods shared with the benchmark")
    p, b = p[both], b[both]
    var_b = float(np.var(b, ddof=1))
    if var_b == 0:
        raise RiskError("benchmark returns are constant: beta is undefined")
    return float(np.cov(p, b, ddof=1)[0, 1] / var_b)


def exposures(symbols: list[str], weights: ArrayLike) -> Exposures:
    w = np.asarray(weights, dtype=np.float64)
    return Exposures(
        gross=float(np.abs(w).sum()),
        net=float(w.sum()),
        long=float(w[w > 0].sum()),
        short=float(-w[w < 0].sum()),
        by_symbol={s: float(x) for s, x in zip(symbols, w, strict=True)},
    )


def heat(weights: ArrayLike, stop_distances: ArrayLike) -> float:
    """Portfolio heat: Σ |w_i| · d_i, the share of equity lost if every stop is hit, with
    d_i the stop's distance from the price as a fraction of it."""
    w = np.asarray(weights, dtype=np.float64)
    d = np.asarray(stop_distances, dtype=np.float64)
    if d.shape != w.shape:
        raise RiskError(f"{d.size} stop distances for {w.size} positions")
    if not np.all(np.isfinite(d)) or np.any(d < 0) or np.any(d > 1):
        raise RiskError("stop distances must be fractions of the price in [0, 1]")
    return float(np.abs(w) @ d)
