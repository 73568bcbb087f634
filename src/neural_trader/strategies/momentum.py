"""Time-series momentum: go with a move that is unusually strong for this market.

Per symbol, on every bar's close:

* momentum ``m = close_t / close_{t-period} - 1``, and ``z`` = its z-score over the last
  ``z_window`` momentum values (population σ; ``z = 0`` when the window has no spread);
* **enter long** when flat and ``z > entry_z``, and ``RSI(rsi_period) <= rsi_max`` (not
  overbought; ``rsi_max = 100`` switches the filter off), and, with ``use_macd``, the MACD
  (12, 26, 9) histogram is ``> 0``. The order is a market buy for ``fraction`` of equity at the
  last close;
* **exit a long** (close the position) at the first close where ``z < exit_z``, or
  ``close <= entry·(1 - stop_loss)``, or ``close >= entry·(1 + take_profit)``, where ``entry``
  is the average price of this strategy's fills that opened the position (tracked in
  ``on_fill``);
* with ``allow_short`` the rules are mirrored: enter short when flat and ``z < -entry_z``,
  ``RSI >= rsi_min`` (not oversold; 0 switches it off) and, with ``use_macd``, histogram
  ``< 0``; exit the short when ``z > -exit_z``, ``close >= entry·(1 + stop_loss)`` or
  ``close <= entry·(1 - take_profit)``.

``stop_loss = 0`` or ``take_profit = 0`` switches that exit off. Stops and targets are
checked on closes and, like every order, exit at the next bar's open, so a gap can make the
realised loss larger than ``stop_loss``. An entry needs every indicator it uses warm (about
``period + z_window`` bars, and 34 for the MACD); exits only need what they read. While an order
of this strategy for the symbol is still working (a partial fill), no new decision is taken.
"""

from __future__ import annotations

from decimal import Decimal

from neural_trader.core.events import Fill
from neural_trader.core.market_data import Bar
from neural_trader.core.orders import OrderSide
from neural_trader.errors import StrategyError
from neural_trader.strategies.base import Param, Strategy
from neural_trader.strategies.indicators import MACD, RSI, RateOfChange, ZScore


class Momentum(Strategy):
    name = "momentum"

    period: int = Param(20, ge=2, description="momentum lookback (bars)")
    z_window: int = Param(60, ge=5, description="window (bars) to z-score the momentum over")
    entry_z: float = Param(1.0, gt=0, description="enter long when z > entry_z (short: < -entry_z)")
    exit_z: float = Param(0.0, description="exit a long when z < exit_z (short: > -exit_z)")
    rsi_period: int = Param(14, ge=2, description="RSI period (bars, Wilder)")
    rsi_max: float = Param(75.0, ge=0, le=100, description="no long entry while RSI > rsi_max")
    rsi_min: float = Param(25.0, ge=0, le=100, description="no short entry while RSI < rsi_min")
    use_macd: bool = Param(True, description="long only if MACD hist > 0 (short: < 0)")
    stop_loss: float = Param(0.05, ge=0, lt=1, description="exit at this loss from entry; 0 = off")
    take_profit: float = Param(0.10, ge=0, description="exit at this gain from entry; 0 = off")
    allow_short: bool = Param(False, description="mirror the rules for short positions")
    fraction: float = Param(1.0, gt=0, le=1, description="fraction of equity per entry")

    def check_params(self) -> None:
        if self.exit_z >= self.entry_z:
            raise StrategyError(
                f"momentum: parameter 'exit_z' ({self.exit_z}) must be less than "
                f"'entry_z' ({self.entry_z})",
                strategy=self.name,
                parameter="exit_z",
            )
        if self.allow_short and self.rsi_min >= self.rsi_max:
            raise StrategyError(
                f"momentum: parameter 'rsi_min' ({self.rsi_min}) must be less than "
                f"'rsi_max' ({self.rsi_max}) when shorts are allowed",
                strategy=self.name,
                parameter="rsi_min",
            )

    def on_start(self) -> None:
        self._state: dict[str, _SymbolState] = {}

    def _symbol(self, sym: str) -> _SymbolState:
        st = self._state.get(sym)
        if st is None:
            st = self._state[sym] = _SymbolState(
                self.period, self.z_window, self.rsi_period, self.use_macd
            )
        return st

    def on_bar(self, bar: Bar) -> None:
        sym = bar.symbol
        st = self._symbol(sym)
        close = bar.close
        m = st.roc.update(close)
        z = None if m is None else st.z.update(m)
        rsi = st.rsi.update(close)
        trend_up = trend_down = True  # the MACD filter, when it is on
        if st.macd is not None:
            macd = st.macd.update(close)
            trend_up = macd is not None and macd.hist > 0.0
            trend_down = macd is not None and macd.hist < 0.0
        if self.ctx.open_orders(self.id, sym):
            return
        qty = self.position(sym)
        if qty > 0:
            if self._exit_long(st.entry_price, close, z):
                self.close(sym)
        elif qty < 0:
            if self._exit_short(st.entry_price, close, z):
                self.close(sym)
        elif z is not None and rsi is not None:
            if z > self.entry_z and rsi <= self.rsi_max and trend_up:
                self.buy(sym, fraction=self.fraction)
            elif self.allow_short and z < -self.entry_z and rsi >= self.rsi_min and trend_down:
                self.sell(sym, fraction=self.fraction)

    def _exit_long(self, entry: float | None, close: float, z: float | None) -> bool:
        if entry is not None:
            if self.stop_loss and close <= entry * (1.0 - self.stop_loss):
                return True
            if self.take_profit and close >= entry * (1.0 + self.take_profit):
                return True
        return z is not None and z < self.exit_z

    def _exit_short(self, entry: float | None, close: float, z: float | None) -> bool:
        if entry is not None:
            if self.stop_loss and close >= entry * (1.0 + self.stop_loss):
                return True
            if self.take_profit and close <= entry * (1.0 - self.take_profit):
                return True
        return z is not None and z > -self.exit_z

    def on_fill(self, fill: Fill) -> None:
        st = self._symbol(fill.symbol)
        st.entry_price = _entry_after_fill(st.entry_price, self.position(fill.symbol), fill)


def _entry_after_fill(entry: float | None, after: Decimal, fill: Fill) -> float | None:
    """The position's average entry price once ``fill`` is applied (``after`` is the net
    position after it): reset when flat, the fill price on an open or a flip, the
    quantity-weighted average when the position grows, unchanged when it shrinks."""
    signed = fill.quantity if fill.side is OrderSide.BUY else -fill.quantity
    before = after - signed
    if not after:
        return None
    price = float(fill.price)
    if not before or (before > 0) != (after > 0) or entry is None:
        return price
    if abs(after) > abs(before):
        return (entry * float(abs(before)) + price * float(abs(signed))) / float(abs(after))
    return entry


class _SymbolState:
    __slots__ = ("entry_price", "macd", "roc", "rsi", "z")

    def __init__(self, period: int, z_window: int, rsi_period: int, use_macd: bool) -> None:
        self.roc = RateOfChange(period)
        self.z = ZScore(z_window)
        self.rsi = RSI(rsi_period)
        self.macd = MACD(12, 26, 9) if use_macd else None
        self.entry_price: float | None = None  # average price of the open position's entries
