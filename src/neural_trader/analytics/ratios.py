"""Further performance metrics: risk-adjusted ratios, distribution shape, trade statistics,
benchmark-relative measures, rolling windows and calendar tables.

Conventions (empyrical's where empyrical has the metric, so numbers can be checked against it):

- returns are simple per-period returns (``metrics.returns_from_equity``); equity is a curve with
  one point per bar, timestamps are int64 nanoseconds since the epoch (UTC).
- ``calmar`` = calendar CAGR (``metrics.cagr``, 365.25-day years) / |max drawdown|.
- ``omega`` takes an *annual* threshold and turns it into a per-period one as
  ``(1 + threshold) ** (1 / periods_per_year) - 1`` (unchanged when ``periods_per_year == 1``).
- ``ulcer_index`` uses drawdowns in percent (−25 for a 25% drawdown) and the population mean:
  ``sqrt(mean(dd_pct ** 2))`` over every point of the curve.
- ``skew`` and ``kurtosis`` are the bias-corrected sample estimators (scipy.stats with
  ``bias=False``, pandas' ``Series.skew``/``Series.kurt``); kurtosis is *excess* (normal = 0).
- ``tail_ratio`` = |95th percentile| / |5th percentile| (numpy's linear interpolation).
- ``turnover`` = Σ|traded notional| / mean equity, divided by the years the curve spans,
  ``(len(equity) - 1) / periods_per_year``: how many times the book is traded per year.
- ``alpha_beta``: beta = cov(r − rf, b − rf) / var(b − rf) (population moments); alpha =
  (1 + mean(r − rf − beta·(b − rf))) ** periods_per_year − 1 (the mean per-period alpha,
  compounded over a year).
- ``information_ratio`` = mean(r − b) / std(r − b, ddof=1) · √periods_per_year (empyrical's
  ``excess_sharpe`` times √periods_per_year; pass ``periods_per_year=1`` for the raw one).
- trade statistics ignore nothing: a zero PnL counts as a trade in ``expectancy`` but is neither
  a win nor a loss.

Degenerate inputs (empty, too short, constant where a dispersion is divided by, any NaN or inf)
give NaN, never an exception. Mismatched lengths where two series must line up are a caller error
and raise ``ValueError``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pandas as pd

from neural_trader.analytics.metrics import (
    FloatArray,
    annual_volatility,
    cagr,
    drawdown_series,
    max_drawdown,
    sharpe,
)

__all__ = [
    "alpha_beta",
    "average_loss",
    "average_win",
    "calmar",
    "expectancy",
    "information_ratio",
    "kurtosis",
    "monthly_returns",
    "omega",
    "payoff_ratio",
    "profit_factor",
    "rolling_sharpe",
    "rolling_volatility",
    "skew",
    "tail_ratio",
    "turnover",
    "ulcer_index",
    "yearly_returns",
]

_EPS = float(np.finfo(np.float64).eps)


def _finite(values: npt.ArrayLike, min_size: int = 1) -> FloatArray | None:
    """The values as float64 if there are at least ``min_size`` of them and all are finite."""
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size < min_size or not np.all(np.isfinite(a)):
        return None
    return a


def _paired(a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[FloatArray, FloatArray] | None:
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.size != y.size:
        raise ValueError(f"returns ({x.size}) and benchmark returns ({y.size}) differ in length")
    if x.size < 2 or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return None
    return x, y


# --- risk-adjusted ratios -------------------------------------------------------------------


def calmar(equity: npt.ArrayLike, timestamps_ns: npt.ArrayLike) -> float:
    """Calendar CAGR divided by the magnitude of the maximum drawdown (NaN with no drawdown)."""
    e = _finite(equity, min_size=2)
    if e is None:
        return math.nan
    mdd = max_drawdown(e)
    growth = cagr(e, timestamps_ns)
    if not (mdd < 0) or not math.isfinite(growth):
        return math.nan
    return float(growth / abs(mdd))


def omega(returns: npt.ArrayLike, threshold: float = 0.0, periods_per_year: float = 252.0) -> float:
    """Σ gains above the per-period threshold / Σ losses below it; ``threshold`` is annual."""
    r = _finite(returns, min_size=2)
    if r is None:
        return math.nan
    if periods_per_year == 1:
        per_period = threshold
    elif threshold <= -1:
        return math.nan
    else:
        per_period = (1.0 + threshold) ** (1.0 / periods_per_year) - 1.0
    excess = r - per_period
    gains = float(excess[excess > 0].sum())
    losses = -float(excess[excess < 0].sum())
    return gains / losses if losses > 0 else math.nan


def ulcer_index(equity: npt.ArrayLike) -> float:
    """sqrt(mean(drawdown_pct²)), drawdowns in percent; 0 for a curve that never falls."""
    e = _finite(equity)
    if e is None or np.any(e <= 0):
        return math.nan
    dd_pct = 100.0 * drawdown_series(e)
    return math.sqrt(float(np.mean(dd_pct**2)))


def tail_ratio(returns: npt.ArrayLike) -> float:
    """|95th percentile| / |5th percentile| of the returns (NaN if the 5th percentile is 0)."""
    r = _finite(returns)
    if r is None:
        return math.nan
    low = abs(float(np.percentile(r, 5)))
    return abs(float(np.percentile(r, 95))) / low if low > 0 else math.nan


# --- distribution shape ---------------------------------------------------------------------


def _central_moments(r: FloatArray) -> tuple[float, float, float, float] | None:
    """(m2, m3, m4, n) about the mean, or None if the data have no dispersion."""
    mean = float(r.mean())
    d = r - mean
    m2 = float(np.mean(d**2))
    if m2 <= (_EPS * abs(mean)) ** 2 or m2 == 0.0:
        return None
    return m2, float(np.mean(d**3)), float(np.mean(d**4)), float(r.size)


def skew(returns: npt.ArrayLike) -> float:
    """Bias-corrected sample skewness G1 = g1·√(n(n−1))/(n−2) (scipy ``bias=False``)."""
    r = _finite(returns, min_size=3)
    moments = None if r is None else _central_moments(r)
    if moments is None:
        return math.nan
    m2, m3, _, n = moments
    g1 = m3 / m2**1.5
    return float(g1 * math.sqrt(n * (n - 1.0)) / (n - 2.0))


def kurtosis(returns: npt.ArrayLike) -> float:
    """Bias-corrected excess kurtosis G2 = ((n+1)·g2 + 6)·(n−1)/((n−2)(n−3)), g2 = m4/m2² − 3."""
    r = _finite(returns, min_size=4)
    moments = None if r is None else _central_moments(r)
    if moments is None:
        return math.nan
    m2, _, m4, n = moments
    g2 = m4 / m2**2 - 3.0
    return float(((n + 1.0) * g2 + 6.0) * (n - 1.0) / ((n - 2.0) * (n - 3.0)))


# --- trade statistics -----------------------------------------------------------------------


def profit_factor(pnls: npt.ArrayLike) -> float:
    """Gross profit / gross loss (NaN without any losing trade)."""
    p = _finite(pnls)
    if p is None:
        return math.nan
    loss = -float(p[p < 0].sum())
    return float(p[p > 0].sum()) / loss if loss > 0 else math.nan


def expectancy(pnls: npt.ArrayLike) -> float:
    """Mean PnL per trade."""
    p = _finite(pnls)
    return math.nan if p is None else float(p.mean())


def average_win(pnls: npt.ArrayLike) -> float:
    """Mean PnL of the winning (> 0) trades."""
    p = _finite(pnls)
    if p is None or not np.any(p > 0):
        return math.nan
    return float(p[p > 0].mean())


def average_loss(pnls: npt.ArrayLike) -> float:
    """Mean PnL of the losing (< 0) trades, a negative number."""
    p = _finite(pnls)
    if p is None or not np.any(p < 0):
        return math.nan
    return float(p[p < 0].mean())


def payoff_ratio(pnls: npt.ArrayLike) -> float:
    """Average win / |average loss|."""
    win, loss = average_win(pnls), average_loss(pnls)
    if math.isnan(win) or math.isnan(loss):
        return math.nan
    return win / abs(loss)


def turnover(
    traded_notional: npt.ArrayLike, equity: npt.ArrayLike, periods_per_year: float = 252.0
) -> float:
    """Σ|traded notional| / mean equity per year; the curve spans (len(equity) − 1) periods."""
    notional = np.asarray(traded_notional, dtype=np.float64).ravel()
    e = _finite(equity, min_size=2)
    if e is None or not np.all(np.isfinite(notional)) or periods_per_year <= 0:
        return math.nan
    mean_equity = float(e.mean())
    if mean_equity <= 0:
        return math.nan
    years = (e.size - 1) / periods_per_year
    return float(np.abs(notional).sum()) / mean_equity / years


# --- relative to a benchmark ----------------------------------------------------------------


def alpha_beta(
    returns: npt.ArrayLike,
    benchmark_returns: npt.ArrayLike,
    periods_per_year: float = 252.0,
    risk_free: float = 0.0,
) -> tuple[float, float]:
    """(annualised alpha, beta) of the returns against the benchmark, empyrical's definition."""
    pair = _paired(returns, benchmark_returns)
    if pair is None:
        return math.nan, math.nan
    r, b = pair[0] - risk_free, pair[1] - risk_free
    b_centred = b - b.mean()
    variance = float(np.mean(b_centred**2))
    if variance < 1e-30:
        return math.nan, math.nan
    beta = float(np.mean(b_centred * r)) / variance
    alpha = (1.0 + float(np.mean(r - beta * b))) ** periods_per_year - 1.0
    return float(alpha), beta


