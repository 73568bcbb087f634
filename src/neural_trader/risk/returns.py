"""Aligned daily returns of several assets, from bundled data or a user's price table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from neural_trader.data import load_bars
from neural_trader.errors import DataError, RiskError


def bundled_returns(
    symbols: list[str], start: str | None = None, end: str | None = None
) -> tuple[np.ndarray, tuple[str, str]]:
    """Simple returns over the dates all ``symbols`` share (bundled daily closes)."""
    closes = {}
    for sym in symbols:
        bars = load_bars(sym, start=start, end=end)
        closes[sym] = pd.Series(bars.close, index=pd.to_datetime(bars.ts, utc=True).normalize())
    return _returns(pd.DataFrame(closes).dropna(), symbols)


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
    if len(prices) < 3:
        raise RiskError(f"{', '.join(symbols)} share fewer than 3 dates")
    rets = prices.pct_change().iloc[1:]
    span = (str(rets.index[0].date()), str(rets.index[-1].date()))
    return rets.to_numpy(dtype=np.float64), span
