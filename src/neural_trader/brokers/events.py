"""Events the broker pool publishes on the bus besides the order events of ``core.events``:
connection changes, reconciliation outcomes, and everything it found that it will not guess
about (foreign orders, unknown venue states, positions that do not match the ledger)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from neural_trader.brokers.base import VenueFill, VenueOrder
from neural_trader.core.orders import Order


@dataclass(slots=True)
class BrokerUp:
    venue: str
    ts: int
    reconnects: int = 0


@dataclass(slots=True)
class BrokerDown:
    """The venue stopped answering; orders routed to it fail over (where allowed) or wait."""

    venue: str
    reason: str
    ts: int


@dataclass(slots=True)
class PositionMismatch:
    """After every missed fill was applied the ledger and the venue still disagree. The venue's
    figure is the truth; the difference is reported, never papered over with an invented fill."""

    venue: str
    symbol: str
    ledger: Decimal
    venue_quantity: Decimal


@dataclass(slots=True)
class ForeignOrder:
    """An open order at the venue that we did not place (manual, or another program)."""

    venue: str
    order: VenueOrder


@dataclass(slots=True)
class ForeignFill:
    """An execution at the venue of an order we did not place; not booked in our ledger."""

    venue: str
    fill: VenueFill


@dataclass(slots=True)
class VenueStateUnknown:
    """The venue reported an order state its table does not list; the order is left as it was."""

    venue: str
    client_order_id: str
    state: str
    message: str


@dataclass(slots=True)
class OrderUnresolved:
    """An order whose fate the pool could not establish yet (send outcome unknown, or the
    venue's record disagrees with ours); it is retried on the next reconciliation."""

    venue: str
    order: Order
    reason: str


@dataclass(slots=True)
class ReconciliationReport:
    """What one reconciliation with ``venue`` found and did."""

    venue: str
    ts: int
    fills_applied: int = 0
    orders_updated: int = 0
    resent: list[str] = field(default_factory=list)
    foreign_orders: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.foreign_orders or self.mismatches or self.unresolved)
