"""The typed events that travel on the message bus between strategies, risk, venues and ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from neural_trader.core.orders import Order, OrderSide


@dataclass(slots=True)
class Fill:
    """One execution. ``commission`` is in the instrument's quote currency."""

    fill_id: str
    client_order_id: str
    strategy_id: str
    symbol: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    commission: Decimal
    ts: int
    venue: str = "SIM"
    liquidity: str = "taker"


@dataclass(slots=True)
class OrderSubmitted:
    order: Order


@dataclass(slots=True)
class OrderAccepted:
    order: Order


@dataclass(slots=True)
class OrderRejected:
    """The venue said no (insufficient funds, bad price, duplicate id, ...)."""

    order: Order
    reason: str


@dataclass(slots=True)
class OrderDenied:
    """The pre-trade risk gate said no; ``figures`` hold the numbers that tripped ``rule``."""

    order: Order
    rule: str
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class OrderCanceled:
    order: Order
    reason: str = ""


@dataclass(slots=True)
class OrderExpired:
    order: Order


@dataclass(slots=True)
class OrderFilled:
    order: Order
    fill: Fill


@dataclass(slots=True)
class PositionChanged:
    """The ledger after a fill: the position in ``symbol`` and the account's cash."""

    symbol: str
    quantity: Decimal
    avg_price: Decimal
    realized_pnl: Decimal
    cash: Decimal
    ts: int


OrderEvent = (
    OrderSubmitted
    | OrderAccepted
    | OrderRejected
    | OrderDenied
    | OrderCanceled
    | OrderExpired
    | OrderFilled
)
