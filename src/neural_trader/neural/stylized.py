"""The stylized facts of financial returns, measured on one series or a batch of paths.

A synthetic market is only useful for risk if it behaves like a real one in the ways that
matter (Cont, 2001): returns have fat tails, are nearly uncorrelated, yet their magnitudes
cluster (volatility comes in bursts that decay slowly), and for equities falls raise future
volatility more than rises do (the leverage effect). This module measures those facts so a
generator can be judged against the real series it learnt from.

A 2-D input of shape ``(n_paths, length)`` is treated as independent paths: every statistic is
*pooled* — one mean and variance over all values, lagged pairs taken only within a path — so a
batch of short paths and one long series are measured on the same scale. Autocorrelations use
the per-pair normalisation (``statsmodels.tsa.stattools.acf(..., adjusted=True)``), which keeps
lag-``k`` estimates of short paths from shrinking towards zero by ``(length - k) / length``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from neural_trader.data import load_bars
from neural_trader.errors import NeuralError

FloatArray = npt.NDArray[np.float64]

DEFAULT_MAX_LAG = 10
HILL_TAIL_FRACTION = 0.05
MIN_OBSERVATIONS = 30
# Verdict thresholds, in the units of each statistic.
NEAR_ZERO_ACF = 0.1
CLUSTERING_ACF = 0.05
# A Gaussian sample's Hill estimate from its top 5% is about 6; daily equity returns give ~3.
MAX_POWER_TAIL_INDEX = 5.0


def log_returns(closes: npt.ArrayLike) -> FloatArray:
    """Daily log returns ``log(p_t / p_{t-1})`` of a positive price series."""
    prices = np.asarray(closes, dtype=np.float64)
    if prices.ndim != 1 or prices.size < 2:
        raise NeuralError(f"need a 1-D price series of at least 2 values, got shape {prices.shape}")
    if not np.all(np.isfinite(prices)) or np.any(prices <= 0):
        raise NeuralError("prices must be finite and positive to take log returns")
    return np.diff(np.log(prices))


def bundled_log_returns(symbol: str = "SPX") -> FloatArray:
    """Log returns of a bundled daily close series (S&P 500 by default): the real reference."""
    return log_returns(load_bars(symbol).close)


def as_paths(returns: npt.ArrayLike) -> FloatArray:
    """A series or batch as a 2-D ``(n_paths, length)`` float64 array, validated."""
    x = np.asarray(returns, dtype=np.float64)
    if x.ndim == 1:
        x = x[np.newaxis, :]
    if x.ndim != 2:
        raise NeuralError(f"returns must be 1-D or 2-D (n_paths, length), got shape {x.shape}")
    if x.size < MIN_OBSERVATIONS:
        raise NeuralError(f"need at least {MIN_OBSERVATIONS} returns, got {x.size}")
    if not np.all(np.isfinite(x)):
        raise NeuralError("returns contain NaN or infinite values")
    return x


def _check_lag(paths: FloatArray, max_lag: int) -> None:
    if max_lag < 1 or max_lag >= paths.shape[1]:
        raise NeuralError(
            f"max_lag must be in [1, {paths.shape[1] - 1}] for paths of length "
            f"{paths.shape[1]}, got {max_lag}"
        )


def excess_kurtosis(returns: npt.ArrayLike) -> float:
    """Fisher excess kurtosis of the pooled values (0 for a normal; fat tails make it > 0)."""
    x = as_paths(returns).ravel()
    centred = x - x.mean()
    var = float(np.mean(centred**2))
    if var == 0.0:
        raise NeuralError("returns are constant; kurtosis is undefined")
    return float(np.mean(centred**4)) / var**2 - 3.0


def hill_tail_index(returns: npt.ArrayLike, tail_fraction: float = HILL_TAIL_FRACTION) -> float:
    """Hill estimate of the tail index α of ``|r|`` from its largest ``tail_fraction``.

    Daily equity returns have α around 3-5 (finite variance, infinite higher moments); a
    Gaussian has no power tail, so its Hill estimate is large and grows with the sample.
    """
    if not 0.0 < tail_fraction < 0.5:
        raise NeuralError(f"tail_fraction must be in (0, 0.5), got {tail_fraction}")
    magnitudes = np.sort(np.abs(as_paths(returns).ravel()))[::-1]
    k = int(magnitudes.size * tail_fraction)
    threshold = magnitudes[k] if k >= 1 else 0.0
    if k < 2 or threshold <= 0.0:
        raise NeuralError("too few non-zero returns in the tail for a Hill estimate")
    mean_log_excess = float(np.mean(np.log(magnitudes[:k] / threshold)))
    return 1.0 / mean_log_excess if mean_log_excess > 0 else math.inf


def _pooled_acf(paths: FloatArray, max_lag: int) -> FloatArray:
    centred = paths - paths.mean()
    variance = float(np.mean(centred**2))
    if variance == 0.0:
        raise NeuralError("series is constant; autocorrelation is undefined")
    acf = np.empty(max_lag, dtype=np.float64)
    for lag in range(1, max_lag + 1):
        acf[lag - 1] = float(np.mean(centred[:, :-lag] * centred[:, lag:])) / variance
    return acf


def autocorrelation(returns: npt.ArrayLike, max_lag: int = DEFAULT_MAX_LAG) -> FloatArray:
    """Autocorrelation of the returns at lags ``1..max_lag`` (near zero in real markets)."""
    paths = as_paths(returns)
    _check_lag(paths, max_lag)
    return _pooled_acf(paths, max_lag)


def abs_autocorrelation(returns: npt.ArrayLike, max_lag: int = DEFAULT_MAX_LAG) -> FloatArray:
    """Autocorrelation of ``|r|`` at lags ``1..max_lag``: positive and slowly decaying when
    volatility clusters."""
    paths = as_paths(returns)
    _check_lag(paths, max_lag)
    return _pooled_acf(np.abs(paths), max_lag)


def leverage_effect(returns: npt.ArrayLike, max_lag: int = DEFAULT_MAX_LAG) -> FloatArray:
    """``corr(r_t, r_{t+k}^2)`` for ``k = 1..max_lag``: negative when falls raise later volatility.

    Each lag is a Pearson correlation over all within-path pairs ``(r_t, r_{t+k}^2)``.
    """
    paths = as_paths(returns)
    _check_lag(paths, max_lag)
    out = np.empty(max_lag, dtype=np.float64)
    for lag in range(1, max_lag + 1):
        now = paths[:, :-lag].ravel()
        later_sq = paths[:, lag:].ravel() ** 2
        now_c, later_c = now - now.mean(), later_sq - later_sq.mean()
        denom = math.sqrt(float(np.sum(now_c**2)) * float(np.sum(later_c**2)))
        if denom == 0.0:
            raise NeuralError("series is constant; the leverage correlation is undefined")
        out[lag - 1] = float(np.sum(now_c * later_c)) / denom
    return out


@dataclass(frozen=True)
class StylizedFacts:
    """The stylized-fact statistics of one series or batch of paths."""

    n_observations: int
    std: float
    excess_kurtosis: float
    hill_tail_index: float
    acf_returns: tuple[float, ...]
    acf_abs: tuple[float, ...]
    leverage: tuple[float, ...]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (lags as lists, index 0 is lag 1)."""
        return {
            "n_observations": self.n_observations,
            "std": self.std,
            "excess_kurtosis": self.excess_kurtosis,
            "hill_tail_index": self.hill_tail_index,
            "acf_returns": list(self.acf_returns),
            "acf_abs": list(self.acf_abs),
            "leverage": list(self.leverage),
        }


