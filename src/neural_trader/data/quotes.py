"""Recorded quotes from a file, as the quote ticks the backtest replays, and bars to mark them.

``load_quotes(path)`` reads best bid/ask quotes of any number of symbols from one CSV (or
Parquet) file with the columns, matched case-insensitively, ::

    time, symbol, bid, ask, bid_size, ask_size

(the time column may also be named ``timestamp``, ``ts`` or ``datetime``; other columns are
ignored). Times are ISO 8601, naive ones taken as UTC, exactly as for bar files
(:mod:`neural_trader.data.files`). Rows of different symbols may interleave; each symbol's rows
must be in time order (equal times are kept in file order, as the replay keeps them). Every
bad row is a :class:`DataError` naming the file, the line (the header is line 1) and the
reason: an unreadable or missing value, a bid or ask that is not positive, an ask below the
bid, a negative size, an empty symbol, or a time earlier than the same symbol's previous row.

``quote_bars(ticks, interval)`` turns a symbol's quotes into bars of their mid, which
``run_backtest`` needs to mark the equity curve of every symbol it replays ticks of.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from neural_trader.core.market_data import QUOTE, BarSeries, FloatArray, TickSeries
from neural_trader.data.files import _file_kind, _parse_numbers, _parse_timestamps, _read_csv
from neural_trader.data.files import _read_parquet as _read_pq
from neural_trader.data.ticks import interval_ns
from neural_trader.data.validation import Check, Reason, raise_first
from neural_trader.errors import DataError

TIME_NAMES = ("time", "timestamp", "ts", "datetime")
NUMBER_COLUMNS = ("bid", "ask", "bid_size", "ask_size")


def load_quotes(path: str | Path) -> list[TickSeries]:
    """One quote :class:`TickSeries` per symbol in the file, in order of first appearance."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"quote file not found: {p}", file=str(p))
    frame, loc = _read_csv(p) if _file_kind(p) == "csv" else _read_pq(p)
    if len(frame) == 0:
        raise DataError(f"{p.name}: no data rows", file=str(p))
    columns = _columns([str(c) for c in frame.columns], p)
    ts, checks = _parse_timestamps(frame[columns["time"]], p)
    symbols = frame[columns["symbol"]].astype(str).str.strip().to_numpy()
    checks.append((symbols == "", "symbol", lambda i: "empty symbol"))
    values: dict[str, FloatArray] = {}
    for name in NUMBER_COLUMNS:
        values[name], more = _parse_numbers(frame[columns[name]], name)
        checks += more
    codes, names = pd.factorize(symbols)
    with np.errstate(invalid="ignore"):
        checks += _quote_checks(ts, codes.astype(np.int64), values)
        raise_first(checks, loc)
    return [_series(str(sym), ts[codes == k], values, codes == k) for k, sym in enumerate(names)]


def _columns(names: list[str], path: Path) -> dict[str, str]:
    by_key: dict[str, str] = {}
    for name in names:
        by_key.setdefault(name.strip().lower(), name)
    found: dict[str, str] = {}
    time_key = next((k for k in TIME_NAMES if k in by_key), None)
    if time_key is not None:
        found["time"] = by_key[time_key]
    for key in ("symbol", *NUMBER_COLUMNS):
        if key in by_key:
            found[key] = by_key[key]
    missing = [k for k in ("time", "symbol", *NUMBER_COLUMNS) if k not in found]
    if missing:
        raise DataError(
            f"{path.name}: missing column(s) {', '.join(missing)}; the file has "
            f"{', '.join(repr(n) for n in names) or 'no columns'} (the time column may be "
            f"named {', '.join(TIME_NAMES)})",
            file=str(path),
            missing=missing,
        )
    return found


