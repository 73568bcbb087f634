"""The simulated venue: fills orders against replayed bars and quotes, without look-ahead.

Rules (the same in backtest and paper trading):

* **No look-ahead.** An order decided on data stamped ``t`` is only matched against data stamped
  strictly after ``t``: an order decided on bar *t*'s close fills at the earliest on bar *t+1*.
* **Intrabar path.** Within a bar the price is assumed to travel open → the extreme nearer the
  open → the other extreme → close. Consequences: market orders fill at the open; a limit or
  stop that the open already crosses fills at the open (price improvement for limits, gap
  slippage for stops); otherwise a limit fills at its limit price if the bar's range reaches
  it, and a stop at its stop price. A stop-limit that triggers and whose limit is reachable at
  the trigger price fills at the trigger price (the open or the stop); if the limit is not
  reachable at that moment the order becomes a plain limit order from the next bar on.
* **Quotes.** Market buys take the ask and sells hit the bid, up to the displayed size; a limit
  fills at the touch once the touch crosses it; the remainder waits for the next quote.
* **Trades and the queue.** A resting limit order (GTC or DAY) stands in a queue at its price,
  as ``brokers/queue.py`` states: it joins behind the size displayed at its price in the last
  quote (or an assumed size when that level is not displayed); trade volume at its price
  consumes the size ahead of it first and then fills it, partly or wholly; a trade through its
  price fills it completely; quotes only ever shorten the queue. Queue fills are at the limit
  price, as maker fills. Trades match plain limit orders only: market and stop orders, and IOC
  or FOK orders, which never rest, are matched by the next quote or bar. The venue sees every
  quote, so an order placed while nothing was working still joins behind the current touch.
* **Costs.** Commission per fill = max(minimum, per_share·qty + bps·notional), rounded to the
  cent. Slippage (bps) moves market and stop fills against the trader; limits fill at their
  limit or better and are never slipped.
* **Volume participation.** With ``max_volume_participation`` set, one bar fills at most that
  fraction of the bar's volume; the rest stays working (a partial fill). A bar with zero
  (unknown) volume then fills nothing. (Trades are limited by the queue instead.)
* **Time in force.** IOC fills what its first eligible bar or quote allows and cancels the rest;
  FOK fills completely there or cancels without a fill; DAY expires when data of a later UTC
  day arrives; GTC works until filled or canceled.
* **Account.** A margin account without a buying-power check: exposure is bounded by the risk
  gate's limits, not by the venue, and cash may go negative (borrowed) like at a real broker.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from neural_trader.brokers.queue import LevelTrade, QueueModel, QueueSpot, ahead_of_our_last
from neural_trader.core.bus import MessageBus
from neural_trader.core.events import (
    Fill,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)
from neural_trader.core.instruments import Instrument, InstrumentRegistry
from neural_trader.core.market_data import Bar, QuoteTick, TradeTick
from neural_trader.core.orders import Order, OrderSide, OrderType, TimeInForce

CENT = Decimal("0.01")
DAY_NS = 86_400_000_000_000
NEVER_RESTS = (TimeInForce.IOC, TimeInForce.FOK)


@dataclass(frozen=True)
class FeeModel:
    per_share: Decimal = Decimal(0)
    bps: Decimal = Decimal(0)
    minimum: Decimal = Decimal(0)

    def commission(self, quantity: Decimal, notional: Decimal) -> Decimal:
        if not (self.per_share or self.bps or self.minimum):
            return Decimal(0)
        fee = self.per_share * quantity + self.bps * abs(notional) / 10_000
        return max(self.minimum, fee).quantize(CENT, rounding=ROUND_HALF_EVEN)


class _Working:
    """Venue-side bookkeeping for one working order."""

    __slots__ = ("day", "decision_ts", "instrument", "order", "seen", "spot")

    def __init__(
        self, order: Order, instrument: Instrument, decision_ts: int, spot: QueueSpot | None
    ) -> None:
        self.order = order
        self.instrument = instrument
        self.decision_ts = decision_ts
        self.day = -1
        self.seen = False
        self.spot = spot  # its place in the queue at its price; None unless a resting limit


class PaperVenue:
    """A matching engine for the kernel's simulated venue (see the module doc for its rules)."""

    def __init__(
        self,
        bus: MessageBus,
        instruments: InstrumentRegistry,
        fees: FeeModel | None = None,
        slippage_bps: Decimal = Decimal(0),
        max_volume_participation: float | None = None,
        name: str = "SIM",
        queue: QueueModel | None = None,
        venue_fees: Mapping[str, FeeModel] | None = None,
    ) -> None:
        self.name = name
        self._bus = bus
        self._instruments = instruments
        self._fees = fees or FeeModel()
        # An instrument quoted on a named venue (NAME@venue) pays that venue's fees.
        self._venue_fees = dict(venue_fees or {})
        self._slip = slippage_bps / 10_000
        self._participation = (
            None if max_volume_participation is None else Decimal(repr(max_volume_participation))
        )
        self._queue = queue or QueueModel()
        self._working: dict[str, list[_Working]] = {}
        self._known_ids: set[str] = set()
        self._last_quote: dict[str, QuoteTick] = {}

    # -- port ---------------------------------------------------------------------------------
    def submit(self, order: Order, decision_ts: int) -> None:
        if order.client_order_id in self._known_ids:
            self._bus.publish(OrderRejected(order, "duplicate client order id"))
            return
        self._known_ids.add(order.client_order_id)
        try:
            instrument = self._instruments.get(order.symbol)
            instrument.check_quantity(order.quantity)
            for px in (order.limit_price, order.stop_price):
                if px is not None:
                    instrument.check_price(px)
        except Exception as exc:  # an invalid order is a venue reject, not a crash
            self._bus.publish(OrderRejected(order, str(exc)))
            return
        self._bus.publish(OrderAccepted(order))
        self._add(order, instrument, decision_ts)

    def cancel(self, client_order_id: str) -> None:
        for working in self._working.values():
            for w in working:
                if w.order.client_order_id == client_order_id:
                    self._remove(w)
                    self._bus.publish(OrderCanceled(w.order, "canceled by request"))
                    return

    def working_symbols(self) -> Container[str]:
        """Symbols with working orders (a live view): the kernel skips matching for the rest."""
        return self._working.keys()

    def open_orders(self) -> list[Order]:
        return [w.order for ws in self._working.values() for w in ws]

    def restore(self, known_ids: set[str], working: list[tuple[Order, int]]) -> None:
        """After a restart: remember every id already used, so a replayed submit is refused,
        and take back the orders that were still working, each with its decision time."""
        self._known_ids |= known_ids
        for order, decision_ts in working:
            self._known_ids.add(order.client_order_id)
            self._add(order, self._instruments.get(order.symbol), decision_ts)

    def _add(self, order: Order, instrument: Instrument, decision_ts: int) -> None:
        """Start working ``order``; a resting limit joins the back of the queue at its price."""
        working = self._working.setdefault(order.symbol, [])
        spot = None
        if order.order_type is OrderType.LIMIT and order.time_in_force not in NEVER_RESTS:
            buy = order.side is OrderSide.BUY
            price = float(order.limit_price)  # type: ignore[arg-type]
            eps = float(instrument.price_increment) / 2
            ahead = self._queue.join(buy, price, eps, self._last_quote.get(order.symbol))
            ours = [w.spot for w in working if w.spot is not None]
            spot = QueueSpot(buy, price, eps, max(ahead, ahead_of_our_last(ours, buy, price, eps)))
        working.append(_Working(order, instrument, decision_ts, spot))

    # -- matching -----------------------------------------------------------------------------
    def on_bar(self, bar: Bar) -> None:
        working = self._working.get(bar.symbol)
        if not working:
            return
        for w in list(working):
            # An earlier fill in this loop may have led to this order's cancellation.
            if bar.ts <= w.decision_ts or not w.order.is_open:
                continue
            if self._expired(w, bar.ts):
                continue
            self._match_bar(w, bar)
            self._after_attempt(w)

    def on_quote(self, quote: QuoteTick) -> None:
        self._last_quote[quote.symbol] = quote
        working = self._working.get(quote.symbol)
        if not working:
            return
        for w in list(working):
            # An earlier fill in this loop may have led to this order's cancellation.
            if quote.ts <= w.decision_ts or not w.order.is_open:
                continue
            if self._expired(w, quote.ts):
                continue
            if w.spot is not None:
                w.spot.on_quote(quote)
            self._match_quote(w, quote)
            self._after_attempt(w)

    def on_trade(self, trade: TradeTick) -> None:
        """Fill resting limit orders from the queue at the trade's price, or wholly when the
        trade printed through their price (see ``brokers/queue.py``)."""
        working = self._working.get(trade.symbol)
        if not working:
            return
        walks: dict[bool, LevelTrade] = {}  # one walk down the queue per side of the book
        for w in list(working):
            spot = w.spot
            if spot is None or trade.ts <= w.decision_ts or not w.order.is_open:
                continue
            if self._expired(w, trade.ts):
                continue
            leaves = w.order.leaves_quantity
            if spot.traded_through(trade):
                qty = leaves
            elif spot.takes_level(trade):
                walk = walks.get(spot.buy)
                if walk is None:
                    walk = walks[spot.buy] = LevelTrade(trade.size)
                qty = min(w.instrument.round_quantity(walk.allot(spot, leaves)), leaves)
                walk.filled(qty)
            else:
                continue
            if qty > 0:
                self._execute(w, spot.price, False, qty, trade.ts)
            self._after_attempt(w)

    def _expired(self, w: _Working, ts: int) -> bool:
        if w.order.time_in_force is not TimeInForce.DAY:
            return False
        day = ts // DAY_NS
        if w.day < 0:
            w.day = day
            return False
        if day != w.day:
            self._remove(w)
            self._bus.publish(OrderExpired(w.order))
            return True
        return False

    def _after_attempt(self, w: _Working) -> None:
        order = w.order
        w.seen = True
        if order.is_terminal:
            self._remove(w)
        elif order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            self._remove(w)
            self._bus.publish(OrderCanceled(order, f"{order.time_in_force.value} remainder"))

    def _remove(self, w: _Working) -> None:
        working = self._working.get(w.order.symbol)
        if working and w in working:
            working.remove(w)
            if not working:
                del self._working[w.order.symbol]

    def _match_bar(self, w: _Working, bar: Bar) -> None:
        order = w.order
        buy = order.side is OrderSide.BUY
        price = _bar_fill_price(order, bar, buy)
        if price is None:
            return
        slipped = order.order_type in (OrderType.MARKET, OrderType.STOP)
        available = None
        if self._participation is not None:
            available = w.instrument.round_quantity(Decimal(repr(bar.volume)) * self._participation)
        self._execute(w, price, slipped, available, bar.ts)

    def _match_quote(self, w: _Working, q: QuoteTick) -> None:
        order = w.order
        buy = order.side is OrderSide.BUY
        touch = q.ask if buy else q.bid
        size = q.ask_size if buy else q.bid_size
        kind = order.order_type
        if kind in (OrderType.STOP, OrderType.STOP_LIMIT) and not order.triggered:
            stop = float(order.stop_price)  # type: ignore[arg-type]
            if (touch >= stop) if buy else (touch <= stop):
                order.triggered = True
            else:
                return
        if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            limit = float(order.limit_price)  # type: ignore[arg-type]
            if (touch > limit) if buy else (touch < limit):
                return
        slipped = kind in (OrderType.MARKET, OrderType.STOP)
        self._execute(w, touch, slipped, w.instrument.round_quantity(size), q.ts)

    def _execute(
        self, w: _Working, price: float, slipped: bool, available: Decimal | None, ts: int
    ) -> None:
        order = w.order
        qty = order.leaves_quantity
        if available is not None and available < qty:
            if order.time_in_force is TimeInForce.FOK or available <= 0:
                return
            qty = available
        if slipped and self._slip:
            buy = order.side is OrderSide.BUY
            factor = 1 + self._slip if buy else 1 - self._slip
            # Rounded against the trader, so a slippage smaller than a tick still costs a tick.
            px = w.instrument.round_price(
                Decimal(repr(price)) * factor, ROUND_CEILING if buy else ROUND_FLOOR
            )
        else:
            px = w.instrument.round_price(price)
        notional = w.instrument.notional(qty, px)
        fill = Fill(
            # Unique and stable across restarts: the order's cumulative quantity after this fill.
            fill_id=f"{order.client_order_id}@{order.filled_quantity + qty}",
            client_order_id=order.client_order_id,
            strategy_id=order.strategy_id,
            symbol=order.symbol,
            side=order.side,
            quantity=qty,
            price=px,
            commission=self._venue_fees.get(w.instrument.venue, self._fees).commission(
                qty, notional
            ),
            ts=ts,
            venue=self.name,
            liquidity="taker" if slipped else "maker",
        )
        self._bus.publish(OrderFilled(order, fill))


def _bar_fill_price(order: Order, bar: Bar, buy: bool) -> float | None:
    """Where ``order`` fills on ``bar`` under the assumed intrabar path, or None if it does not."""
    kind = order.order_type
    if kind is OrderType.MARKET:
        return bar.open
    if kind is OrderType.LIMIT or (kind is OrderType.STOP_LIMIT and order.triggered):
        limit = float(order.limit_price)  # type: ignore[arg-type]
        if buy:
            return bar.open if bar.open <= limit else (limit if bar.low <= limit else None)
        return bar.open if bar.open >= limit else (limit if bar.high >= limit else None)
    stop = float(order.stop_price)  # type: ignore[arg-type]
    if buy:
        trigger = bar.open if bar.open >= stop else (stop if bar.high >= stop else None)
    else:
        trigger = bar.open if bar.open <= stop else (stop if bar.low <= stop else None)
    if trigger is None:
        return None
    if kind is OrderType.STOP:
        return trigger
    order.triggered = True
    limit = float(order.limit_price)  # type: ignore[arg-type]
    if (trigger <= limit) if buy else (trigger >= limit):
        return trigger
    return None
