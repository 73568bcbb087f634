"""Performance metrics of an equity curve, in numpy float64 (no pandas).

Conventions (empyrical's, so the numbers can be checked against it):

- returns are simple returns between consecutive equity points, ``e[t] / e[t-1] - 1``;
- ``sharpe`` = mean(r − rf) / std(r − rf, ddof=1) · √periods_per_year, ``rf`` per period;
- ``sortino`` = mean(r − target) / sqrt(mean(min(r − target, 0)²)) · √periods_per_year, the
  downside deviation taken over *all* periods (not only the losing ones), ``target`` per period;
- ``annual_volatility`` = std(r, ddof=1) · √periods_per_year;
- ``max_drawdown`` is a negative fraction (−0.35 for a 35 % fall from the running peak);
- ``max_drawdown_duration`` is the longest run of consecutive bars spent strictly below the
  running peak (a drawdown still open at the last bar counts up to that bar);
- ``cagr`` uses the calendar time actually elapsed between the first and last timestamps, in
  years of 365.25 days — not the bar count;
- ``win_rate`` = winning trades / all trades (a break-even trade is a trade, not a win);
- ``exposure`` = fraction of bars with a non-zero position.

Degenerate inputs (fewer than two points, zero variance, a NaN or infinity, a non-positive
starting value) give NaN, never an exception or a numpy warning. Where empyrical answers ±inf
(a Sortino ratio with no downside at all) these functions answer NaN.

Timestamps are int64 nanoseconds since the Unix epoch (UTC); ``datetime64`` arrays of any unit
are accepted and converted.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from neural_trader.errors import DataError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

NS_PER_HOUR = 3_600 * 10**9
NS_PER_DAY = 24 * NS_PER_HOUR
NS_PER_YEAR = 365.25 * NS_PER_DAY
TRADING_DAYS_PER_YEAR = 252.0
# Bars whose median spacing falls in [DAILY_MIN_SPACING_NS, DAILY_MAX_SPACING_NS) are daily bars.
DAILY_MIN_SPACING_NS = 20 * NS_PER_HOUR
DAILY_MAX_SPACING_NS = 4 * NS_PER_DAY

__all__ = [
    "NS_PER_YEAR",
    "TRADING_DAYS_PER_YEAR",
    "FloatArray",
    "PerformanceSummary",
    "annual_volatility",
    "as_ns",
    "cagr",
    "drawdown_series",
    "exposure",
    "max_drawdown",
    "max_drawdown_duration",
    "periods_per_year",
    "returns_from_equity",
    "sharpe",
    "sortino",
    "summarize",
    "total_return",
    "win_rate",
]


def as_ns(timestamps: npt.ArrayLike) -> IntArray:
    """Timestamps as int64 ns: integers are taken as ns, ``datetime64`` of any unit is converted."""
    a = np.asarray(timestamps)
    if a.dtype.kind == "M":
        return np.asarray(a.astype("datetime64[ns]").view(np.int64), dtype=np.int64).ravel()
    if a.dtype.kind in "iu" or a.size == 0:
        return np.asarray(a, dtype=np.int64).ravel()
    raise DataError(
        f"timestamps must be int64 nanoseconds or datetime64, not {a.dtype}",
        dtype=str(a.dtype),
    )


def _float_vector(values: npt.ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64).ravel()


def _finite_returns(returns: npt.ArrayLike) -> FloatArray | None:
    """The returns if there are at least two and all are finite, else None."""
    r = _float_vector(returns)
    if r.size < 2 or not np.all(np.isfinite(r)):
        return None
    return r


def _valid_periods(periods_per_year: float) -> bool:
    return math.isfinite(periods_per_year) and periods_per_year > 0


def returns_from_equity(equity: npt.ArrayLike) -> FloatArray:
    """Simple returns ``e[1:] / e[:-1] - 1`` (one fewer than the points; empty below two).

    A zero equity point gives an infinite or NaN return, which the ratios then treat as
    degenerate input.
    """
    e = _float_vector(equity)
    if e.size < 2:
        return np.empty(0, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(e[1:] / e[:-1] - 1.0, dtype=np.float64)


def periods_per_year(timestamps_ns: npt.ArrayLike) -> float:
    """Bars per year, inferred from the timestamps.

    The rule: if the median spacing between bars is at least 20 hours and under 4 days, the bars
    are daily and the year has 252 trading days (equity convention, weekends and holidays are
    gaps). Otherwise — intraday bars, or weekly/monthly ones — it is the number of bars the data
    itself shows per calendar year: ``round((n - 1) / span_years)`` with 365.25-day years. So
    hourly FX (24 h × 5 days) comes out near 24·260.9 ≈ 6 261, 24/7 hourly crypto at 8 766, one
    year of regular-hours 1-minute equity bars at 390·(trading days in that year), weekly bars at
    52 and monthly ones at 12. Fewer than two timestamps (nothing to annualise) give 252.
    Pass ``periods_per_year`` explicitly to :func:`summarize` when the sample is too short or too
    irregular for its own span to be representative.
    """
    ts = as_ns(timestamps_ns)
    if ts.size < 2:
        return TRADING_DAYS_PER_YEAR
    spacing = float(np.median(np.diff(ts)))
    if DAILY_MIN_SPACING_NS <= spacing < DAILY_MAX_SPACING_NS:
        return TRADING_DAYS_PER_YEAR
    span_years = float(ts[-1] - ts[0]) / NS_PER_YEAR
    if span_years <= 0:
        return TRADING_DAYS_PER_YEAR
    return float(max(1, round((ts.size - 1) / span_years)))


_infer_periods = periods_per_year  # summarize's parameter of the same name shadows it


def total_return(equity: npt.ArrayLike) -> float:
    """Last equity over the first, minus one (NaN with fewer than two points or e[0] <= 0)."""
    e = _float_vector(equity)
    if e.size < 2 or not (e[0] > 0) or not np.isfinite(e[-1]):
        return math.nan
    return float(e[-1] / e[0] - 1.0)


def cagr(equity: npt.ArrayLike, timestamps_ns: npt.ArrayLike) -> float:
    """(e_last / e_first) ** (1 / years) - 1, years = (t_last - t_first) / 365.25 days."""
    e = _float_vector(equity)
    ts = as_ns(timestamps_ns)
    if e.size < 2 or ts.size < 2 or not (e[0] > 0) or not (e[-1] >= 0):
        return math.nan
    years = float(ts[-1] - ts[0]) / NS_PER_YEAR
    if years <= 0:
        return math.nan
    with np.errstate(over="ignore"):
        return float(np.float64(e[-1] / e[0]) ** (1.0 / years) - 1.0)


def annual_volatility(returns: npt.ArrayLike, periods_per_year: float) -> float:
    """std(r, ddof=1) · √periods_per_year."""
    r = _finite_returns(returns)
    if r is None or not _valid_periods(periods_per_year):
        return math.nan
    return float(r.std(ddof=1) * math.sqrt(periods_per_year))


def sharpe(returns: npt.ArrayLike, periods_per_year: float, risk_free: float = 0.0) -> float:
    """mean(r − rf) / std(r − rf, ddof=1) · √periods_per_year; ``risk_free`` is per period."""
    r = _finite_returns(returns)
    if r is None or not _valid_periods(periods_per_year) or not math.isfinite(risk_free):
        return math.nan
    excess = r - risk_free
    if np.all(excess == excess[0]):  # zero variance, whatever rounding std() would show
        return math.nan
    sd = float(excess.std(ddof=1))
    return float(excess.mean() / sd * math.sqrt(periods_per_year))


def sortino(returns: npt.ArrayLike, periods_per_year: float, target: float = 0.0) -> float:
    """mean(r − target) / sqrt(mean(min(r − target, 0)²)) · √periods_per_year, over all periods."""
    r = _finite_returns(returns)
    if r is None or not _valid_periods(periods_per_year) or not math.isfinite(target):
        return math.nan
    excess = r - target
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    if downside == 0:
        return math.nan
    return float(excess.mean() / downside * math.sqrt(periods_per_year))


def drawdown_series(equity: npt.ArrayLike) -> FloatArray:
    """e / running_peak − 1 at every bar (≤ 0).

    NaN at a NaN bar (the running peak skips it) and wherever the running peak is not positive,
    where a fractional drawdown means nothing.
    """
    e = _float_vector(equity)
    if e.size == 0:
        return np.empty(0, dtype=np.float64)
    peak = np.fmax.accumulate(e)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = e / peak - 1.0
    return np.asarray(np.where(peak > 0, dd, np.nan), dtype=np.float64)


def max_drawdown(equity: npt.ArrayLike) -> float:
    """The deepest drawdown as a negative fraction (0.0 for a curve that never falls).

    NaN if the curve is empty or any drawdown is undefined (a NaN bar, a non-positive peak).
    """
    dd = drawdown_series(equity)
    if dd.size == 0 or np.isnan(dd).any():
        return math.nan
    return float(dd.min())


def max_drawdown_duration(equity: npt.ArrayLike) -> int:
    """Longest run of consecutive bars strictly below the running peak (0 if none).

    A NaN bar (an undefined drawdown) is not counted as under water and ends a run.
    """
    under = (drawdown_series(equity) < 0).astype(np.int8)
    if not under.any():
        return 0
    edges = np.diff(np.concatenate(([0], under, [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return int((ends - starts).max())


def win_rate(pnls: npt.ArrayLike) -> float:
    """Fraction of trades with a positive PnL; NaN with no trades or a non-finite PnL."""
    p = _float_vector(pnls)
    if p.size == 0 or not np.all(np.isfinite(p)):
        return math.nan
    return float(np.count_nonzero(p > 0) / p.size)


def exposure(in_market: npt.ArrayLike) -> float:
    """Fraction of bars with a non-zero position; takes a boolean mask or the positions."""
    m = np.asarray(in_market).ravel()
    if m.size == 0:
        return math.nan
    if m.dtype.kind in "fc" and not np.all(np.isfinite(m)):
        return math.nan
    return float(np.count_nonzero(m) / m.size)


@dataclass(frozen=True)
class PerformanceSummary:
    """The headline numbers of one equity curve; ``start``/``end`` are UTC ns timestamps."""

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
        """JSON-friendly: plain ints and floats, NaN and ±inf become None."""
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(self).items()
        }


def summarize(
    equity: npt.ArrayLike,
    timestamps_ns: npt.ArrayLike,
    trade_pnls: npt.ArrayLike,
    in_market: npt.ArrayLike | None = None,
    periods_per_year: float | None = None,
) -> PerformanceSummary:
    """Every metric of one equity curve (one point per timestamp, strictly increasing times).

    ``in_market`` is a mask (or the positions) aligned with ``equity``; without it exposure is
    NaN. ``periods_per_year`` defaults to the one inferred from the timestamps (see
    :func:`periods_per_year`).

    Raises :class:`~neural_trader.errors.DataError` when the arrays are misaligned or the
    timestamps are not strictly increasing.
    """
    e = _float_vector(equity)
    ts = as_ns(timestamps_ns)
    if e.size != ts.size:
        raise DataError(
            f"equity has {e.size} points but timestamps has {ts.size}",
            equity=e.size,
            timestamps=ts.size,
        )
    if ts.size > 1 and not np.all(np.diff(ts) > 0):
        bad = int(np.flatnonzero(np.diff(ts) <= 0)[0]) + 1
        raise DataError(f"timestamps are not strictly increasing at index {bad}", index=bad)
    held = None if in_market is None else np.asarray(in_market).ravel()
    if held is not None and held.size != e.size:
        raise DataError(
            f"in_market has {held.size} points but equity has {e.size}",
            in_market=held.size,
            equity=e.size,
        )
    ppy = _infer_periods(ts) if periods_per_year is None else float(periods_per_year)
    r = returns_from_equity(e)
    pnls = _float_vector(trade_pnls)
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
        exposure=math.nan if held is None else exposure(held),
        final_equity=float(e[-1]) if e.size else math.nan,
        start=int(ts[0]) if ts.size else 0,
        end=int(ts[-1]) if ts.size else 0,
        periods_per_year=ppy,
    )
