"""Performance metrics of an equity curve, in numpy float64 (no pandas).

Conventions (those of empyrical/quantstats, so numbers can be compared with them):
simple returns between consecutive equity points; Sharpe = mean/std (ddof=1)·√periods;
Sortino = mean / sqrt(mean(min(r, 0)²))·√periods over all periods; max drawdown as a negative
fraction; CAGR over the calendar time actually elapsed (365.25-day years). Ratios of degenerate
inputs (too few points, zero variance, NaN) are NaN rather than an exception.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
NS_PER_YEAR = 365.25 * 86_400 * 1e9


def returns_from_equity(equity: npt.ArrayLike) -> FloatArray:
    e = np.asarray(equity, dtype=np.float64)
    if e.size < 2:
        return np.empty(0, dtype=np.float64)
    return np.asarray(e[1:] / e[:-1] - 1.0, dtype=np.float64)


def periods_per_year(timestamps_ns: npt.ArrayLike) -> float:
    """252 for daily (or slower) data; otherwise the bars per year the data itself shows."""
    ts = np.asarray(timestamps_ns, dtype=np.int64)
    if ts.size < 2:
        return 252.0
    spacing = float(np.median(np.diff(ts)))
    if spacing >= 20 * 3_600 * 1e9:
        return 252.0
    span_years = (ts[-1] - ts[0]) / NS_PER_YEAR
    return float(round((ts.size - 1) / span_years)) if span_years > 0 else 252.0


def total_return(equity: npt.ArrayLike) -> float:
    e = np.asarray(equity, dtype=np.float64)
    return float(e[-1] / e[0] - 1.0) if e.size >= 2 and e[0] != 0 else math.nan


def cagr(equity: npt.ArrayLike, timestamps_ns: npt.ArrayLike) -> float:
    e = np.asarray(equity, dtype=np.float64)
    ts = np.asarray(timestamps_ns, dtype=np.int64)
    if e.size < 2 or e[0] <= 0 or e[-1] < 0:
        return math.nan
    years = (ts[-1] - ts[0]) / NS_PER_YEAR
    return float((e[-1] / e[0]) ** (1.0 / years) - 1.0) if years > 0 else math.nan


def _clean(returns: npt.ArrayLike) -> FloatArray | None:
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 2 or not np.all(np.isfinite(r)):
        return None
    return r


def annual_volatility(returns: npt.ArrayLike, periods: float) -> float:
    r = _clean(returns)
    return math.nan if r is None else float(r.std(ddof=1) * math.sqrt(periods))


def sharpe(returns: npt.ArrayLike, periods: float, risk_free: float = 0.0) -> float:
    r = _clean(returns)
    if r is None:
        return math.nan
    excess = r - risk_free
    sd = float(excess.std(ddof=1))
    return float(excess.mean() / sd * math.sqrt(periods)) if sd > 0 else math.nan


def sortino(returns: npt.ArrayLike, periods: float, target: float = 0.0) -> float:
    r = _clean(returns)
    if r is None:
        return math.nan
    downside = math.sqrt(float(np.mean(np.minimum(r - target, 0.0) ** 2)))
    return float((r - target).mean() / downside * math.sqrt(periods)) if downside > 0 else math.nan


def drawdown_series(equity: npt.ArrayLike) -> FloatArray:
    e = np.asarray(equity, dtype=np.float64)
    if e.size == 0:
        return np.empty(0, dtype=np.float64)
    peak = np.maximum.accumulate(e)
    return np.asarray(e / peak - 1.0, dtype=np.float64)


def max_drawdown(equity: npt.ArrayLike) -> float:
    dd = drawdown_series(equity)
    return float(dd.min()) if dd.size else math.nan


def max_drawdown_duration(equity: npt.ArrayLike) -> int:
    """Longest run of bars spent below a previous peak."""
    under = drawdown_series(equity) < 0
    longest = run = 0
    for flag in under.tolist():
        run = run + 1 if flag else 0
        longest = max(longest, run)
    return longest


def win_rate(pnls: npt.ArrayLike) -> float:
    p = np.asarray(pnls, dtype=np.float64)
    return float(np.mean(p > 0)) if p.size else math.nan


def exposure(in_market: npt.ArrayLike) -> float:
    m = np.asarray(in_market, dtype=np.bool_)
    return float(m.mean()) if m.size else math.nan


@dataclass(frozen=True)
class PerformanceSummary:
    total_return: float
    cagr: float
    volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float
    max_drawdown_duration: int
    num_trades: int
    win_rate: float
    exposure: float
    final_equity: float
    start: int
    end: int
    periods_per_year: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly: NaN becomes None."""
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in asdict(self).items()
        }


def summarize(
    equity: npt.ArrayLike,
    timestamps_ns: npt.ArrayLike,
    trade_pnls: npt.ArrayLike,
    in_market: npt.ArrayLike | None = None,
    periods: float | None = None,
) -> PerformanceSummary:
    e = np.asarray(equity, dtype=np.float64)
    ts = np.asarray(timestamps_ns, dtype=np.int64)
    ppy = periods if periods is not None else periods_per_year(ts)
    r = returns_from_equity(e)
    pnls = np.asarray(trade_pnls, dtype=np.float64)
    return PerformanceSummary(
        total_return=total_return(e),
        cagr=cagr(e, ts),
        volatility=annual_volatility(r, ppy),
        sharpe=sharpe(r, ppy),
        sortino=sortino(r, ppy),
        max_drawdown=max_drawdown(e),
        max_drawdown_duration=max_drawdown_duration(e),
        num_trades=int(pnls.size),
        win_rate=win_rate(pnls),
        exposure=exposure(in_market) if in_market is not None else math.nan,
        final_equity=float(e[-1]) if e.size else math.nan,
        start=int(ts[0]) if ts.size else 0,
        end=int(ts[-1]) if ts.size else 0,
        periods_per_year=ppy,
    )
