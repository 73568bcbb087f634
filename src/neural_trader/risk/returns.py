"""Aligned daily returns of several assets, from bundled data or a user's price table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from neural_trader.data import load_bars
from neural_trader.data.catalog import TimeBound
from neural_trader.errors import DataError, RiskError


def bundled_returns(
    symbols: list[str], start: TimeBound = None, end: TimeBound = None
) -> tuple[np.ndarray, tuple[str, str]]:
    """Simple returns over the dates all ``symbols`` share (bundled daily closes)."""
    frame = bundled_frame(symbols, start, end)
    return frame.to_numpy(dtype=np.float64), _span(frame)


def bundled_frame(
    symbols: list[str], start: TimeBound = None, end: TimeBound = None
) -> pd.DataFrame:
    """The same returns as a table indexed by date (UTC midnight), one column per symbol."""
    closes = {}
    for sym in symbols:
        bars = load_bars(sym, start=start, end=end)
        closes[sym] = pd.Series(bars.close, index=pd.to_datetime(bars.ts, utc=True).normalize())
    return _returns_frame(pd.DataFrame(closes).dropna(), symbols)


def aligned_benchmark(name: str, dates: pd.DatetimeIndex) -> np.ndarray:
    """The bundled benchmark's daily returns on ``dates`` (NaN where it has no close on both
    that date and the one before it in its own series)."""
    bars = load_bars(name)
    closes = pd.Series(bars.close, index=pd.to_datetime(bars.ts, utc=True).normalize())
    return closes.pct_change().reindex(dates).to_numpy(dtype=np.float64)


def file_returns(path: Path, symbols: list[str]) -> tuple[np.ndarray, tuple[str, str]]:
    """Returns from a CSV of prices: a date column first, then one column per symbol."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path.name}: cannot read prices: {exc}", file=str(path)) from None
    if frame.shape[1] < 2:
        raise DataError(f"{path.name}: need a date column and at least one price column")
    dates = pd.to_datetime(frame.iloc[:, 0], utc=True, errors="coerce")
    bad = np.flatnonzero(dates.isna().to_numpy())
    if bad.size:
        raise DataError(f"{path.name} line {bad[0] + 2}: unparseable date", file=str(path))
    missing = [s for s in symbols if s not in frame.columns]
    if missing:
        raise DataError(
            f"{path.name}: no column for {', '.join(missing)}; has {', '.join(frame.columns[1:])}"
        )
    prices = frame[symbols].apply(pd.to_numeric, errors="coerce")
    prices.index = dates
    for sym in symbols:
        col = prices[sym].to_numpy()
        wrong = np.flatnonzero(~np.isfinite(col) | (col <= 0))
        if wrong.size:
            raise DataError(
                f"{path.name} line {wrong[0] + 2}: {sym} price must be a positive number",
                file=str(path),
            )
    if not prices.index.is_monotonic_increasing or prices.index.has_duplicates:
        raise DataError(f"{path.name}: dates must be strictly increasing", file=str(path))
    return _returns(prices, symbols)


def _returns(prices: pd.DataFrame, symbols: list[str]) -> tuple[np.ndarray, tuple[str, str]]:
    frame = _returns_frame(prices, symbols)
    return frame.to_numpy(dtype=np.float64), _span(frame)


def _returns_frame(prices: pd.DataFrame, symbols: list[str]) -> pd.DataFrame:
    if len(prices) < 3:
        raise RiskError(f"{', '.join(symbols)} share fewer than 3 dates")
    return prices.pct_change().iloc[1:]


def _span(frame: pd.DataFrame) -> tuple[str, str]:
    return str(frame.index[0].date()), str(frame.index[-1].date())
