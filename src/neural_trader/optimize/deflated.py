"""The probabilistic and the deflated Sharpe ratio (Bailey & López de Prado, 2012 and 2014).

Picking the best of N backtests inflates its Sharpe ratio: even with no skill at all, the
maximum of N noisy estimates is expected to be well above zero. The deflated Sharpe ratio asks
how likely the chosen strategy's true Sharpe ratio is above that expected maximum.

All Sharpe ratios here are *per observation* (not annualised), ``kurtosis`` is the plain fourth
standardised moment (3 for a normal distribution, not the excess), and:

* PSR(SR*) = Φ( (SR − SR*)·√(T − 1) / √(1 − γ₃·SR + (γ₄ − 1)/4 · SR²) ), the probability that
  the true Sharpe ratio exceeds SR* given T observations with skewness γ₃ and kurtosis γ₄;
* SR₀ = √V · ((1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e))), the expected maximum of N trial
  Sharpe ratios whose variance across trials is V (γ the Euler–Mascheroni constant);
* DSR = PSR(SR₀).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.stats import norm

EULER_GAMMA = 0.5772156649015329


def probabilistic_sharpe_ratio(
    sharpe: float, benchmark: float, n_obs: int, skew: float = 0.0, kurtosis: float = 3.0
) -> float:
    """P(true SR > ``benchmark``) for an observed per-period ``sharpe`` over ``n_obs`` returns.

    NaN when the inputs cannot support it (fewer than two observations, a non-finite input, or
    moments for which the estimator's variance would not be positive).
    """
    values = (sharpe, benchmark, skew, kurtosis)
    if n_obs < 2 or not all(math.isfinite(v) for v in values):
        return math.nan
    var = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if not var > 0:
        return math.nan
    z = (sharpe - benchmark) * math.sqrt(n_obs - 1.0) / math.sqrt(var)
    return float(norm.cdf(z))


def expected_max_sharpe(n_trials: int, variance: float) -> float:
    """SR₀: the expected largest of ``n_trials`` per-period Sharpe ratios of no skill whose
    cross-trial variance is ``variance`` (0 for a single trial, which selects nothing)."""
    if n_trials < 1 or not (math.isfinite(variance) and variance >= 0):
        return math.nan
    if n_trials == 1 or variance == 0:
        return 0.0
    a = norm.ppf(1.0 - 1.0 / n_trials)
    b = norm.ppf(1.0 - 1.0 / (n_trials * math.e))
    return float(math.sqrt(variance) * ((1.0 - EULER_GAMMA) * a + EULER_GAMMA * b))


def deflated_sharpe_ratio(
    sharpe: float,
    n_trials: int,
    trial_variance: float,
    n_obs: int,
    skew: float = 0.0,
    kurtosis: float = 3.0,
) -> float:
    """DSR of the chosen strategy's per-period ``sharpe``, selected from ``n_trials`` trials
    whose per-period Sharpe ratios have variance ``trial_variance``."""
    sr0 = expected_max_sharpe(n_trials, trial_variance)
    return probabilistic_sharpe_ratio(sharpe, sr0, n_obs, skew, kurtosis)


def return_moments(returns: npt.ArrayLike) -> tuple[float, float, float, int]:
    """(per-period Sharpe with ddof=1, skewness, kurtosis, T) of a return series; the moments
    are the population (biased) estimators the papers use. NaNs when there is no spread."""
    r = np.asarray(returns, dtype=np.float64).ravel()
    r = r[np.isfinite(r)]
    if r.size < 2:
        return math.nan, math.nan, math.nan, int(r.size)
    d = r - r.mean()
    m2 = float(np.mean(d**2))
    if m2 == 0:
        return math.nan, math.nan, math.nan, int(r.size)
    sharpe = float(r.mean() / r.std(ddof=1))
    skew = float(np.mean(d**3)) / m2**1.5
    kurt = float(np.mean(d**4)) / m2**2
    return sharpe, skew, kurt, int(r.size)
