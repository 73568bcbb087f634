"""Checks every OHLCV history passes before it becomes a :class:`BarSeries`.

Errors name the source, the row as a person finds it in that source (a CSV file's line, a
Parquet file's 1-based row) and the reason, so a bad file can be fixed without a debugger.
When a source has several problems, the one nearest the top of the file is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from neural_trader.core.market_data import BarSeries, FloatArray, IntArray
from neural_trader.errors import DataError

PRICE_COLUMNS = ("open", "high", "low", "close")

# (seconds per unit, suffix), largest first; "1M" (month) is handled separately.
_UNITS = ((604_800, "w"), (86_400, "d"), (3_600, "h"), (60, "m"), (1, "s"))


@dataclass(frozen=True)
class RowLocator:
    """Says where row ``i`` (0-based, in data order) sits in its source.

    ``label`` is the word a person uses ("line" for CSV, where the header is line 1, so the
    first data row is line 2; "row" for Parquet, counted from 1) and ``offset`` is what turns
    the 0-based index into that number.
    """

    path: Path
    label: str
    offset: int

    def number(self, i: int) -> int:
        return i + self.offset

    def error(self, i: int, reason: str, column: str | None = None) -> DataError:
        """A :class:`DataError` that names the file, the row and the reason."""
        n = self.number(i)
        context: dict[str, object] = {"file": str(self.path), self.label: n}
        if column is not None:
            context["column"] = column
        return DataError(f"{self.path.name} {self.label} {n}: {reason}", **context)


BoolArray = npt.NDArray[np.bool_]
Reason = Callable[[int], str]
# (rows that fail, the column at fault or None, the reason for a given failing row)
Check = tuple[BoolArray, str | None, Reason]


def raise_first(checks: list[Check], loc: RowLocator) -> None:
    """Raise for the earliest row that fails any check (ties go to the earlier check)."""
    best: tuple[int, int] | None = None
    for order, (mask, _column, _reason) in enumerate(checks):
        hits = np.flatnonzero(mask)
        if hits.size and (best is None or int(hits[0]) < best[0]):
            best = (int(hits[0]), order)
    if best is None:
        return
    row, order = best
    mask, column, reason = checks[order]
    more = int(np.count_nonzero(mask)) - 1
    suffix = f" (and {more} more row{'s' if more != 1 else ''} like it)" if more > 0 else ""
    raise loc.error(row, reason(row) + suffix, column)


def _when(ts: IntArray, i: int) -> str:
    return str(pd.Timestamp(int(ts[i]), unit="ns", tz="UTC"))


def _nan(col: str) -> Reason:
    return lambda i: f"missing value (NaN) in {col}"


def _infinite(col: str, arr: FloatArray) -> Reason:
    return lambda i: f"{col} is not a finite number ({arr[i]})"


def _negative_price(col: str, arr: FloatArray) -> Reason:
    return lambda i: f"negative price: {col} {arr[i]}"


def _outside(col: str, arr: FloatArray, low: FloatArray, high: FloatArray) -> Reason:
    return lambda i: f"{col} {arr[i]} is outside [low, high] = [{low[i]}, {high[i]}]"


def _bar_checks(ts: IntArray, prices: dict[str, FloatArray], volume: FloatArray) -> list[Check]:
    """Every rule a bar history must satisfy, as (row mask, column, reason) triples."""
    checks: list[Check] = []
    for col, arr in (*prices.items(), ("volume", volume)):
        checks.append((np.isnan(arr), col, _nan(col)))
        checks.append((np.isinf(arr), col, _infinite(col, arr)))
    prev, cur = ts[:-1], ts[1:]
    earlier = np.concatenate(([False], cur < prev))
    same = np.concatenate(([False], cur == prev))

    def unsorted(i: int) -> str:
        return f"timestamps are not sorted: {_when(ts, i)} comes after {_when(ts, i - 1)}"

    checks.append((earlier, "timestamp", unsorted))
    checks.append((same, "timestamp", lambda i: f"duplicate timestamp {_when(ts, i)}"))
    for col, arr in prices.items():
        checks.append((arr < 0, col, _negative_price(col, arr)))
    o, h, lo, c = (prices[k] for k in PRICE_COLUMNS)
    checks.append((h < lo, "high", lambda i: f"high {h[i]} is below low {lo[i]}"))
    checks.append(((o < lo) | (o > h), "open", _outside("open", o, lo, h)))
    checks.append(((c < lo) | (c > h), "close", _outside("close", c, lo, h)))
    checks.append((volume < 0, "volume", lambda i: f"negative volume {volume[i]}"))
    return checks


def validated_series(
    symbol: str,
    interval: str,
    ts: IntArray,
    prices: dict[str, FloatArray],
    volume: FloatArray,
    loc: RowLocator,
    parse_checks: list[Check] | None = None,
) -> BarSeries:
    """Check a bar history and return it as a :class:`BarSeries` of contiguous arrays.

    ``parse_checks`` (cells that could not be read) come first, so an unreadable cell is
    reported as such rather than as the NaN it was turned into.
    """
    if ts.shape[0] == 0:
        raise DataError(f"{loc.path.name}: no data rows", file=str(loc.path))
    with np.errstate(invalid="ignore"):
        raise_first([*(parse_checks or []), *_bar_checks(ts, prices, volume)], loc)

    def column(arr: FloatArray) -> FloatArray:
        return np.ascontiguousarray(arr, dtype=np.float64)

    return BarSeries(
        symbol,
        interval,
        np.ascontiguousarray(ts, dtype=np.int64),
        column(prices["open"]),
        column(prices["high"]),
        column(prices["low"]),
        column(prices["close"]),
        column(volume),
    )


def interval_label(seconds: int) -> str:
    """Name a bar spacing the way exchanges do: 60 → "1m", 3600 → "1h", 86400 → "1d"."""
    if seconds <= 0:
        raise DataError(f"bar spacing must be positive, got {seconds} s")
    if 28 * 86_400 <= seconds <= 31 * 86_400:
        return "1M"
    for size, suffix in _UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{suffix}"
    raise AssertionError("unreachable: every whole number of seconds has a unit")


def infer_interval(ts: IntArray, path: Path) -> str:
    """The interval of a sorted, duplicate-free series, from its median bar spacing."""
    if ts.shape[0] < 2:
        raise DataError(
            f"{path.name}: cannot infer the bar interval from fewer than two bars; "
            "pass interval= explicitly",
            file=str(path),
        )
    median_ns = float(np.median(np.diff(ts)))
    if median_ns < 1e9:
        return f"{max(1, round(median_ns / 1e6))}ms"
    return interval_label(round(median_ns / 1e9))
