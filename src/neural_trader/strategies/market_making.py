"""Avellaneda–Stoikov market making: quote both sides around a reservation price that leans
against the inventory, with a spread set by risk aversion, volatility and order arrivals.

Avellaneda & Stoikov (2008), "High-frequency trading in a limit order book", Quantitative
Finance 8(3). On every quote of a symbol, with ``s`` the mid, ``q`` the inventory in quote
lots (position / ``order_size``), ``τ = T − t`` the seconds left in the session, ``σ²`` the
mid's variance per second, ``γ`` the risk aversion and ``k`` the decay of the arrival rate of
orders that fill us with their distance from the mid (``λ(δ) = A·e^{−kδ}``):

    reservation price      r = s − q·γ·σ²·τ
    optimal total spread   δ = γ·σ²·τ + (2/γ)·ln(1 + γ/k)
    quotes                 bid = r − δ/2,  ask = r + δ/2

* **Horizon: finite, one session per UTC day**, ending at ``session_end_hour`` (21:00 UTC by
  default, the FX day's rollover at 17:00 New York in summer). ``τ`` runs down to 0 at the end
  and the next session starts with a full day. The model's terminal condition is replaced by
  this rollover: inventory is carried into the next session, not liquidated.
* **Volatility** ``σ²`` is estimated online: an exponentially weighted mean, with a half-life
  of ``vol_halflife`` observations, of ``(Δs)²/Δt`` over successive mids at distinct times
  (a quote stamped at the time of the previous one adds no observation). Nothing is quoted
  before ``warmup_ticks`` observations.
* **Inventory limit.** A side is quoted only if a full fill of it, on top of the position and
  of this strategy's orders still working on that side, keeps ``|position| <= max_inventory``.
* **Prices** round to the instrument's tick. Quotes are passive: a bid that would reach the
  best ask is placed at the best bid instead, an ask that would reach the best bid at the best
  ask. When bid and ask meet after that, nothing is quoted on that quote.
* **Refresh.** Both quotes are canceled and replaced when the position has changed since they
  were placed (a fill), when the mid has moved more than ``refresh_threshold`` from the mid
  they were placed at (0: any move), or after ``refresh_ticks`` quotes.

Units: prices in the instrument's currency, ``k`` per unit of price, time in seconds (σ² and τ
appear only as a product, so the time unit does not change ``γ`` or ``k``). The defaults suit
a price near 1 with a 0.00001 tick (the bundled EURUSD); scale ``k`` by 1/price elsewhere.

It needs quotes (``TickSeries`` replayed by ``run_backtest(..., ticks=...)``; derived ones
from bars by :func:`neural_trader.data.derived_ticks`) and refuses to run on bars.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import ClassVar

from neural_trader.core.market_data import Bar, QuoteTick
from neural_trader.core.orders import OrderSide, OrderType
from neural_trader.errors import StrategyError
from neural_trader.strategies.base import Param, Strategy

NS = 1_000_000_000
DAY_NS = 86_400 * NS


def avellaneda_stoikov(
    mid: float, inventory: float, gamma: float, variance: float, tau: float, k: float
) -> tuple[float, float]:
    """(reservation price, optimal total spread) for ``inventory`` lots with ``tau`` left."""
    risk = gamma * variance * tau
    return mid - inventory * risk, risk + (2.0 / gamma) * math.log1p(gamma / k)


def seconds_to_session_end(ts: int, end_hour: int) -> float:
    """Seconds from ``ts`` to the next ``end_hour``:00 UTC; a full day at the end itself."""
    into = (ts - end_hour * 3_600 * NS) % DAY_NS
    return (DAY_NS - into) / NS


class MidVariance:
    """EWMA of squared mid changes per second, over mids at distinct times."""

    __slots__ = ("alpha", "count", "last_mid", "last_ts", "variance")

    def __init__(self, halflife: float) -> None:
        self.alpha = 1.0 - 0.5 ** (1.0 / halflife)
        self.count = 0
        self.last_ts = -1
        self.last_mid = math.nan
        self.variance = 0.0

    def update(self, ts: int, mid: float) -> None:
        if self.last_ts < 0:
            self.last_ts, self.last_mid = ts, mid
            return
        if ts <= self.last_ts:
            return
        x = (mid - self.last_mid) ** 2 * NS / (ts - self.last_ts)
        self.variance = x if self.count == 0 else self.variance + self.alpha * (x - self.variance)
        self.count += 1
        self.last_ts, self.last_mid = ts, mid


class MarketMaking(Strategy):
    name = "market_making"
    replays_ticks: ClassVar[bool] = True  # a backtest on bars derives ticks for it

    gamma: float = Param(1.0, gt=0, description="risk aversion γ (per price unit per lot)")
    k: float = Param(5_000.0, gt=0, description="order-arrival decay k (per price unit)")
    order_size: float = Param(10_000.0, gt=0, description="size of each quote (units)")
    max_inventory: float = Param(50_000.0, gt=0, description="largest |position| (units)")
    vol_halflife: float = Param(100.0, gt=0, description="σ² EWMA half-life (mid changes)")
    warmup_ticks: int = Param(20, ge=1, description="mid changes seen before quoting")
    refresh_ticks: int = Param(20, ge=1, description="replace quotes after this many quotes")
    refresh_threshold: float = Param(
        0.0, ge=0, description="replace quotes when the mid moved more than this (0: any move)"
    )
    session_end_hour: int = Param(21, ge=0, le=23, description="session end, hour UTC")

    def check_params(self) -> None:
        if self.max_inventory < self.order_size:
            raise StrategyError(
                f"market_making: parameter 'max_inventory' ({self.max_inventory}) must be at "
                f"least 'order_size' ({self.order_size}), or no quote could ever be placed",
                strategy=self.name,
                parameter="max_inventory",
            )

    def on_start(self) -> None:
        self._books: dict[str, _Book] = {}
        self._limit = Decimal(repr(self.max_inventory))

    def on_bar(self, bar: Bar) -> None:
        raise StrategyError(
            "market_making quotes on quote ticks and cannot run on bars; backtests replay "
            "ticks (given, or derived from the bars), the paper session replays bars only",
            strategy=self.name,
            symbol=bar.symbol,
        )

    def on_quote(self, quote: QuoteTick) -> None:
        sym = quote.symbol
        book = self._books.get(sym)
        if book is None:
            book = self._books[sym] = _Book(self.vol_halflife)
        mid = (quote.bid + quote.ask) / 2
        book.vol.update(quote.ts, mid)
        if book.vol.count < self.warmup_ticks:
            return
        book.quotes_seen += 1
        position = self.position(sym)
        if not self._stale(book, mid, position):
            return
        self.cancel_all(sym)
        book.mid, book.position, book.quotes_seen = mid, position, 0
        self._place(quote, mid, position, book.vol.variance)

    def _stale(self, book: _Book, mid: float, position: Decimal) -> bool:
        return (
            book.mid is None
            or position != book.position
            or abs(mid - book.mid) > self.refresh_threshold
            or book.quotes_seen >= self.refresh_ticks
        )

    def _place(self, quote: QuoteTick, mid: float, position: Decimal, variance: float) -> None:
        """Quote the sides the inventory limit allows, at the A–S prices made passive."""
        ctx, sym = self.ctx, quote.symbol
        tau = seconds_to_session_end(quote.ts, self.session_end_hour)
        q = float(position) / self.order_size
        r, spread = avellaneda_stoikov(mid, q, self.gamma, variance, tau, self.k)
        bid = ctx.round_price(sym, r - spread / 2)
        ask = ctx.round_price(sym, r + spread / 2)
        best_bid, best_ask = ctx.round_price(sym, quote.bid), ctx.round_price(sym, quote.ask)
        if bid >= best_ask:
            bid = best_bid
        if ask <= best_bid:
            ask = best_ask
        size = ctx.round_quantity(sym, self.order_size)
        if bid >= ask or size <= 0:
            return
        buying = selling = Decimal(0)
        for o in ctx.open_orders(self.id, sym):  # cancels the venue has not confirmed yet
            if o.side is OrderSide.BUY:
                buying += o.leaves_quantity
            else:
                selling += o.leaves_quantity
        if position + buying + size <= self._limit:
            self.buy(sym, size, order_type=OrderType.LIMIT, limit_price=float(bid))
        if position - selling - size >= -self._limit:
            self.sell(sym, size, order_type=OrderType.LIMIT, limit_price=float(ask))


class _Book:
    """Per symbol: the volatility estimate and what the working quotes were placed on."""

    __slots__ = ("mid", "position", "quotes_seen", "vol")

    def __init__(self, halflife: float) -> None:
        self.vol = MidVariance(halflife)
        self.mid: float | None = None
        self.position = Decimal(0)
        self.quotes_seen = 0
