"""The kernel: data → strategies → risk gate → venue → ledger, identical in every mode.

Backtest, paper and live differ only in the clock and the venue handed to the kernel. Per bar,
quote or trade the kernel (1) lets a matching venue fill orders decided on earlier data,
(2) marks the portfolio (bar close, quote mid, trade price), (3) runs the strategies.
Everything an order goes through afterwards arrives as events on the bus, which the kernel
applies to the order and the ledger before any other subscriber (storage, trackers, the
status view) sees them.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from decimal import Decimal
from typing import TypeVar

from neural_trader.core.bus import MessageBus
from neural_trader.core.clock import Clock
from neural_trader.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    PositionChanged,
)
from neural_trader.core.market_data import Bar, QuoteTick, TradeTick
from neural_trader.core.news import NewsItem
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce
from neural_trader.core.portfolio import Portfolio
from neural_trader.core.venue import ExecutionVenue, MatchingVenue
from neural_trader.risk.gate import PreTradeGate
from neural_trader.strategies.base import Strategy

E = TypeVar("E")


class Kernel:
    """Wires one portfolio, one risk gate and one venue to a set of strategies."""

    def __init__(
        self,
        *,
        bus: MessageBus,
        clock: Clock,
        venue: ExecutionVenue,
        gate: PreTradeGate,
        portfolio: Portfolio,
        strategies: Iterable[Strategy] = (),
    ) -> None:
        self.bus = bus
        self.clock = clock
        self.venue = venue
        self.gate = gate
        self.portfolio = portfolio
        self.orders: dict[str, Order] = {}
        self.strategies: dict[str, Strategy] = {}
        self.event_ts = 0
        # While replaying history to warm a strategy up after a restart, orders are dropped.
        self.warming_up = False
        # Orders sent and not yet finished (the gate counts them as if filled).
        self._working: dict[str, Order] = {}
        # Ids of orders already sent in an earlier run; a replayed decision is not resent.
        self.known_order_ids: set[str] = set()
        # The working protective stops of bracket entries (a subset of _working).
        self._guards: dict[str, Order] = {}
        self._seq_ts = -1
        self._seq: dict[str, int] = {}
        self._matcher = venue if isinstance(venue, MatchingVenue) else None
        # Symbols the venue has working orders in; bars of other symbols need no matching.
        self._busy: Container[str] = (
            () if self._matcher is None else self._matcher.working_symbols()
        )
        self._last_price = portfolio.last_price
        # Called with each bar's time after matching and marking, before the strategies act.
        self._bar_listeners: list[Callable[[int], None]] = []
        self._bar_handlers: dict[str, list[Callable[[Bar], None]]] = {}
        self._quote_handlers: dict[str, list[Callable[[QuoteTick], None]]] = {}
        self._trade_handlers: dict[str, list[Callable[[TradeTick], None]]] = {}
        self._all_bar_handlers: list[Callable[[Bar], None]] = []
        self._all_quote_handlers: list[Callable[[QuoteTick], None]] = []
        self._all_trade_handlers: list[Callable[[TradeTick], None]] = []
        self._news_readers: list[Strategy] = []
        self.started = False
        bus.subscribe(OrderAccepted, self._on_accepted)
        bus.subscribe(OrderRejected, self._on_rejected)
        bus.subscribe(OrderFilled, self._on_filled)
        bus.subscribe(OrderCanceled, self._on_canceled)
        bus.subscribe(OrderExpired, self._on_expired)
        for strategy in strategies:
            self.add_strategy(strategy)

    # -- wiring -------------------------------------------------------------------------------
    def add_strategy(self, strategy: Strategy) -> None:
        """Wire ``strategy`` to the data and the order path; on a kernel that has started,
        it starts at once and acts from the next event."""
        self.strategies[strategy.id] = strategy
        strategy.bind(self)
        if strategy.handles("bar"):
            self._route(
                strategy.symbols, strategy.on_bar, self._bar_handlers, self._all_bar_handlers
            )
        if strategy.handles("quote"):
            self._route(
                strategy.symbols, strategy.on_quote, self._quote_handlers, self._all_quote_handlers
            )
        if strategy.handles("trade"):
            self._route(
                strategy.symbols, strategy.on_trade, self._trade_handlers, self._all_trade_handlers
            )
        if strategy.handles("news"):
            self._news_readers.append(strategy)
        if self.started:
            strategy.on_start()

    @staticmethod
    def _route(
        symbols: list[str] | None,
        handler: Callable[[E], None],
        by_symbol: dict[str, list[Callable[[E], None]]],
        everywhere: list[Callable[[E], None]],
    ) -> None:
        if symbols is None:
            everywhere.append(handler)
            for handlers in by_symbol.values():
                handlers.append(handler)
        else:
            for symbol in symbols:
                by_symbol.setdefault(symbol, list(everywhere)).append(handler)

    def add_bar_listener(self, listener: Callable[[int], None]) -> None:
        """Watch the book once per bar (e.g. a circuit breaker), before strategies decide."""
        self._bar_listeners.append(listener)

    def start(self) -> None:
        self.started = True
        for strategy in self.strategies.values():
            strategy.on_start()

    # -- market data in -----------------------------------------------------------------------
    def on_bar(self, bar: Bar) -> None:
        self.event_ts = bar.ts
        symbol = bar.symbol
        if symbol in self._busy and not self.warming_up:
            self._matcher.on_bar(bar)  # type: ignore[union-attr]
        self._last_price[symbol] = bar.close
        if self._bar_listeners:
            for listen in self._bar_listeners:
                listen(bar.ts)
        handlers = self._bar_handlers.get(symbol)
        if handlers is None:
            handlers = self._bar_handlers[symbol] = list(self._all_bar_handlers)
        for handler in handlers:
            handler(bar)

    def on_quote(self, quote: QuoteTick) -> None:
        self.event_ts = quote.ts
        # Every quote, not only those of busy symbols: the venue queues new orders behind it.
        if self._matcher is not None and not self.warming_up:
            self._matcher.on_quote(quote)
        self._last_price[quote.symbol] = (quote.bid + quote.ask) / 2
        handlers = self._quote_handlers.get(quote.symbol)
        if handlers is None:
            handlers = self._quote_handlers[quote.symbol] = list(self._all_quote_handlers)
        for handler in handlers:
            handler(quote)

    def on_trade(self, trade: TradeTick) -> None:
        self.event_ts = trade.ts
        symbol = trade.symbol
        if symbol in self._busy and not self.warming_up:
            self._matcher.on_trade(trade)  # type: ignore[union-attr]
        self._last_price[symbol] = trade.price
        handlers = self._trade_handlers.get(symbol)
        if handlers is None:
            handlers = self._trade_handlers[symbol] = list(self._all_trade_handlers)
        for handler in handlers:
            handler(trade)

    def on_news(self, item: NewsItem) -> None:
        """A headline, to each strategy that reads news and trades one of its symbols, once."""
        self.event_ts = item.ts
        for strategy in self._news_readers:
            wanted = strategy.symbols
            if wanted is None or any(s in wanted for s in item.symbols):
                strategy.on_news(item)

    # -- the strategy context -----------------------------------------------------------------
    def next_order_id(self, strategy_id: str) -> str:
        """Deterministic ids (strategy, data time, n-th order at that time).

        Replaying the same data yields the same ids, so a restart that replays a stretch of
        history cannot submit an order twice: the id is already known.
        """
        if self.event_ts != self._seq_ts:
            self._seq_ts = self.event_ts
            self._seq.clear()
        n = self._seq.get(strategy_id, 0) + 1
        self._seq[strategy_id] = n
        return f"{strategy_id}-{self.event_ts}-{n}"

    def submit(self, order: Order) -> Order:
        known = self.orders.get(order.client_order_id)
        if known is not None:
            return known
        if self.warming_up or order.client_order_id in self.known_order_ids:
            return order
        self.orders[order.client_order_id] = order
        ref = order.limit_price if order.limit_price is not None else order.stop_price
        ref_price = float(ref) if ref is not None else self.portfolio.last_price.get(order.symbol)
        denial = self.gate.check(order, self.portfolio, ref_price, self._working.values())
        if denial is not None:
            order.transition(OrderStatus.DENIED, self.clock.now_ns(), denial.reason)
            self.bus.publish(denial)
            return order
        order.transition(OrderStatus.SUBMITTED, self.clock.now_ns())
        self._working[order.client_order_id] = order
        if order.parent_id is not None:
            self._guards[order.client_order_id] = order
        self.bus.publish(OrderSubmitted(order))
        self.venue.submit(order, self.event_ts)
        return order

    def cancel(self, client_order_id: str) -> None:
        order = self.orders.get(client_order_id)
        if order is not None and order.is_open:
            self.venue.cancel(client_order_id)

    def now_ns(self) -> int:
        return self.clock.now_ns()

    def position(self, symbol: str) -> Decimal:
        return self.portfolio.quantity(symbol)

    def equity(self) -> float:
        return self.portfolio.equity()

    def cash(self) -> float:
        return self.portfolio.cash_f()

    def last_price(self, symbol: str) -> float | None:
        return self.portfolio.last_price.get(symbol)

    def round_quantity(self, symbol: str, quantity: float) -> Decimal:
        return self.portfolio.instruments.get(symbol).round_quantity(quantity)

    def round_price(self, symbol: str, price: float) -> Decimal:
        return self.portfolio.instruments.get(symbol).round_price(price)

    def open_orders(self, strategy_id: str | None = None, symbol: str | None = None) -> list[Order]:
        return [
            o
            for o in self._working.values()
            if o.is_open
            and (strategy_id is None or o.strategy_id == strategy_id)
            and (symbol is None or o.symbol == symbol)
        ]

    def retire_finished(self) -> int:
        """Forget the finished orders, keeping their ids (as a restarted session knows the
        stored ones): a session that runs for weeks holds its working orders, not every
        order it ever sent. Backtests keep them all for their results."""
        finished = [cid for cid, order in self.orders.items() if order.is_terminal]
        for cid in finished:
            del self.orders[cid]
        self.known_order_ids.update(finished)
        return len(finished)

    def adopt(self, known_ids: Iterable[str], open_orders: Iterable[Order]) -> None:
        """Take over the state of an earlier run restored from storage."""
        self.known_order_ids.update(known_ids)
        for order in open_orders:
            self.orders[order.client_order_id] = order
            self._working[order.client_order_id] = order
            if order.parent_id is not None:
                self._guards[order.client_order_id] = order

    # -- venue events -------------------------------------------------------------------------
    def _on_accepted(self, event: OrderAccepted) -> None:
        if event.order.status is OrderStatus.SUBMITTED:
            event.order.transition(OrderStatus.ACCEPTED, self.clock.now_ns())

    def _on_rejected(self, event: OrderRejected) -> None:
        event.order.transition(OrderStatus.REJECTED, self.clock.now_ns(), event.reason)
        self._finished(event.order.client_order_id)

    def _on_canceled(self, event: OrderCanceled) -> None:
        event.order.transition(OrderStatus.CANCELED, self.clock.now_ns(), event.reason)
        self._finished(event.order.client_order_id)

    def _on_expired(self, event: OrderExpired) -> None:
        event.order.transition(OrderStatus.EXPIRED, self.clock.now_ns())
        self._finished(event.order.client_order_id)

    def _on_filled(self, event: OrderFilled) -> None:
        fill = event.fill
        event.order.fill(fill.quantity, fill.price, fill.ts)
        if event.order.is_terminal:
            self._finished(event.order.client_order_id)
        position = self.portfolio.apply_fill(fill)
        if self.bus.has_subscribers(PositionChanged):
            self.bus.publish(
                PositionChanged(
                    fill.symbol,
                    position.quantity,
                    position.avg_price,
                    position.realized_pnl,
                    self.portfolio.cash,
                    fill.ts,
                )
            )
        order = event.order
        if order.stop_loss is not None and order.parent_id is None:
            self._protect(order, fill.quantity)
        if self._guards:
            self._prune_protective(fill.symbol)
        strategy = self.strategies.get(fill.strategy_id)
        if strategy is not None:
            strategy.on_fill(fill)

    # -- brackets -----------------------------------------------------------------------------
    def _protect(self, parent: Order, quantity: Decimal) -> None:
        """Place the protective stop for one fill of a bracket entry."""
        assert parent.stop_loss is not None
        closing = OrderSide.SELL if parent.side is OrderSide.BUY else OrderSide.BUY
        self._place_stop(parent.client_order_id, parent, closing, parent.stop_loss, quantity)

    def _place_stop(
        self, parent_id: str, like: Order, side: OrderSide, stop: Decimal, quantity: Decimal
    ) -> None:
        """A child stop of ``parent_id`` (strategy and symbol as ``like``), through the gate."""
        # Numbered past every child already known, including those of a run before a restart.
        n = 1
        while (cid := f"{parent_id}-sl{n}") in self.orders or cid in self.known_order_ids:
            n += 1
        child = Order(
            cid,
            like.strategy_id,
            like.symbol,
            side,
            quantity,
            OrderType.STOP,
            stop_price=stop,
            time_in_force=TimeInForce.GTC,
            ts_created=self.clock.now_ns(),
            parent_id=parent_id,
        )
        self.submit(child)

    def _finished(self, client_order_id: str) -> None:
        self._working.pop(client_order_id, None)
        self._guards.pop(client_order_id, None)

    def _prune_protective(self, symbol: str) -> None:
        """Keep the protective stops of ``symbol`` covering exactly what is held: cancel them
        when the position is flat or flipped; when they cover more than is held, cancel the
        newest and re-place the part of the last one that is still needed."""
        held = self.portfolio.quantity(symbol)
        guards = [o for o in self._guards.values() if o.symbol == symbol and o.is_open]
        keep: list[Order] = []
        for o in guards:
            # A stop protects a long when it sells, a short when it buys.
            if held == 0 or (held > 0) == (o.side is OrderSide.BUY):
                self.cancel(o.client_order_id)
            else:
                keep.append(o)
        covered = sum((o.leaves_quantity for o in keep), Decimal(0))
        for o in sorted(keep, key=lambda o: (o.ts_created, o.client_order_id), reverse=True):
            if covered <= abs(held):
                break
            covered -= o.leaves_quantity
            self.cancel(o.client_order_id)
            still_needed = abs(held) - covered
            if still_needed > 0 and o.parent_id is not None and o.stop_price is not None:
                self._place_stop(o.parent_id, o, o.side, o.stop_price, still_needed)
                covered += still_needed
