"""Persists the book of record as it changes: every order event, every fill with its position
and cash in one transaction, and the risk gate's denials. It listens on the bus after the
kernel, so what it writes is the state the kernel has already applied."""

from __future__ import annotations

from dataclasses import asdict

from neural_trader.core.bus import MessageBus
from neural_trader.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
)
from neural_trader.core.orders import Order
from neural_trader.risk.breaker import BreakerStateChanged, BreakerTripped
from neural_trader.storage import Store
from neural_trader.trading.kernel import Kernel


class LedgerRecorder:
    def __init__(self, bus: MessageBus, kernel: Kernel, store: Store, account: str) -> None:
        self._kernel = kernel
        self._store = store
        self._account = account
        self._decided: dict[str, int] = {}
        bus.subscribe(OrderSubmitted, self._on_submitted)
        bus.subscribe(OrderAccepted, lambda e: self._save(e.order))
        bus.subscribe(OrderCanceled, lambda e: self._save(e.order))
        bus.subscribe(OrderExpired, lambda e: self._save(e.order))
        bus.subscribe(OrderRejected, self._on_rejected)
        bus.subscribe(OrderDenied, self._on_denied)
        bus.subscribe(OrderFilled, self._on_filled)
        bus.subscribe(BreakerTripped, self._on_breaker)
        bus.subscribe(BreakerStateChanged, self._on_breaker)

    def remember(self, order: Order, decision_ts: int) -> None:
        self._decided[order.client_order_id] = decision_ts

    def _save(self, order: Order) -> None:
        ts = self._decided.setdefault(order.client_order_id, self._kernel.event_ts)
        self._store.record_order(self._account, order, ts)

    def _on_submitted(self, event: OrderSubmitted) -> None:
        self._decided[event.order.client_order_id] = self._kernel.event_ts
        self._save(event.order)

    def _on_rejected(self, event: OrderRejected) -> None:
        self._save(event.order)
        self._store.record_event(
            self._account,
            self._kernel.event_ts,
            "order_rejected",
            {"client_order_id": event.order.client_order_id, "reason": event.reason},
        )

    def _on_denied(self, event: OrderDenied) -> None:
        self._save(event.order)
        self._store.record_event(
            self._account,
            self._kernel.event_ts,
            "order_denied",
            {
                "client_order_id": event.order.client_order_id,
                "rule": event.rule,
                "reason": event.reason,
                "figures": event.figures,
            },
        )

    def _on_breaker(self, event: BreakerTripped | BreakerStateChanged) -> None:
        payload = asdict(event)
        kind = "breaker_tripped" if isinstance(event, BreakerTripped) else "breaker_state"
        self._store.record_event(self._account, event.ts, kind, payload)

    def _on_filled(self, event: OrderFilled) -> None:
        portfolio = self._kernel.portfolio
        position = portfolio.position(event.fill.symbol)
        assert position is not None  # the kernel applied the fill before we were called
        self._decided.setdefault(event.order.client_order_id, self._kernel.event_ts)
        self._store.record_fill_and_position(
            self._account,
            event.fill,
            event.order,
            position,
            portfolio.cash,
            portfolio.total_commissions,
        )