def stylized_facts(returns: npt.ArrayLike, max_lag: int = DEFAULT_MAX_LAG) -> StylizedFacts:
    """Every stylized-fact statistic of ``returns`` (1-D series or ``(n_paths, length)``)."""
    paths = as_paths(returns)
    _check_lag(paths, max_lag)
    return StylizedFacts(
        n_observations=int(paths.size),
        std=float(paths.std()),
        excess_kurtosis=excess_kurtosis(paths),
        hill_tail_index=hill_tail_index(paths),
        acf_returns=tuple(float(v) for v in autocorrelation(paths, max_lag)),
        acf_abs=tuple(float(v) for v in abs_autocorrelation(paths, max_lag)),
        leverage=tuple(float(v) for v in leverage_effect(paths, max_lag)),
    )


@dataclass(frozen=True)
class FactVerdict:
    """One fact, its summary number for real and synthetic data, and whether each shows it."""

    fact: str
    real: float
    synthetic: float
    real_holds: bool
    synthetic_holds: bool
    verdict: str

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return {
            "fact": self.fact,
            "real": self.real,
            "synthetic": self.synthetic,
            "real_holds": self.real_holds,
            "synthetic_holds": self.synthetic_holds,
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class StylizedReport:
    """Real and synthetic stylized facts side by side, with a verdict per fact."""

    real: StylizedFacts
    synthetic: StylizedFacts
    verdicts: tuple[FactVerdict, ...] = field(default_factory=tuple)

    @property
    def reproduced(self) -> dict[str, bool]:
        """For each fact the real data shows: does the synthetic data show it too?"""
        return {v.fact: v.synthetic_holds for v in self.verdicts if v.real_holds}

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return {
            "real": self.real.as_dict(),
            "synthetic": self.synthetic.as_dict(),
            "verdicts": {v.fact: v.as_dict() for v in self.verdicts},
        }

    def summary(self) -> str:
        """One line per fact, for a log or a terminal."""
        return "\n".join(f"{v.fact}: {v.verdict}" for v in self.verdicts)


def _verdict(
    fact: str, real: float, synthetic: float, holds: tuple[bool, bool], what: str
) -> FactVerdict:
    real_holds, synthetic_holds = holds
    if real_holds and synthetic_holds:
        text = f"reproduced: {what} in both (real {real:.3f}, synthetic {synthetic:.3f})"
    elif real_holds:
        text = f"missing: {what} in real ({real:.3f}) but not synthetic ({synthetic:.3f})"
    elif synthetic_holds:
        text = f"spurious: {what} in synthetic ({synthetic:.3f}) but not real ({real:.3f})"
    else:
        text = f"absent in both: no {what} (real {real:.3f}, synthetic {synthetic:.3f})"
    return FactVerdict(fact, real, synthetic, real_holds, synthetic_holds, text)


def _fact_checks(f: StylizedFacts) -> dict[str, tuple[float, bool]]:
    """Each fact's summary number and whether it holds, by the thresholds at the top."""
    max_raw = max(abs(v) for v in f.acf_returns)
    mean_leverage = float(np.mean(f.leverage))
    return {
        "fat_tails": (f.excess_kurtosis, f.excess_kurtosis > 0.5),
        "power_tail": (f.hill_tail_index, 1.0 < f.hill_tail_index < MAX_POWER_TAIL_INDEX),
        "no_autocorrelation": (max_raw, max_raw < NEAR_ZERO_ACF),
        "volatility_clustering": (
            f.acf_abs[0],
            f.acf_abs[0] > CLUSTERING_ACF and f.acf_abs[0] > max_raw,
        ),
        "slow_decay": (f.acf_abs[-1], f.acf_abs[-1] > CLUSTERING_ACF),
        "leverage_effect": (mean_leverage, mean_leverage < 0.0),
    }


_FACT_WORDS = {
    "fat_tails": "excess kurtosis > 0.5",
    "power_tail": f"Hill tail index in (1, {MAX_POWER_TAIL_INDEX:g})",
    "no_autocorrelation": f"max |ACF(r)| < {NEAR_ZERO_ACF}",
    "volatility_clustering": f"ACF(|r|) at lag 1 > {CLUSTERING_ACF} and > max |ACF(r)|",
    "slow_decay": f"ACF(|r|) still > {CLUSTERING_ACF} at the last lag",
    "leverage_effect": "mean corr(r_t, r_{t+k}^2) < 0",
}


def compare(
    real: npt.ArrayLike, synthetic: npt.ArrayLike, max_lag: int = DEFAULT_MAX_LAG
) -> StylizedReport:
    """The stylized facts of ``real`` and ``synthetic`` returns side by side, with verdicts."""
    real_facts = stylized_facts(real, max_lag)
    synth_facts = stylized_facts(synthetic, max_lag)
    real_checks, synth_checks = _fact_checks(real_facts), _fact_checks(synth_facts)
    verdicts = tuple(
        _verdict(
            fact,
            real_checks[fact][0],
            synth_checks[fact][0],
            (real_checks[fact][1], synth_checks[fact][1]),
            words,
        )
        for fact, words in _FACT_WORDS.items()
    )
    return StylizedReport(real_facts, synth_facts, verdicts)


__all__ = [
    "FactVerdict",
    "StylizedFacts",
    "StylizedReport",
    "abs_autocorrelation",
    "as_paths",
    "autocorrelation",
    "bundled_log_returns",
    "compare",
    "excess_kurtosis",
    "hill_tail_index",
    "leverage_effect",
    "log_returns",
    "stylized_facts",
]