def information_ratio(
    returns: npt.ArrayLike, benchmark_returns: npt.ArrayLike, periods_per_year: float = 252.0
) -> float:
    """Mean active return / its std (ddof=1) · √periods_per_year."""
    pair = _paired(returns, benchmark_returns)
    if pair is None:
        return math.nan
    return sharpe(pair[0] - pair[1], periods_per_year)


# --- rolling windows ------------------------------------------------------------------------


def _rolling(returns: npt.ArrayLike, window: int, periods_per_year: float, kind: str) -> FloatArray:
    r = np.asarray(returns, dtype=np.float64).ravel()
    out = np.full(r.size, np.nan, dtype=np.float64)
    if window < 2 or r.size < window:
        return out
    measure = sharpe if kind == "sharpe" else annual_volatility
    for end in range(window, r.size + 1):
        out[end - 1] = measure(r[end - window : end], periods_per_year)
    return out


def rolling_sharpe(returns: npt.ArrayLike, window: int, periods_per_year: float) -> FloatArray:
    """Sharpe of each trailing ``window`` returns, aligned with the input, NaN until warm."""
    return _rolling(returns, window, periods_per_year, "sharpe")


def rolling_volatility(returns: npt.ArrayLike, window: int, periods_per_year: float) -> FloatArray:
    """Annualised volatility of each trailing ``window`` returns, aligned, NaN until warm."""
    return _rolling(returns, window, periods_per_year, "volatility")


