"""Market data as the kernel sees it: single bars and ticks, and columnar series of them.

Single events are small ``__slots__`` classes because the kernel creates one per event on its
hot path; whole histories stay columnar (numpy) until the moment they are replayed.
Timestamps are integer nanoseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from neural_trader.errors import DataError


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


Int8Array = npt.NDArray[np.int8]

TRADE = 0
QUOTE = 1
# TradeTick.aggressor by the int8 code a TickSeries stores: 1 buy, -1 sell, 0 unknown.
AGGRESSOR_CODE = {"buy": 1, "sell": -1, "": 0}
AGGRESSOR_NAME = ("", "buy", "sell")  # indexed by the code (-1 picks "sell")


@dataclass(frozen=True)
class TickSeries:
    """A time-sorted stream of one symbol's trades and quotes, held as columns.

    Row ``i`` is a trade when ``kind[i] == TRADE`` (``price``, ``size``, ``aggressor``) or a
    quote when ``kind[i] == QUOTE`` (``bid``, ``ask``, ``bid_size``, ``ask_size``); the columns
    of the other kind hold NaN (or 0 for ``aggressor``). Rows with the same ``ts`` are replayed
    in the order stored, so a trade and the quote it leaves behind can share a timestamp.
    """

    symbol: str
    ts: IntArray
    kind: Int8Array
    price: FloatArray
    size: FloatArray
    aggressor: Int8Array
    bid: FloatArray
    ask: FloatArray
    bid_size: FloatArray
    ask_size: FloatArray

    def __post_init__(self) -> None:
        n = self.ts.shape[0]
        columns: list[npt.NDArray[np.generic]] = [self.kind, self.price, self.size]
        columns += [self.aggressor, self.bid, self.ask, self.bid_size, self.ask_size]
        if any(c.shape[0] != n for c in columns):
            raise DataError("tick columns differ in length", symbol=self.symbol)
        if n > 1 and bool(np.any(np.diff(self.ts) < 0)):
            raise DataError("tick timestamps go backwards", symbol=self.symbol)

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def head(self, n: int) -> TickSeries:
        """The first ``n`` rows: the stream as it stood when row ``n - 1`` arrived."""
        return TickSeries(
            self.symbol,
            self.ts[:n],
            self.kind[:n],
            self.price[:n],
            self.size[:n],
            self.aggressor[:n],
            self.bid[:n],
            self.ask[:n],
            self.bid_size[:n],
            self.ask_size[:n],
        )

    def events(self) -> Iterator[TradeTick | QuoteTick]:
        """The rows as tick objects, one at a time, in stored order."""
        sym = self.symbol
        names = AGGRESSOR_NAME
        rows = zip(
            self.ts.tolist(),
            self.kind.tolist(),
            self.price.tolist(),
            self.size.tolist(),
            self.aggressor.tolist(),
            self.bid.tolist(),
            self.ask.tolist(),
            self.bid_size.tolist(),
            self.ask_size.tolist(),
            strict=True,
        )
        for t, k, p, sz, ag, b, a, bs, az in rows:
            if k == TRADE:
                yield TradeTick(sym, t, p, sz, names[ag])
            else:
                yield QuoteTick(sym, t, b, a, bs, az)
