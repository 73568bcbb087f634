"""Market data as the kernel sees it: single bars and ticks, and columnar series of bars.

Single events are small ``__slots__`` classes because the kernel creates one per event on its
hot path; whole histories stay columnar (numpy) until the moment they are replayed.
Timestamps are integer nanoseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


class Bar:
    """One OHLCV bar; ``ts`` is the bar's close time, when its values become known."""

    __slots__ = ("close", "high", "low", "open", "symbol", "ts", "volume")

    def __init__(
        self,
        symbol: str,
        ts: int,
        open: float,
        high: float,
        low: float,
        close: float,
        volume: float,
    ) -> None:
        self.symbol = symbol
        self.ts = ts
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume

    def __repr__(self) -> str:
        return (
            f"Bar({self.symbol} ts={self.ts} o={self.open} h={self.high} "
            f"l={self.low} c={self.close} v={self.volume})"
        )


class QuoteTick:
    """Best bid and ask with their sizes at one instant."""

    __slots__ = ("ask", "ask_size", "bid", "bid_size", "symbol", "ts")

    def __init__(
        self, symbol: str, ts: int, bid: float, ask: float, bid_size: float, ask_size: float
    ) -> None:
        self.symbol = symbol
        self.ts = ts
        self.bid = bid
        self.ask = ask
        self.bid_size = bid_size
        self.ask_size = ask_size

    def __repr__(self) -> str:
        return (
            f"QuoteTick({self.symbol} ts={self.ts} "
            f"{self.bid}x{self.bid_size} / {self.ask}x{self.ask_size})"
        )


class TradeTick:
    """One trade printed on the tape; ``aggressor`` is "buy", "sell" or "" when unknown."""

    __slots__ = ("aggressor", "price", "size", "symbol", "ts")

    def __init__(
        self, symbol: str, ts: int, price: float, size: float, aggressor: str = ""
    ) -> None:
        self.symbol = symbol
        self.ts = ts
        self.price = price
        self.size = size
        self.aggressor = aggressor

    def __repr__(self) -> str:
        return f"TradeTick({self.symbol} ts={self.ts} {self.size}@{self.price} {self.aggressor})"


FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class BarSeries:
    """A validated, time-sorted history of bars for one symbol, held as columns."""

    symbol: str
    interval: str
    ts: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def slice_time(self, start_ns: int | None = None, end_ns: int | None = None) -> BarSeries:
        """Bars with ``start_ns <= ts <= end_ns`` (either bound optional)."""
        lo = 0 if start_ns is None else int(np.searchsorted(self.ts, start_ns, side="left"))
        hi = len(self) if end_ns is None else int(np.searchsorted(self.ts, end_ns, side="right"))
        return BarSeries(
            self.symbol,
            self.interval,
            self.ts[lo:hi],
            self.open[lo:hi],
            self.high[lo:hi],
            self.low[lo:hi],
            self.close[lo:hi],
            self.volume[lo:hi],
        )

    def bar(self, i: int) -> Bar:
        return Bar(
            self.symbol,
            int(self.ts[i]),
            float(self.open[i]),
            float(self.high[i]),
            float(self.low[i]),
            float(self.close[i]),
            float(self.volume[i]),
        )
