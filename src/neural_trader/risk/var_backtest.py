"""Is a VaR model right? Kupiec's proportion-of-failures test (are there as many exceedances
as the confidence promises?) and Christoffersen's independence test (do they cluster?), on a
rolling out-of-sample forecast."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from neural_trader.errors import RiskError


@dataclass(frozen=True)
class VaRBacktest:
    observations: int
    exceedances: int
    expected_rate: float
    kupiec_lr: float
    kupiec_p_value: float
    christoffersen_lr: float
    christoffersen_p_value: float


def _xlogy(x: float, y: float) -> float:
    return 0.0 if x == 0 else x * math.log(y)


def kupiec_pof(observations: int, exceedances: int, confidence: float) -> tuple[float, float]:
    """LR = −2 ln[(1−p)^(n−x) p^x / ((1−x/n)^(n−x) (x/n)^x)], χ²(1) under the null."""
    if observations <= 0 or not 0 <= exceedances <= observations:
        raise RiskError(
            f"need 0 <= exceedances <= observations > 0, got {exceedances}/{observations}"
        )
    if not 0 < confidence < 1:
        raise RiskError(f"confidence must be strictly between 0 and 1, got {confidence}")
    n, x, p = observations, exceedances, 1 - confidence
    rate = x / n
    null = _xlogy(n - x, 1 - p) + _xlogy(x, p)
    alt = _xlogy(n - x, 1 - rate) + _xlogy(x, rate)
    lr = -2 * (null - alt)
    return lr, float(stats.chi2.sf(lr, 1))


def christoffersen_independence(hits: np.ndarray) -> tuple[float, float]:
    """LR of a first-order Markov chain of exceedances against independence, χ²(1)."""
    h = np.asarray(hits, dtype=bool)
    if h.size < 2:
        raise RiskError("need at least 2 forecasts to test independence")
    prev, cur = h[:-1], h[1:]
    n00 = int(np.sum(~prev & ~cur))
    n01 = int(np.sum(~prev & cur))
    n10 = int(np.sum(prev & ~cur))
    n11 = int(np.sum(prev & cur))
    pi0 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi1 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    null = _xlogy(n00 + n10, 1 - pi) + _xlogy(n01 + n11, pi)
    alt = _xlogy(n00, 1 - pi0) + _xlogy(n01, pi0) + _xlogy(n10, 1 - pi1) + _xlogy(n11, pi1)
    lr = max(-2 * (null - alt), 0.0)
    return lr, float(stats.chi2.sf(lr, 1))


def backtest_var(losses: np.ndarray, var_forecasts: np.ndarray, confidence: float) -> VaRBacktest:
    """Compare realised losses with the VaR forecast made for each of them beforehand."""
    loss = np.asarray(losses, dtype=np.float64)
    var = np.asarray(var_forecasts, dtype=np.float64)
    if loss.shape != var.shape:
        raise RiskError(f"{loss.size} losses for {var.size} forecasts")
    hits = loss > var
    lr_pof, p_pof = kupiec_pof(loss.size, int(hits.sum()), confidence)
    lr_ind, p_ind = christoffersen_independence(hits)
    return VaRBacktest(loss.size, int(hits.sum()), 1 - confidence, lr_pof, p_pof, lr_ind, p_ind)
