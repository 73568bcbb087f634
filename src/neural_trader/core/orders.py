"""Orders and their state machine.

Every change of an order's state goes through :meth:`Order.transition`, which refuses any move
the table below does not allow, so a late fill on a cancelled order or a second rejection is an
error that surfaces instead of a silent corruption of the book.

    INITIALIZED ─▶ SUBMITTED ─▶ ACCEPTED ─▶ PARTIALLY_FILLED ─▶ FILLED
         │             │            │              │
         ▼             ▼            ▼              ▼
       DENIED      REJECTED   CANCELED/EXPIRED  CANCELED/EXPIRED

DENIED is the pre-trade risk gate saying no before anything reached a venue.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from neural_trader.errors import OrderError


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is OrderSide.BUY else -1


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(StrEnum):
    GTC = "gtc"
    DAY = "day"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(StrEnum):
    INITIALIZED = "initialized"
    DENIED = "denied"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"


S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.INITIALIZED: frozenset({S.SUBMITTED, S.DENIED}),
    # Venues may report a fill or a cancel before their acknowledgement reaches us.
    S.SUBMITTED: frozenset(
        {S.ACCEPTED, S.REJECTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}
    ),
    S.ACCEPTED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}),
    S.FILLED: frozenset(),
    S.CANCELED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
    S.DENIED: frozenset(),
}
TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
OPEN = frozenset({S.SUBMITTED, S.ACCEPTED, S.PARTIALLY_FILLED})


class Order:
    """A request to trade and everything that has happened to it since."""

    __slots__ = (
        "avg_price",
        "client_order_id",
        "filled_quantity",
        "limit_price",
        "order_type",
        "parent_id",
        "quantity",
        "reason",
        "side",
        "status",
        "stop_loss",
        "stop_price",
        "strategy_id",
        "symbol",
        "time_in_force",
        "triggered",
        "ts_created",
        "ts_last",
        "venue_order_id",
    )

    def __init__(
        self,
        client_order_id: str,
        strategy_id: str,
        symbol: str,
        side: OrderSide,
        quantity: Decimal,
        order_type: OrderType = OrderType.MARKET,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        ts_created: int = 0,
        stop_loss: Decimal | None = None,
        parent_id: str | None = None,
    ) -> None:
        if quantity <= 0:
            raise OrderError(f"quantity must be positive, got {quantity}", order=client_order_id)
        if stop_loss is not None and stop_loss <= 0:
            raise OrderError(f"stop loss must be positive, got {stop_loss}", order=client_order_id)
        needs_limit = order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_stop = order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        if needs_limit != (limit_price is not None):
            raise OrderError(
                f"{order_type.value} order {'needs' if needs_limit else 'takes no'} limit price",
                order=client_order_id,
            )
        if needs_stop != (stop_price is not None):
            raise OrderError(
                f"{order_type.value} order {'needs' if needs_stop else 'takes no'} stop price",
                order=client_order_id,
            )
        self.client_order_id = client_order_id
        self.strategy_id = strategy_id
        self.symbol = symbol
        self.side = side
        self.quantity = quantity
        self.order_type = order_type
        self.limit_price = limit_price
        self.stop_price = stop_price
        self.time_in_force = time_in_force
        # Bracket: each fill of this order places a protective stop at this price (a child
        # order whose parent_id is this order's id); the gate's heat rule counts it as the risk.
        self.stop_loss = stop_loss
        self.parent_id = parent_id
        self.status = OrderStatus.INITIALIZED
        self.filled_quantity = Decimal(0)
        self.avg_price = Decimal(0)
        self.venue_order_id: str | None = None
        self.reason = ""
        self.triggered = False
        self.ts_created = ts_created
        self.ts_last = ts_created

    @property
    def leaves_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    def transition(self, new: OrderStatus, ts: int, reason: str = "") -> None:
        if new not in TRANSITIONS[self.status]:
            raise OrderError(
                f"illegal order transition {self.status.value} -> {new.value}",
                order=self.client_order_id,
            )
        self.status = new
        self.ts_last = ts
        if reason:
            self.reason = reason

    def fill(self, quantity: Decimal, price: Decimal, ts: int) -> None:
        """Record an execution; moves to PARTIALLY_FILLED or FILLED."""
        if quantity <= 0 or quantity > self.leaves_quantity:
            raise OrderError(
                f"fill of {quantity} does not fit the {self.leaves_quantity} left",
                order=self.client_order_id,
            )
        total = self.filled_quantity + quantity
        new = OrderStatus.FILLED if total == self.quantity else OrderStatus.PARTIALLY_FILLED
        self.transition(new, ts)  # refuses (and changes nothing) before the accounting moves
        self.avg_price = (self.avg_price * self.filled_quantity + price * quantity) / total
        self.filled_quantity = total

    def __repr__(self) -> str:
        px = f" lmt={self.limit_price}" if self.limit_price is not None else ""
        px += f" stp={self.stop_price}" if self.stop_price is not None else ""
        px += f" sl={self.stop_loss}" if self.stop_loss is not None else ""
        return (
            f"Order({self.client_order_id} {self.side.value} {self.quantity} {self.symbol} "
            f"{self.order_type.value}{px} {self.time_in_force.value} {self.status.value} "
            f"filled={self.filled_quantity})"
        )
