"""Historical and parametric VaR/CVaR of many portfolios over one shared history, batched.

Screening thousands of candidate weightings (an optimiser, a what-if grid) against the same
assets is the common case, and forming each portfolio's return series only to sort it wastes
most of the work: the historical figures need only the few worst days. A compiled kernel
(numba, one portfolio per thread) forms each portfolio's daily return on the fly and keeps the
``m`` smallest in a sorted buffer, so memory stays O(portfolios × m) and nothing is sorted.

The figures match :mod:`neural_trader.risk.measures` exactly: historical VaR is numpy's
linearly interpolated quantile of the losses, CVaR the mean of the losses at or beyond it
(ties with the VaR past the buffer, a measure-zero event for real returns, are not counted);
the normal figures are the same closed forms with μ and σ from the sample mean and covariance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from neural_trader.errors import RiskError

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class BatchVaR:
    """One row per portfolio: losses as positive fractions of portfolio value."""

    confidence: float
    horizon: int
    historical_var: FloatArray
    historical_cvar: FloatArray
    normal_var: FloatArray
    normal_cvar: FloatArray


@njit(parallel=True, cache=True)
def _smallest_returns(returns: FloatArray, weights: FloatArray, m: int) -> FloatArray:
    """Per portfolio (row of ``weights``), its ``m`` smallest period returns, ascending."""
    n_portfolios = weights.shape[0]
    periods, assets = returns.shape
    out = np.empty((n_portfolios, m))
    for p in prange(n_portfolios):
        buf = np.full(m, np.inf)
        for t in range(periods):
            r = 0.0
            for j in range(assets):
                r += returns[t, j] * weights[p, j]
            if r < buf[m - 1]:
                i = m - 1
                while i > 0 and buf[i - 1] > r:
                    buf[i] = buf[i - 1]
                    i -= 1
                buf[i] = r
        out[p] = buf
    return out


def _inputs(
    asset_returns: ArrayLike, weights: ArrayLike, confidence: float, horizon: int
) -> tuple[FloatArray, FloatArray]:
    if not 0 < confidence < 1:
        raise RiskError(f"confidence must be strictly between 0 and 1, got {confidence}")
    if horizon < 1:
        raise RiskError(f"horizon must be at least 1 period, got {horizon}")
    x = np.asarray(asset_returns, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if x.ndim != 2:
        raise RiskError(f"asset returns must be a (periods, assets) table, got shape {x.shape}")
    if w.ndim == 1:
        w = w[None, :]
    if w.ndim != 2 or w.shape[1] != x.shape[1]:
        raise RiskError(f"weights of shape {w.shape} for {x.shape[1]} assets")
    if not np.all(np.isfinite(x)):
        raise RiskError(f"asset returns contain {int(np.sum(~np.isfinite(x)))} NaN or inf values")
    if not np.all(np.isfinite(w)):
        raise RiskError("weights contain NaN or infinite values")
    if horizon > 1:
        # Overlapping h-period sums, as the single-portfolio historical method does; a
        # portfolio's h-sum is the weighted h-sums of its assets.
        c = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
        x = c[horizon:] - c[:-horizon]
    if x.shape[0] < 2:
        raise RiskError(f"need at least 2 periods of history, got {x.shape[0]}")
    return np.ascontiguousarray(x), np.ascontiguousarray(w)


def batch_var_cvar(
    asset_returns: ArrayLike,
    weights: ArrayLike,
    confidence: float = 0.99,
    horizon: int = 1,
) -> BatchVaR:
    """Historical and normal VaR/CVaR for every row of ``weights`` (portfolios × assets)."""
    x, w = _inputs(asset_returns, weights, confidence, horizon)
    periods = x.shape[0]
    # numpy's 'linear' quantile of the losses at c sits at virtual index g = (n - 1)c of the
    # ascending losses, i.e. between the returns ranked hi and hi - 1 from the bottom; its
    # interpolation is mirrored step for step so the figures agree to the last bit.
    g = (periods - 1) * confidence
    below = math.floor(g)
    t = g - below
    hi = periods - 1 - below
    worst = _smallest_returns(x, w, hi + 1)
    a = -worst[:, hi]
    b = -worst[:, max(hi - 1, 0)]
    diff = b - a
    loss_q = a + diff * t if t < 0.5 else b - diff * (1 - t)
    quantile = -loss_q
    in_tail = worst <= quantile[:, None]
    hist_cvar = -(np.where(in_tail, worst, 0.0).sum(axis=1) / in_tail.sum(axis=1))

    # Returns here are the sample of (overlapping) h-period sums: the parametric figures use the
    # one-period moments scaled by h and sqrt(h), as measures.normal_var_cvar does.
    base = np.asarray(asset_returns, dtype=np.float64)
    mu = (w @ base.mean(axis=0)) * horizon
    cov = np.atleast_2d(np.cov(base, rowvar=False))
    sigma = np.sqrt(np.einsum("pi,ij,pj->p", w, cov, w) * horizon)
    if np.any(sigma == 0):
        flat = int(np.flatnonzero(sigma == 0)[0])
        raise RiskError(f"portfolio {flat} has constant returns: risk is undefined")
    z = float(stats.norm.ppf(confidence))
    tail = float(stats.norm.pdf(z)) / (1 - confidence)
    return BatchVaR(
        confidence=confidence,
        horizon=horizon,
        historical_var=loss_q,
        historical_cvar=hist_cvar,
        normal_var=-mu + sigma * z,
        normal_cvar=-mu + sigma * tail,
    )
