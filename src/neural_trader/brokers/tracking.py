"""The pool's book of the orders it sent: it turns venue reports into order events on the bus,
each exactly once and in an order the order state machine accepts.

Rules:

* a fill is identified by (venue, venue fill id) and booked once, however often it is reported;
  a fill that would take an order past its quantity is refused and reported;
* an order is announced ACCEPTED once, before its first fill or its cancellation;
* a venue's CANCELED/EXPIRED is applied only after every fill the venue reports for the order
  has been booked (until then it is held, so no fill can arrive after a terminal state);
* a venue REJECTED after we announced ACCEPTED is applied as a cancellation whose reason says
  so (our state machine has no ACCEPTED → REJECTED);
* reports of orders we did not place become ``ForeignOrder``/``ForeignFill`` events, once each.

Nothing here does I/O; every method runs to completion on the event loop, so concurrent tasks
see the book either before or after an update, never halfway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from neural_trader.brokers.base import VenueFill, VenueOrder
from neural_trader.brokers.events import ForeignFill, ForeignOrder, OrderUnresolved
from neural_trader.core.bus import MessageBus
from neural_trader.core.events import (
    Fill,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)
from neural_trader.core.orders import Order, OrderStatus

ZERO = Decimal(0)


@dataclass
class Tracked:
    """One order we sent and what we have announced about it."""

    order: Order
    venue: str
    venue_order_id: str | None = None
    accepted: bool = False
    terminal: bool = False
    filled: Decimal = ZERO
    fill_ids: set[str] = field(default_factory=set)
    # The send failed in a way that leaves its outcome unknown (timeout, dropped connection).
    send_unknown: bool = False
    # A venue cancel/expiry waiting for fills the venue reports but we have not seen yet.
    held: VenueOrder | None = None

    @property
    def waiting_for_fills(self) -> bool:
        return self.held is not None


class OrderBook:
    def __init__(self, bus: MessageBus) -> None:
        self._bus = bus
        self.orders: dict[str, Tracked] = {}
        self._by_venue_id: dict[tuple[str, str], str] = {}
        self._foreign_orders: set[tuple[str, str]] = set()
        self._foreign_fills: set[tuple[str, str]] = set()
        # Fills of venue order ids we cannot place yet: an order whose send reply has not come
        # back (or whose id we are still resolving) can be filled before we learn its id.
        self._orphans: dict[tuple[str, str], dict[str, VenueFill]] = {}

    def track(self, order: Order, venue: str) -> Tracked:
        tracked = self.orders[order.client_order_id] = Tracked(order, venue)
        return tracked

    def open_on(self, venue: str) -> list[Tracked]:
        return [t for t in self.orders.values() if t.venue == venue and not t.terminal]

    def symbols_on(self, venue: str) -> list[str]:
        return sorted({t.order.symbol for t in self.open_on(venue)})

    # -- orders -------------------------------------------------------------------------------
    def apply_order(self, venue: str, report: VenueOrder) -> bool:
        """Apply the venue's view of an order; False for an order we did not place."""
        tracked = self.orders.get(report.client_order_id)
        if tracked is None or tracked.venue != venue:
            key = (venue, report.venue_order_id)
            if report.is_open and key not in self._foreign_orders:
                self._foreign_orders.add(key)
                self._bus.publish(ForeignOrder(venue, report))
            return False
        tracked.venue_order_id = report.venue_order_id
        self._by_venue_id[(venue, report.venue_order_id)] = report.client_order_id
        for fill in self._orphans.pop((venue, report.venue_order_id), {}).values():
            self.apply_fill(venue, fill)
        if tracked.terminal:
            return True
        status = report.status
        if status is OrderStatus.REJECTED:
            self._reject(tracked, report.reason or f"{venue}: {report.venue_status}")
        elif status in (OrderStatus.CANCELED, OrderStatus.EXPIRED):
            tracked.held = report
            self._release(tracked)
        elif status is not OrderStatus.SUBMITTED:
            self._accept(tracked)
        return True

    def _accept(self, tracked: Tracked) -> None:
        if not tracked.accepted:
            tracked.accepted = True
            self._bus.publish(OrderAccepted(tracked.order))

    def _reject(self, tracked: Tracked, reason: str) -> None:
        tracked.terminal = True
        if tracked.accepted:
            self._bus.publish(OrderCanceled(tracked.order, f"rejected after acceptance: {reason}"))
        else:
            self._bus.publish(OrderRejected(tracked.order, reason))

    def reject_unsent(self, tracked: Tracked, reason: str) -> None:
        """The order never reached a venue (or the venue refused it outright)."""
        self._reject(tracked, reason)

    def _release(self, tracked: Tracked) -> None:
        """Apply a held cancel/expiry once every fill it counts has been booked."""
        held = tracked.held
        if held is None or held.filled_quantity > tracked.filled:
            return
        tracked.held = None
        tracked.terminal = True
        self._accept(tracked)
        if held.status is OrderStatus.EXPIRED:
            self._bus.publish(OrderExpired(tracked.order))
        else:
            self._bus.publish(OrderCanceled(tracked.order, held.reason or held.venue_status))

    def report_foreign_fills(self, venue: str) -> list[str]:
        """After a reconciliation has resolved every order it could: fills still not matched
        to one of our orders are foreign; report each once. Returns their venue fill ids."""
        unresolved_ids = any(
            t.venue == venue and not t.terminal and t.venue_order_id is None
            for t in self.orders.values()
        )
        if unresolved_ids:
            return []  # one of ours may still claim them
        reported: list[str] = []
        for key in [k for k in self._orphans if k[0] == venue]:
            for fill in self._orphans.pop(key).values():
                self._foreign_fills.add((venue, fill.fill_id))
                self._bus.publish(ForeignFill(venue, fill))
                reported.append(fill.fill_id)
        return reported

    # -- fills --------------------------------------------------------------------------------
    def apply_fill(self, venue: str, fill: VenueFill) -> bool:
        """Book ``fill`` once; True when it was new and booked."""
        cid = fill.client_order_id
        if cid is None or cid not in self.orders:
            cid = self._by_venue_id.get((venue, fill.venue_order_id))
        tracked = self.orders.get(cid) if cid is not None else None
        if tracked is None or tracked.venue != venue:
            if (venue, fill.fill_id) not in self._foreign_fills:
                self._orphans.setdefault((venue, fill.venue_order_id), {})[fill.fill_id] = fill
            return False
        if fill.fill_id in tracked.fill_ids:
            return False
        order = tracked.order
        if tracked.terminal or tracked.filled + fill.quantity > order.quantity:
            self._bus.publish(
                OrderUnresolved(
                    venue,
                    order,
                    f"venue fill {fill.fill_id} of {fill.quantity} does not fit: "
                    f"{tracked.filled} of {order.quantity} already filled",
                )
            )
            return False
        tracked.fill_ids.add(fill.fill_id)
        tracked.filled += fill.quantity
        self._accept(tracked)
        if tracked.filled == order.quantity:
            tracked.terminal = True
            tracked.held = None
        booked = Fill(
            fill_id=f"{venue}:{fill.fill_id}",
            client_order_id=order.client_order_id,
            strategy_id=order.strategy_id,
            symbol=order.symbol,
            side=order.side,
            quantity=fill.quantity,
            price=fill.price,
            commission=fill.commission,
            ts=fill.ts,
            venue=venue,
            liquidity=fill.liquidity,
        )
        self._bus.publish(OrderFilled(order, booked))
        self._release(tracked)
        return True
