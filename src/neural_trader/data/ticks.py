"""Ticks **derived** from bars: a deterministic, synthetic trade and quote stream for strategies
that quote (market making) when only bars exist, such as the bundled hourly EURUSD.

Nothing here was observed. Each bar becomes four points along the simulated venue's intrabar
path (``brokers/paper.py``), and each point a trade followed by the quote it leaves behind:

* **Path.** open → the extreme nearer the open → the other extreme → close. When the open is
  equally far from both extremes (to a billionth of the price) the low comes first if the bar
  closed at or above its open, the high first otherwise (the path then ends running from the
  far extreme to the close).
* **Times.** With ``step = min(interval, time since the previous bar) // 4`` (the first bar
  uses the interval), the points are stamped ``ts - 3·step``, ``ts - 2·step``, ``ts - step``
  and ``ts``: the close point at the bar's own time, every point after the previous bar's
  close, strictly increasing. The interval is the series' label ("1h", "15m", "1d", ...).
* **Trades.** One at each point, at the point's price, of a quarter of the bar's volume (in
  the source's units: Dukascopy's for EURUSD, whose every bar has volume). A bar without
  volume needs ``size_if_no_volume``, the stated size per trade, or is refused. The aggressor
  is the buyer when the price rose into the point (from the previous point or the previous
  bar's close), the seller when it fell, unknown when it did not move or at the first point.
* **Quotes.** Right after each trade, at the same time: ``bid = price - spread/2``,
  ``ask = price + spread/2``, both rounded to ``decimals`` places when given, each side showing
  the trade's size (there is no book; the touch is assumed as deep as one trade).

Bars of EURUSD are ask prices; the derived trades and mids sit on them, a constant offset of
half the real spread that a market maker's round trips do not see. A derived stream is a
prefix-stable function of the bars: the ticks of the first ``m`` bars are the first ``8·m``
ticks of the whole series, so truncating the bars truncates the ticks and changes nothing else.
"""

from __future__ import annotations

import re

import numpy as np

from neural_trader.core.market_data import QUOTE, TRADE, BarSeries, TickSeries
from neural_trader.errors import DataError

POINTS = 4
_UNIT_NS = {
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3_600 * 10**9,
    "d": 86_400 * 10**9,
    "w": 604_800 * 10**9,
}
_LABEL = re.compile(r"^(\d+)(ms|s|m|h|d|w)$")


def interval_ns(label: str) -> int:
    """Nanoseconds in a bar interval label such as "1h", "15m", "1d" or "500ms"."""
    match = _LABEL.match(label)
    if match is None or int(match.group(1)) == 0:
        raise DataError(
            f"cannot derive ticks: bar interval {label!r} is not a whole number of ms, s, m, "
            "h, d or w",
            interval=label,
        )
    return int(match.group(1)) * _UNIT_NS[match.group(2)]


def derived_ticks(
    bars: BarSeries,
    *,
    spread: float,
    decimals: int | None = None,
    size_if_no_volume: float | None = None,
) -> TickSeries:
    """The synthetic trade and quote stream of ``bars`` (see the module doc for every rule)."""
    if not spread >= 0:
        raise DataError(f"cannot derive ticks: spread must be >= 0, got {spread}")
    if size_if_no_volume is not None and not size_if_no_volume > 0:
        raise DataError(
            f"cannot derive ticks: size_if_no_volume must be > 0, got {size_if_no_volume}"
        )
    n = len(bars)
    step = _steps(bars)
    points = _path(bars)
    size = _sizes(bars, size_if_no_volume)
    offsets = np.arange(POINTS - 1, -1, -1, dtype=np.int64)
    ts = (bars.ts[:, None] - offsets[None, :] * step[:, None]).ravel()
    price = points.ravel()
    if decimals is not None:
        price = np.round(price, decimals)
    # +1 when the price rose into the point, -1 when it fell (the first point has no past).
    moved = np.sign(np.diff(price, prepend=price[:1])).astype(np.int8)
    bid, ask = price - spread / 2, price + spread / 2
    if decimals is not None:
        bid, ask = np.round(bid, decimals), np.round(ask, decimals)
    each = np.repeat(size, POINTS)
    nan = np.full(n * POINTS, np.nan)
    zero = np.zeros(n * POINTS, dtype=np.int8)
    return TickSeries(
        bars.symbol,
        np.repeat(ts, 2),
        np.tile(np.array([TRADE, QUOTE], dtype=np.int8), n * POINTS),
        _pair(price, nan),
        _pair(each, nan),
        _pair(moved, zero),
        _pair(nan, bid),
        _pair(nan, ask),
        _pair(nan, each),
        _pair(nan, each),
    )


def _steps(bars: BarSeries) -> np.ndarray:
    """Spacing of the four points of each bar, within the time since the previous bar."""
    interval = interval_ns(bars.interval)
    gaps = np.diff(bars.ts, prepend=bars.ts[:1] - interval)
    step = np.minimum(gaps, interval) // POINTS
    bad = np.flatnonzero(step < 1)
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"cannot derive ticks: bar {i} is {int(gaps[i])} ns after the previous one, too "
            "close to place four ticks between them",
            symbol=bars.symbol,
            index=i,
        )
    return step


def _path(bars: BarSeries) -> np.ndarray:
    """(n, 4) prices: open, nearer extreme, other extreme, close."""
    o, h, lo, c = bars.open, bars.high, bars.low, bars.close
    up, down = h - o, o - lo
    # Equal within a billionth of the price (far below any tick) is a tie: float differences
    # of prices on the same grid can disagree in their last bit.
    tie = np.abs(up - down) <= 1e-9 * np.abs(o)
    high_first = np.where(tie, c < o, up < down)
    return np.stack([o, np.where(high_first, h, lo), np.where(high_first, lo, h), c], axis=1)


def _sizes(bars: BarSeries, size_if_no_volume: float | None) -> np.ndarray:
    """Size of each bar's trades: a quarter of its volume, or the stated size without one."""
    empty = bars.volume <= 0
    if empty.any() and size_if_no_volume is None:
        i = int(np.flatnonzero(empty)[0])
        raise DataError(
            f"cannot derive ticks: bar {i} of {bars.symbol} has no volume; pass "
            "size_if_no_volume, the size assumed for each of its trades",
            symbol=bars.symbol,
            index=i,
        )
    return np.where(empty, size_if_no_volume or 0.0, bars.volume / POINTS)


def _pair(trade_column: np.ndarray, quote_column: np.ndarray) -> np.ndarray:
    """Interleave a column of the trade rows with one of the quote rows (trade first)."""
    out = np.empty(trade_column.shape[0] * 2, dtype=np.result_type(trade_column, quote_column))
    out[0::2] = trade_column
    out[1::2] = quote_column
    return out
