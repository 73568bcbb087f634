"""Position sizing: fixed-fractional stops, volatility targeting and the Kelly criterion.

Every sizer answers with a frozen result whose ``fraction`` (or ``weights``) is the share of
equity to put at risk in the position: 0 means "do not trade", and ``reason`` says why. Inputs
that are merely degenerate at run time (a stop equal to the entry, a flat or NaN-bearing return
history, a singular covariance, no edge) are answered with size 0 and a reason, never with an
exception. :class:`~neural_trader.errors.RiskError` is kept for misuse by the caller: negative
prices, fractions outside (0, 1], probabilities outside [0, 1], arrays of the wrong shape.

Conventions:

- ``returns`` are simple per-period returns (one float per bar), as float64.
- ``risk_free`` is an *annual* rate; the per-period rate is ``risk_free / periods_per_year``.
- Kelly fractions are signed: a negative continuous or multi-asset Kelly weight is a short.
  The discrete (bet) Kelly cannot be short, so a non-positive f* is "no edge".
- Fractions are not capped unless a cap is asked for; ``fractional_kelly`` scales any result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from neural_trader.errors import RiskError

#: Covariances with a 2-norm condition number above this are treated as singular.
MAX_CONDITION_NUMBER = 1e12
#: A sample std below this share of the largest |return| is float noise: the series is flat.
FLAT_TOLERANCE = 1e-12


@dataclass(frozen=True, slots=True)
class SizeResult:
    """One position's size: ``fraction`` of equity (0 = no trade) and units when a price was
    given."""

    fraction: float
    quantity: float | None
    reason: str


@dataclass(frozen=True, slots=True, eq=False)
class MultiSizeResult:
    """Signed weights per asset (fractions of equity, read-only array) and why they are so."""

    weights: NDArray[np.float64]
    reason: str


def _no_trade(reason: str, quantity: float | None = None) -> SizeResult:
    return SizeResult(fraction=0.0, quantity=quantity, reason=reason)


def _finite(name: str, value: float) -> float:
    x = float(value)
    if not math.isfinite(x):
        raise RiskError(f"{name} must be a finite number, got {value}")
    return x


def _positive(name: str, value: float) -> float:
    x = _finite(name, value)
    if x <= 0:
        raise RiskError(f"{name} must be positive, got {value}")
    return x


def _unit_fraction(name: str, value: float) -> float:
    x = _finite(name, value)
    if not 0 < x <= 1:
        raise RiskError(f"{name} must be in (0, 1], got {value}")
    return x


def _returns_1d(returns: ArrayLike) -> NDArray[np.float64]:
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1:
        raise RiskError(f"returns must be a 1-D series, got shape {r.shape}")
    return r


def _history_problem(r: NDArray[np.float64], min_rows: int = 2) -> str | None:
    """Why a return history cannot carry a size, or None when it can."""
    if r.shape[0] < min_rows:
        return f"need at least {min_rows} returns, got {r.shape[0]}"
    bad = int(np.sum(~np.isfinite(r)))
    if bad:
        return f"returns contain {bad} NaN or infinite values"
    return None


def _flat(r: NDArray[np.float64], sd: float) -> bool:
    """A history with no real dispersion: its sample std is zero, non-finite, or rounding noise
    (below 1e-12 of the largest return, as for a constant series whose mean is inexact)."""
    return not math.isfinite(sd) or sd <= FLAT_TOLERANCE * float(np.max(np.abs(r)))


# --------------------------------------------------------------------------- stop and volatility


def fixed_fractional(
    equity: float, risk_fraction: float, entry_price: float, stop_price: float
) -> SizeResult:
    """Risk ``risk_fraction`` of equity between entry and stop.

    units = equity·risk_fraction / |entry − stop|, and the fraction of equity committed is
    units·entry / equity = risk_fraction·entry / |entry − stop| (may exceed 1: leverage).
    A stop equal to the entry, or no positive equity, sizes to 0.
    """
    equity = _finite("equity", equity)
    risk_fraction = _unit_fraction("risk_fraction", risk_fraction)
    entry = _positive("entry_price", entry_price)
    stop = _finite("stop_price", stop_price)
    if stop < 0:
        raise RiskError(f"stop_price must not be negative, got {stop_price}")
    if equity <= 0:
        return _no_trade(f"no equity to risk (equity={equity})", quantity=0.0)
    distance = abs(entry - stop)
    if distance == 0:
        return _no_trade("stop equals entry: zero risk distance", quantity=0.0)
    units = equity * risk_fraction / distance
    return SizeResult(
        fraction=units * entry / equity,
        quantity=units,
        reason=f"risk {risk_fraction:g} of equity over stop distance {distance:g}",
    )


def volatility_target(
    returns: ArrayLike,
    target_annual_vol: float,
    periods_per_year: int = 252,
    max_leverage: float = 1.0,
) -> SizeResult:
    """fraction = target / realised annual vol (per-period std, ddof=1, times √periods),
    capped at ``max_leverage``; a flat or NaN-bearing history sizes to 0."""
    target = _positive("target_annual_vol", target_annual_vol)
    periods = _positive("periods_per_year", periods_per_year)
    cap = _positive("max_leverage", max_leverage)
    r = _returns_1d(returns)
    problem = _history_problem(r)
    if problem:
        return _no_trade(problem)
    sd = float(np.std(r, ddof=1))
    if _flat(r, sd):
        return _no_trade("zero realised volatility")
    vol = sd * math.sqrt(periods)
    fraction = target / vol
    if fraction > cap:
        return SizeResult(cap, None, f"capped at max_leverage {cap:g} (uncapped {fraction:g})")
    return SizeResult(fraction, None, f"target {target:g} / realised vol {vol:g}")


# --------------------------------------------------------------------------- Kelly


def kelly_discrete(p: float, b: float) -> SizeResult:
    """Kelly bet on a win with probability ``p`` paying ``b`` per unit staked (losing the
    stake otherwise): f* = p − (1 − p)/b; f* ≤ 0 is "no edge"."""
    p = _finite("p", p)
    b = _finite("b", b)
    if not 0 <= p <= 1:
        raise RiskError(f"win probability p must be in [0, 1], got {p}")
    if b <= 0:
        raise RiskError(f"payoff odds b must be positive, got {b}")
    f = p - (1 - p) / b
    if f <= 0:
        return _no_trade("no edge")
    return SizeResult(f, None, f"kelly p={p:g} b={b:g}")


def kelly_continuous(
    returns: ArrayLike, risk_free: float = 0.0, periods_per_year: int = 252
) -> SizeResult:
    """Continuous-time Kelly leverage f* = (μ − r)/σ² from per-period mean and variance
    (ddof=1), with r = risk_free / periods_per_year. Signed: negative means short."""
    rf = _finite("risk_free", risk_free)
    periods = _positive("periods_per_year", periods_per_year)
    r = _returns_1d(returns)
    problem = _history_problem(r)
    if problem:
        return _no_trade(problem)
    sd = float(np.std(r, ddof=1))
    if _flat(r, sd):
        return _no_trade("zero variance")
    var = sd * sd
    excess = float(np.mean(r)) - rf / periods
    f = excess / var
    if f == 0.0:
        return _no_trade("no edge")
    return SizeResult(f, None, f"kelly mu_excess={excess:g} var={var:g}")


def kelly_multi_asset(
    returns_matrix: ArrayLike,
    risk_free: float = 0.0,
    per_asset_cap: float | None = None,
    gross_leverage_cap: float | None = None,
    periods_per_year: int = 252,
) -> MultiSizeResult:
    """Multi-asset Kelly weights w = Σ⁻¹(μ − r) from a (periods × assets) history, solved (not
    inverted). A singular or ill-conditioned Σ (cond > 1e12) gives zero weights. Then each
    |w_i| is clipped to ``per_asset_cap`` and, if Σ|w| still exceeds ``gross_leverage_cap``,
    all weights are scaled down by the same factor."""
    rf = _finite("risk_free", risk_free)
    periods = _positive("periods_per_year", periods_per_year)
    asset_cap = None if per_asset_cap is None else _positive("per_asset_cap", per_asset_cap)
    gross_cap = (
        None if gross_leverage_cap is None else _positive("gross_leverage_cap", gross_leverage_cap)
    )
    x = np.asarray(returns_matrix, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] == 0:
        raise RiskError(f"returns_matrix must be 2-D (periods × assets), got shape {x.shape}")
    n = x.shape[1]
    zeros = np.zeros(n, dtype=np.float64)
    problem = _history_problem(x)
    if problem:
        return _multi(zeros, problem)
    cov = np.atleast_2d(np.cov(x, rowvar=False, ddof=1))
    excess = x.mean(axis=0) - rf / periods
    try:
        if not np.linalg.cond(cov) <= MAX_CONDITION_NUMBER:
            return _multi(zeros, "singular or ill-conditioned covariance")
        w = np.linalg.solve(cov, excess)
    except np.linalg.LinAlgError:
        return _multi(zeros, "singular or ill-conditioned covariance")
    return _apply_caps(w, asset_cap, gross_cap)


def _apply_caps(
    w: NDArray[np.float64], asset_cap: float | None, gross_cap: float | None
) -> MultiSizeResult:
    notes = ["kelly"]
    if asset_cap is not None and np.any(np.abs(w) > asset_cap):
        w = np.clip(w, -asset_cap, asset_cap)
        notes.append(f"clipped to per-asset cap {asset_cap:g}")
    gross = float(np.sum(np.abs(w)))
    if gross_cap is not None and gross > gross_cap:
        w = w * (gross_cap / gross)
        notes.append(f"scaled from gross {gross:g} to cap {gross_cap:g}")
    return _multi(w, "; ".join(notes))


def _multi(weights: NDArray[np.float64], reason: str) -> MultiSizeResult:
    w = np.array(weights, dtype=np.float64)
    w.setflags(write=False)
    return MultiSizeResult(weights=w, reason=reason)


@overload
def fractional_kelly(result: SizeResult, fraction: float) -> SizeResult: ...
@overload
def fractional_kelly(result: MultiSizeResult, fraction: float) -> MultiSizeResult: ...
def fractional_kelly(
    result: SizeResult | MultiSizeResult, fraction: float
) -> SizeResult | MultiSizeResult:
    """Scale a Kelly result (single or multi-asset) by ``fraction`` in (0, 1], e.g. ½-Kelly."""
    k = _unit_fraction("fraction", fraction)
    if isinstance(result, MultiSizeResult):
        return _multi(result.weights * k, f"{k:g} x {result.reason}")
    if not isinstance(result, SizeResult):
        raise RiskError(f"fractional_kelly needs a sizing result, got {type(result).__name__}")
    if result.fraction == 0.0:
        return result
    quantity = None if result.quantity is None else result.quantity * k
    return SizeResult(result.fraction * k, quantity, f"{k:g} x {result.reason}")


__all__ = [
    "FLAT_TOLERANCE",
    "MAX_CONDITION_NUMBER",
    "MultiSizeResult",
    "SizeResult",
    "fixed_fractional",
    "fractional_kelly",
    "kelly_continuous",
    "kelly_discrete",
    "kelly_multi_asset",
    "volatility_target",
]