# --- calendar tables ------------------------------------------------------------------------


def _period_returns(
    equity: npt.ArrayLike, timestamps_ns: npt.ArrayLike, unit: str
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """(period keys, compounded returns): each period's last equity over the previous one's
    last equity (the first point of the curve for the first period)."""
    e = np.asarray(equity, dtype=np.float64).ravel()
    ts = np.asarray(timestamps_ns, dtype=np.int64).ravel()
    if e.size != ts.size:
        raise ValueError(f"equity ({e.size}) and timestamps ({ts.size}) differ in length")
    if e.size < 2:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    if np.any(np.diff(ts) < 0):
        raise ValueError("timestamps must be sorted ascending")
    keys = ts.astype("datetime64[ns]").astype(f"datetime64[{unit}]").astype(np.int64)
    last = np.flatnonzero(np.append(keys[1:] != keys[:-1], True))
    closes = e[last]
    bases = np.concatenate(([e[0]], closes[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        rets = closes / bases - 1.0
    rets[~np.isfinite(rets)] = np.nan
    return keys[last], np.asarray(rets, dtype=np.float64)


def monthly_returns(equity: npt.ArrayLike, timestamps_ns: npt.ArrayLike) -> pd.DataFrame:
    """Calendar-month returns (UTC) compounded from the equity curve; rows are years, columns
    1..12, NaN for months without data."""
    keys, rets = _period_returns(equity, timestamps_ns, "M")
    years, months = 1970 + keys // 12, keys % 12 + 1
    table = pd.DataFrame({"year": years, "month": months, "ret": rets})
    wide = table.pivot(index="year", columns="month", values="ret")
    wide = wide.reindex(columns=range(1, 13))
    wide.index.name, wide.columns.name = "year", "month"
    return wide.astype(np.float64)


def yearly_returns(equity: npt.ArrayLike, timestamps_ns: npt.ArrayLike) -> pd.Series:
    """Calendar-year returns (UTC) compounded from the equity curve, indexed by year."""
    keys, rets = _period_returns(equity, timestamps_ns, "Y")
    return pd.Series(rets, index=pd.Index(1970 + keys, name="year"), name="return", dtype=float)
