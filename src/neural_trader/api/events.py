"""From the trading session's message bus to the outside: WebSocket channels, metrics and the
audit log. Subscribed after the kernel and the ledger recorder, so what goes out is the state
already applied and stored.

Channels: ``orders`` (every order event), ``fills``, ``portfolio`` (the position and cash
after each fill), ``risk`` (denials, circuit breaker, trading state), ``signals`` (each
strategy decision as it reached the risk gate, passed or denied). Every order event is
also an audit entry naming who caused it: the API user who submitted the order, or the
strategy that decided it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import structlog

from neural_trader.api.encoding import exact, iso_ns, jsonable
from neural_trader.api.hub import Hub
from neural_trader.api.metrics import ApiMetrics
from neural_trader.core.bus import MessageBus
from neural_trader.core.events import (
    Fill,
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    PositionChanged,
)
from neural_trader.core.orders import Order
from neural_trader.risk.breaker import BreakerStateChanged, BreakerTripped
from neural_trader.storage import AuditEntry, AuditLog

log = structlog.get_logger("neural_trader.api")
API_STRATEGY = "api"


@dataclass(frozen=True)
class Actor:
    """Who caused something, for the audit log."""

    name: str
    kind: str
    source: str = ""


def order_view(order: Order, account: str) -> dict[str, Any]:
    """An order as the API shows it (the same fields as a stored row, see ``row_view``)."""

    return {
        "id": order.client_order_id,
        "account": account,
        "strategy": order.strategy_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.order_type.value,
        "quantity": exact(order.quantity),
        "limit_price": exact(order.limit_price),
        "stop_price": exact(order.stop_price),
        "stop_loss": exact(order.stop_loss),
        "time_in_force": order.time_in_force.value,
        "status": order.status.value,
        "filled_quantity": exact(order.filled_quantity),
        "avg_price": exact(order.avg_price),
        "reason": order.reason,
        "parent_id": order.parent_id,
        "created_at": iso_ns(order.ts_created) if order.ts_created else None,
        "updated_at": iso_ns(order.ts_last) if order.ts_last else None,
    }


def row_view(row: dict[str, Any]) -> dict[str, Any]:
    """A stored order row in the same shape as :func:`order_view`."""

    return {
        "id": row["client_order_id"],
        "account": row["account"],
        "strategy": row["strategy_id"],
        "symbol": row["symbol"],
        "side": row["side"],
        "type": row["order_type"],
        "quantity": exact(row["quantity"]),
        "limit_price": exact(row["limit_price"]),
        "stop_price": exact(row["stop_price"]),
        "stop_loss": exact(row["stop_loss"]),
        "time_in_force": row["time_in_force"],
        "status": row["status"],
        "filled_quantity": exact(row["filled_quantity"]),
        "avg_price": exact(row["avg_price"]),
        "reason": row["reason"],
        "parent_id": row["parent_id"],
        "created_at": iso_ns(row["ts_created"]) if row["ts_created"] else None,
        "updated_at": iso_ns(row["ts_last"]) if row["ts_last"] else None,
    }


def fill_view(fill: Fill) -> dict[str, Any]:
    return {
        "id": fill.fill_id,
        "order_id": fill.client_order_id,
        "strategy": fill.strategy_id,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "quantity": exact(fill.quantity),
        "price": exact(fill.price),
        "commission": exact(fill.commission),
        "venue": fill.venue,
        "liquidity": fill.liquidity,
        "time": iso_ns(fill.ts),
    }


class EventBridge:
    def __init__(
        self,
        bus: MessageBus,
        account: str,
        hub: Hub,
        metrics: ApiMetrics,
        audit: AuditLog,
        venue: str,
    ) -> None:
        self.account = account
        self.hub = hub
        self.metrics = metrics
        self.audit = audit
        self.venue = venue
        # Who submitted each API order (strategy orders name their strategy).
        self.origins: dict[str, Actor] = {}
        for kind, name in (
            (OrderSubmitted, "submitted"),
            (OrderAccepted, "accepted"),
            (OrderCanceled, "canceled"),
            (OrderExpired, "expired"),
        ):
            bus.subscribe(kind, self._order_event(name))
        bus.subscribe(OrderSubmitted, self._on_submitted_signal)
        bus.subscribe(OrderRejected, self._on_rejected)
        bus.subscribe(OrderDenied, self._on_denied)
        bus.subscribe(OrderFilled, self._on_filled)
        bus.subscribe(PositionChanged, self._on_position)
        bus.subscribe(BreakerTripped, self._on_breaker)
        bus.subscribe(BreakerStateChanged, self._on_breaker)

    def _on_submitted_signal(self, event: OrderSubmitted) -> None:
        self._signal(event.order, "passed")

    def _signal(self, order: Order, gate: str, rule: str | None = None) -> None:
        """A strategy's decision, as it reached the risk gate (orders of API users are
        theirs, not a strategy's, and are not signals)."""
        if order.strategy_id == API_STRATEGY:
            return
        self.hub.publish(
            "signals",
            {
                "strategy": order.strategy_id, "order_id": order.client_order_id,
                "symbol": order.symbol, "side": order.side.value,
                "quantity": exact(order.quantity), "type": order.order_type.value,
                "limit_price": exact(order.limit_price), "stop_price": exact(order.stop_price),
                "gate": gate, "rule": rule, "time": iso_ns(order.ts_created),
            },
        )  # fmt: skip

    def _order_event(self, name: str) -> Any:
        def handle(event: OrderSubmitted | OrderAccepted | OrderCanceled | OrderExpired) -> None:
            self._emit(name, event.order, {})

        return handle

    def _emit(self, name: str, order: Order, extra: dict[str, Any]) -> None:
        self.metrics.orders.labels(name, self.venue).inc()
        view = order_view(order, self.account)
        self.hub.publish("orders", {"event": name, "order": view, **extra})
        self._audit(f"order.{name}", order, extra)
        if order.is_terminal:  # its last event: who submitted it is no longer needed here
            self.origins.pop(order.client_order_id, None)

    def _on_rejected(self, event: OrderRejected) -> None:
        self._emit("rejected", event.order, {"reason": event.reason})

    def _on_denied(self, event: OrderDenied) -> None:
        self.metrics.denials.labels(event.rule).inc()
        extra = {"rule": event.rule, "reason": event.reason, "figures": jsonable(event.figures)}
        self._emit("denied", event.order, extra)
        self._signal(event.order, "denied", event.rule)
        self.hub.publish(
            "risk", {"event": "order_denied", "order_id": event.order.client_order_id, **extra}
        )

    def _on_filled(self, event: OrderFilled) -> None:
        fill = fill_view(event.fill)
        self.metrics.fills.labels(event.fill.venue).inc()
        self._emit("filled", event.order, {"fill": fill})
        self.hub.publish("fills", fill)

    def _on_position(self, event: PositionChanged) -> None:
        self.metrics.cash.set(float(event.cash))
        self.hub.publish(
            "portfolio",
            {
                "event": "position",
                "symbol": event.symbol,
                "quantity": exact(event.quantity),
                "avg_price": exact(event.avg_price),
                "realized_pnl": exact(event.realized_pnl),
                "cash": exact(event.cash),
                "time": iso_ns(event.ts),
            },
        )

    def _on_breaker(self, event: BreakerTripped | BreakerStateChanged) -> None:
        name = "breaker_tripped" if isinstance(event, BreakerTripped) else "breaker_state"
        payload = jsonable(asdict(event))
        self.hub.publish("risk", {"event": name, **payload})
        self.audit_entry(Actor("circuit-breaker", "system", "server"), f"risk.{name}", "", payload)

    def trading_state(self, state: str, actor: Actor, reason: str) -> None:
        self.hub.publish(
            "risk", {"event": "trading_state", "state": state, "by": actor.name, "reason": reason}
        )

    def _audit(self, action: str, order: Order, extra: dict[str, Any]) -> None:
        actor = self.origins.get(order.client_order_id)
        if actor is None:
            actor = Actor(f"strategy:{order.strategy_id}", "strategy", "server")
        detail = {
            "account": self.account,
            "status": order.status.value,
            "symbol": order.symbol,
            "side": order.side.value,
            "quantity": exact(order.quantity),
            **{k: v for k, v in extra.items() if k != "figures"},
        }
        result = action.split(".")[-1] if action in ("order.denied", "order.rejected") else "ok"
        self.audit_entry(actor, action, order.client_order_id, detail, result)

    def audit_entry(
        self, actor: Actor, action: str, target: str, detail: dict[str, Any], result: str = "ok"
    ) -> None:
        # Queued: stored with the loop step's other entries (a failure is logged there and
        # retried; it never breaks the trading path).
        self.audit.submit(
            AuditEntry(actor.name, actor.kind, action, target, actor.source, result, detail)
        )