def _quote_checks(ts: np.ndarray, codes: np.ndarray, v: dict[str, FloatArray]) -> list[Check]:
    """Every rule a row of quotes must satisfy, as (row mask, column, reason) triples."""
    checks: list[Check] = []
    for name, arr in v.items():
        checks.append((np.isnan(arr), name, _missing(name)))
        checks.append((np.isinf(arr), name, _infinite(name, arr)))
    bid, ask = v["bid"], v["ask"]
    checks.append((bid <= 0, "bid", lambda i: f"bid {bid[i]} is not positive"))
    checks.append((ask <= 0, "ask", lambda i: f"ask {ask[i]} is not positive"))
    checks.append((ask < bid, "ask", lambda i: f"ask {ask[i]} is below the bid {bid[i]}"))
    for name in ("bid_size", "ask_size"):
        arr = v[name]
        checks.append((arr < 0, name, _negative(name, arr)))
    back, prev = _backwards(ts, codes)
    when = pd.to_datetime(ts, unit="ns", utc=True)

    def unsorted(i: int) -> str:
        return f"time {when[i]} is before the same symbol's previous quote at {when[prev[i]]}"

    checks.append((back, "time", unsorted))
    return checks


def _backwards(ts: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows earlier than their symbol's previous row, and the index of that previous row."""
    order = np.lexsort((np.arange(len(ts)), codes))  # by symbol, file order within each
    same = codes[order][1:] == codes[order][:-1]
    earlier = ts[order][1:] < ts[order][:-1]
    back = np.zeros(len(ts), dtype=np.bool_)
    prev = np.zeros(len(ts), dtype=np.int64)
    back[order[1:]] = same & earlier
    prev[order[1:]] = order[:-1]
    return back, prev


def _missing(name: str) -> Reason:
    return lambda i: f"missing value (NaN) in {name}"


def _infinite(name: str, arr: FloatArray) -> Reason:
    return lambda i: f"{name} is not a finite number ({arr[i]})"


def _negative(name: str, arr: FloatArray) -> Reason:
    return lambda i: f"negative {name} {arr[i]}"


def _series(symbol: str, ts: np.ndarray, v: dict[str, FloatArray], rows: np.ndarray) -> TickSeries:
    return quote_series(
        symbol, ts, v["bid"][rows], v["ask"][rows], v["bid_size"][rows], v["ask_size"][rows]
    )


def quote_series(
    symbol: str,
    ts: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    bid_size: np.ndarray,
    ask_size: np.ndarray,
) -> TickSeries:
    """A :class:`TickSeries` of quotes only (the trade columns hold NaN, as the type says)."""
    n = len(ts)
    nan = np.full(n, np.nan)

    def col(a: np.ndarray) -> FloatArray:
        return np.ascontiguousarray(a, dtype=np.float64)

    return TickSeries(
        symbol,
        np.ascontiguousarray(ts, dtype=np.int64),
        np.full(n, QUOTE, dtype=np.int8),
        nan,
        nan.copy(),
        np.zeros(n, dtype=np.int8),
        col(bid),
        col(ask),
        col(bid_size),
        col(ask_size),
    )


def quote_bars(ticks: TickSeries, interval: str = "1s") -> BarSeries:
    """Bars of the quotes' mid over UTC-aligned ``interval`` buckets (empty buckets have no
    bar). Each bar is stamped with its last quote's time, when its close was known, so marking
    by them never uses a quote before it arrived; volume is 0 (quotes carry none)."""
    width = interval_ns(interval)
    quotes = ticks.kind == QUOTE
    if not quotes.any():
        raise DataError(f"no quotes of {ticks.symbol} to make bars of", symbol=ticks.symbol)
    ts = ticks.ts[quotes]
    mid = (ticks.bid[quotes] + ticks.ask[quotes]) / 2
    bucket = ts // width
    starts = np.concatenate(([0], np.flatnonzero(np.diff(bucket)) + 1))
    ends = np.concatenate((starts[1:], [len(ts)])) - 1
    return BarSeries(
        ticks.symbol,
        interval,
        np.ascontiguousarray(ts[ends]),
        np.ascontiguousarray(mid[starts]),
        np.maximum.reduceat(mid, starts),
        np.minimum.reduceat(mid, starts),
        np.ascontiguousarray(mid[ends]),
        np.zeros(len(starts)),
    )
