"""The base of the arbitrage strategies: the latest quote of each leg, one attempt at a time
run by the leg-risk rule of :mod:`.arbitrage_legs`, and exact balances per currency.

The strategy is the attempts' :class:`~.arbitrage_legs.LegPort`: it sends and cancels their
orders through the kernel (so every one passes the risk gate), and answers for the touch, the
value of a currency and lot rounding from the quotes it has seen.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from decimal import Decimal
from fractions import Fraction
from typing import ClassVar, NoReturn

from neural_trader.core.events import Fill
from neural_trader.core.market_data import Bar, QuoteTick
from neural_trader.core.orders import Order, OrderSide, OrderType, TimeInForce
from neural_trader.errors import StrategyError
from neural_trader.strategies.arbitrage_legs import Arbitrage, Outcome
from neural_trader.strategies.base import Param, Strategy

ZERO = Decimal(0)
MS = 1_000_000


def as_decimal(x: float) -> Fraction:
    """The decimal number a float was written as: a displayed size of 0.0917 is 0.0917, not
    the binary fraction just below it, which would round down to one lot less."""
    return Fraction(repr(x))


class ArbitrageStrategy(Strategy, ABC):
    """What both arbitrage strategies share: the latest quote per leg symbol, one attempt at a
    time run by the leg-risk rule, and the strategy's exact balances per currency.

    Subclasses say how many symbols they trade (``legs_needed``), check and assign them
    (``_assign``), and look for an opportunity on each quote (``_scan``). With ``symbols``
    None the legs are the first ``legs_needed`` symbols quoted; a quote of one more symbol is
    an error, not a guess. The legs' positions are the book's: the strategy assumes it is the
    only one trading its symbols.
    """

    replays_ticks: ClassVar[bool] = True  # a backtest on bars derives ticks for it
    legs_needed: ClassVar[int] = 2

    threshold_bps: float = Param(
        5.0, ge=0, le=10_000, description="edge required beyond fees, bps of the outlay"
    )
    limit_slack: float = Param(
        0.5, ge=0, le=1, description="share of the edge beyond the threshold given as limit room"
    )
    fill_or_kill: bool = Param(True, description="entry legs FOK (True) or IOC (False)")
    max_quote_age_ms: float = Param(
        1_000.0, gt=0, description="oldest quote of another leg an opportunity may rest on"
    )
    max_leg_age_ms: float = Param(
        2_000.0, ge=0, description="how long an open leg is hedged before it is unwound"
    )
    max_open_notional: float = Param(
        50_000.0, ge=0, description="open leg value (home currency) above which it is unwound"
    )

    def __init__(
        self, strategy_id: str | None = None, symbols: list[str] | None = None, **params: object
    ) -> None:
        super().__init__(strategy_id, symbols, **params)
        if symbols is not None:
            if len(set(symbols)) != self.legs_needed or len(symbols) != self.legs_needed:
                self._bad_symbols(f"needs {self.legs_needed} distinct symbols, got {symbols!r}")
            self._check_symbols(list(symbols))

    # -- subclass hooks -----------------------------------------------------------------------
    def _check_symbols(self, symbols: list[str]) -> None:
        """Raise StrategyError (via ``_bad_symbols``) when the legs cannot be traded."""

    @abstractmethod
    def _assign(self, symbols: list[str], given: bool) -> None:
        """Take the legs; ``given`` is False when they were inferred from the quotes."""

    @abstractmethod
    def _scan(self, quote: QuoteTick) -> Arbitrage | None:
        """An attempt worth entering on the quotes now, or None."""

    @abstractmethod
    def value(self, currency: str) -> float:
        """One unit of ``currency`` in the home currency at the latest quotes."""

    # -- lifecycle ----------------------------------------------------------------------------
    def on_start(self) -> None:
        self._last: dict[str, QuoteTick] = {}
        self._seen: list[str] = []
        self._legs: tuple[str, ...] = ()
        self._attempt: Arbitrage | None = None
        self._by_order: dict[str, Arbitrage] = {}
        self._age_ns = int(self.max_leg_age_ms * MS)
        self._stale_ns = int(self.max_quote_age_ms * MS)
        self._tif = TimeInForce.FOK if self.fill_or_kill else TimeInForce.IOC
        self.history: list[Arbitrage] = []
        # Exact balance change per currency from every fill of this strategy.
        self.balances: dict[str, Decimal] = {}
        # (base, quote) of each leg symbol, set by ``_assign``.
        self.currencies: dict[str, tuple[str, str]] = {}
        self.halted = False
        if self.symbols is not None:
            self._legs = tuple(self.symbols)
            self._assign(list(self.symbols), True)

    def on_bar(self, bar: Bar) -> None:
        raise StrategyError(
            f"{self.name} trades on quote ticks and cannot run on bars; backtest it with "
            "ticks (run_backtest(..., ticks=...)), e.g. from neural_trader.data.venue_quotes",
            strategy=self.name,
            symbol=bar.symbol,
        )

    def on_quote(self, quote: QuoteTick) -> None:
        sym = quote.symbol
        self._last[sym] = quote
        if sym not in self._legs and not self._learn(sym):
            return
        attempt = self._attempt
        if attempt is not None:
            if not attempt.step(self, quote.ts, self._age_ns, self.max_open_notional):
                return
            self._close(attempt)
        if self.halted:
            return
        found = self._scan(quote)
        if found is not None:
            self._open(found)

    def on_fill(self, fill: Fill) -> None:
        """Book the fill in the strategy's balances and in the attempt it belongs to (the
        current one for an order whose id was not known yet: one attempt runs at a time)."""
        base, quote = self.currencies[fill.symbol]
        signed = fill.quantity if fill.side is OrderSide.BUY else -fill.quantity
        bal = self.balances
        bal[base] = bal.get(base, ZERO) + signed
        bal[quote] = bal.get(quote, ZERO) - signed * fill.price - fill.commission
        attempt = self._by_order.get(fill.client_order_id, self._attempt)
        if attempt is not None:
            attempt.on_fill(fill)

    def _learn(self, sym: str) -> bool:
        """Infer the legs from the quotes seen (``symbols`` None); True once they are known."""
        if self._legs:
            self._bad_symbols(
                f"trades {', '.join(self._legs)} and got a quote of {sym!r} too; pass symbols="
            )
        self._seen.append(sym)
        if len(self._seen) < self.legs_needed:
            return False
        self._check_symbols(self._seen)
        self._legs = tuple(self._seen)
        self._assign(list(self._seen), False)
        return True

    def _open(self, attempt: Arbitrage) -> None:
        self._attempt = attempt  # first: send_leg maps each order to it
        attempt.start(self, self._tif)

    def _close(self, attempt: Arbitrage) -> None:
        # Its orders stay mapped: a fill a live venue reports after a cancel still finds it.
        self._attempt = None
        self.history.append(attempt)
        if attempt.outcome is Outcome.STUCK:
            self.halted = True

    def _bad_symbols(self, why: str) -> NoReturn:
        raise StrategyError(
            f"{self.name}: parameter 'symbols': {why}", strategy=self.name, parameter="symbols"
        )

    @property
    def attempt(self) -> Arbitrage | None:
        """The attempt in progress; None between attempts (its legs then match)."""
        return self._attempt

    # -- reading quotes -----------------------------------------------------------------------
    def fresh(self, now: int) -> list[QuoteTick] | None:
        """The latest quote of every leg, in leg order, if none is older than the limit."""
        out: list[QuoteTick] = []
        for sym in self._legs:
            q = self._last.get(sym)
            if q is None or now - q.ts > self._stale_ns:
                return None
            out.append(q)
        return out

    def mid(self, symbol: str) -> float:
        q = self._last[symbol]
        return (q.bid + q.ask) / 2

    # -- the LegPort --------------------------------------------------------------------------
    def send_leg(
        self,
        symbol: str,
        side: OrderSide,
        quantity: Decimal,
        limit: Decimal | None,
        tif: TimeInForce,
    ) -> Order | None:
        order = self.order(
            symbol,
            side,
            quantity,
            order_type=OrderType.MARKET if limit is None else OrderType.LIMIT,
            limit_price=None if limit is None else float(limit),
            time_in_force=tif,
        )
        if order is not None and self._attempt is not None:
            self._by_order[order.client_order_id] = self._attempt
        return order

    def cancel_leg(self, order: Order) -> None:
        self.ctx.cancel(order.client_order_id)

    def touch(self, symbol: str, side: OrderSide) -> float | None:
        q = self._last.get(symbol)
        if q is None:
            return None
        return q.ask if side is OrderSide.BUY else q.bid

    def round_lot(self, symbol: str, quantity: Fraction) -> Decimal:
        """Whole lots not above ``quantity``, exactly: the float on the way to the kernel may
        round up past a lot boundary, and then the float just below it is taken instead."""
        approx = float(quantity)
        lots = self.ctx.round_quantity(symbol, approx)
        if Fraction(lots) > quantity:
            lots = self.ctx.round_quantity(symbol, math.nextafter(approx, 0.0))
        return lots
