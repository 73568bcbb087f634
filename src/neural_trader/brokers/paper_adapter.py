"""The simulated venue (:class:`~neural_trader.brokers.paper.PaperVenue`) behind the broker
port, so the pool can be run end to end on one machine.

The adapter plays the venue's side: it keeps its own copy of every order it was sent (the
caller's ``Order`` is never touched), applies the matching engine's events to those copies and
to its own account (a :class:`~neural_trader.core.portfolio.Portfolio`), and reports them
through the port. Market data reaches the matching engine through :meth:`on_bar` and
:meth:`on_quote`; an order matches only data later than the latest seen when it arrived (no
look-ahead). Executions are stamped with the adapter's clock (wall time by default), as a real
venue stamps them with its own, so the pool's "fills since" works the same way. While closed,
every call fails as ``UNAVAILABLE``, as a dropped connection to a real venue would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal

from neural_trader.brokers.base import (
    Account,
    Broker,
    Capabilities,
    Failure,
    Health,
    OrderUpdate,
    StatusTable,
    VenueError,
    VenueFill,
    VenueOrder,
    VenuePosition,
    missing_order,
)
from neural_trader.brokers.paper import FeeModel, PaperVenue
from neural_trader.core.bus import MessageBus
from neural_trader.core.clock import Clock, LiveClock
from neural_trader.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)
from neural_trader.core.instruments import AssetClass, InstrumentRegistry
from neural_trader.core.market_data import Bar, QuoteTick
from neural_trader.core.orders import Order, OrderStatus, OrderType, TimeInForce
from neural_trader.core.portfolio import Portfolio

PAPER_CAPABILITIES = Capabilities(
    order_types=frozenset(OrderType),
    time_in_force=frozenset(TimeInForce),
    asset_classes=frozenset(AssetClass),
    fractional=True,
    shorting=True,
    extended_hours=False,
    replace=False,
    market_data=False,
    sandbox=True,
    requests_per_s=100_000.0,
    burst=10_000,
    max_connections=1,
)
STATUSES = StatusTable("paper", {s.value: s for s in OrderStatus})


class PaperBroker(Broker):
    capabilities = PAPER_CAPABILITIES

    def __init__(
        self,
        instruments: InstrumentRegistry,
        starting_cash: Decimal,
        currency: str = "USD",
        fees: FeeModel | None = None,
        slippage_bps: Decimal = Decimal(0),
        max_volume_participation: float | None = None,
        name: str = "paper",
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self._clock = clock or LiveClock()
        self._bus = MessageBus()
        self._engine = PaperVenue(
            self._bus, instruments, fees, slippage_bps, max_volume_participation, name=name
        )
        self._book = Portfolio(starting_cash, instruments, currency)
        self._orders: dict[str, Order] = {}
        self._fills: list[VenueFill] = []
        self._queue: asyncio.Queue[OrderUpdate] = asyncio.Queue()
        self._connected = False
        # Time of the latest market data seen: an order arriving now matches only later data.
        self._data_ts = 0
        self._bus.subscribe(OrderAccepted, self._accepted)
        self._bus.subscribe(OrderRejected, self._rejected)
        self._bus.subscribe(OrderFilled, self._filled)
        self._bus.subscribe(OrderCanceled, self._canceled)
        self._bus.subscribe(OrderExpired, self._expired)

    # -- the venue's side of the events -------------------------------------------------------
    def _now(self) -> int:
        return self._clock.now_ns()

    @property
    def pending_updates(self) -> int:
        """Order updates produced and not yet taken by the update stream."""
        return self._queue.qsize()

    def _push(self, order: Order, fill: VenueFill | None = None) -> None:
        self._queue.put_nowait(OrderUpdate(order=self._snapshot(order), fill=fill))

    def _accepted(self, event: OrderAccepted) -> None:
        event.order.transition(OrderStatus.ACCEPTED, self._now())
        self._push(event.order)

    def _rejected(self, event: OrderRejected) -> None:
        event.order.transition(OrderStatus.REJECTED, self._now(), event.reason)
        self._push(event.order)

    def _canceled(self, event: OrderCanceled) -> None:
        event.order.transition(OrderStatus.CANCELED, self._now(), event.reason)
        self._push(event.order)

    def _expired(self, event: OrderExpired) -> None:
        event.order.transition(OrderStatus.EXPIRED, self._now(), "expired")
        self._push(event.order)

    def _filled(self, event: OrderFilled) -> None:
        f = event.fill
        event.order.fill(f.quantity, f.price, f.ts)
        self._book.apply_fill(f)
        fill = VenueFill(
            fill_id=f.fill_id,
            venue_order_id=f.client_order_id,
            client_order_id=f.client_order_id,
            symbol=f.symbol,
            side=f.side,
            quantity=f.quantity,
            price=f.price,
            commission=f.commission,
            ts=self._now(),  # the venue's clock, like a real venue's execution time
            liquidity=f.liquidity,
        )
        self._fills.append(fill)
        self._push(event.order, fill)

    def _snapshot(self, order: Order) -> VenueOrder:
        return VenueOrder(
            client_order_id=order.client_order_id,
            venue_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            filled_quantity=order.filled_quantity,
            status=STATUSES.map(
                order.status.value, order.quantity, order.filled_quantity, order.client_order_id
            ),
            venue_status=order.status.value,
            order_type=order.order_type,
            avg_price=order.avg_price if order.filled_quantity else None,
            limit_price=order.limit_price,
            stop_price=order.stop_price,
            ts=order.ts_last,
            reason=order.reason,
        )

    def _require_connection(self) -> None:
        if not self._connected:
            raise VenueError(f"{self.name} is not connected", Failure.UNAVAILABLE, venue=self.name)

    # -- market data for the matching engine --------------------------------------------------
    def on_bar(self, bar: Bar) -> None:
        self._data_ts = max(self._data_ts, bar.ts)
        self._engine.on_bar(bar)

    def on_quote(self, quote: QuoteTick) -> None:
        self._data_ts = max(self._data_ts, quote.ts)
        self._engine.on_quote(quote)

    # -- the port -----------------------------------------------------------------------------
    async def connect(self) -> None:
        self._connected = True

    async def close(self) -> None:
        self._connected = False

    async def health(self) -> Health:
        started = time.perf_counter()
        self._require_connection()
        return Health(self.name, True, time.perf_counter() - started, "simulated")

    async def account(self) -> Account:
        self._require_connection()
        cash = self._book.cash
        equity = Decimal(repr(self._book.equity()))
        return Account(self.name, self._book.currency, cash, cash, equity)

    async def positions(self) -> list[VenuePosition]:
        self._require_connection()
        return [
            VenuePosition(p.symbol, p.quantity, p.avg_price) for p in self._book.open_positions()
        ]

    async def place_order(self, order: Order) -> VenueOrder:
        self._require_connection()
        cid = order.client_order_id
        if cid in self._orders:
            raise VenueError(
                f"{self.name} already has an order {cid}", Failure.DUPLICATE, venue=self.name
            )
        mine = Order(
            cid,
            order.strategy_id,
            order.symbol,
            order.side,
            order.quantity,
            order.order_type,
            order.limit_price,
            order.stop_price,
            order.time_in_force,
            self._now(),
        )
        mine.transition(OrderStatus.SUBMITTED, self._now())
        self._orders[cid] = mine
        self._engine.submit(mine, self._data_ts)
        return self._snapshot(mine)

    def _order(self, client_order_id: str) -> Order:
        try:
            return self._orders[client_order_id]
        except KeyError:
            raise missing_order(self.name, client_order_id) from None

    async def cancel_order(self, client_order_id: str, symbol: str = "") -> None:
        self._require_connection()
        if self._order(client_order_id).is_open:
            self._engine.cancel(client_order_id)

    async def get_order(self, client_order_id: str, symbol: str = "") -> VenueOrder | None:
        self._require_connection()
        order = self._orders.get(client_order_id)
        return None if order is None else self._snapshot(order)

    async def open_orders(self) -> list[VenueOrder]:
        self._require_connection()
        return [self._snapshot(o) for o in self._orders.values() if o.is_open]

    async def fills(self, since_ns: int, symbols: Sequence[str]) -> list[VenueFill]:
        self._require_connection()
        return [f for f in self._fills if f.ts >= since_ns]

    async def updates(
        self, since_ns: int, watched: Callable[[], Sequence[str]]
    ) -> AsyncIterator[OrderUpdate]:
        """Pushed as the matching engine produces them (no polling)."""
        while True:
            self._require_connection()
            yield await self._queue.get()
