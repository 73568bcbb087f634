"""Persists the book of record as it changes: every order event, every fill with its position
and cash, and the risk gate's denials. It listens on the bus after the kernel, so what it
writes is the state the kernel has already applied.

Writes go through a :class:`~neural_trader.storage.step_queue.StepQueue`: stored together, in
one transaction, when the event loop's step ends, so a burst of orders costs one commit instead
of three per order. The kernel publishes ``OrderSubmitted`` before it hands an order over and
the pool sends from a task, so an order is stored before it can be sent. ``flush`` stores what
is queued now; the session calls it before each checkpoint (never ahead of the ledger). A failed
write is kept for the next flush and sets ``failure``, which stops the session."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
from neural_trader.errors import StorageError
from neural_trader.risk.breaker import BreakerStateChanged, BreakerTripped
from neural_trader.storage import Store
from neural_trader.storage.step_queue import StepQueue
from neural_trader.storage.store import LedgerBatch
from neural_trader.trading.kernel import Kernel

Write = Callable[[LedgerBatch], None]


class LedgerRecorder:
    def __init__(
        self,
        bus: MessageBus,
        kernel: Kernel,
        store: Store,
        account: str,
        max_batch: int = 10_000,
    ) -> None:
        self._kernel = kernel
        self._store = store
        self._account = account
        self._max_batch = max_batch
        self._decided: dict[str, int] = {}
        self._queue: StepQueue[Write] = StepQueue(self._store_all, "ledger writes", max_batch)
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

    def flush(self) -> None:
        """Store every queued write now, in one transaction (none of them if it fails)."""
        self._queue.flush()

    @property
    def failure(self) -> StorageError | None:
        return self._queue.failure

    def write(self, op: Write) -> None:
        """Queue a write into the transaction of this step's ledger writes (the recorder's
        own, and the audit log's: one commit for both, neither stored without the other)."""
        self._queue.add(op)

    def _store_all(self, ops: Sequence[Write]) -> None:
        with self._store.batch() as batch:
            for op in ops:
                op(batch)

    # -- what is written ----------------------------------------------------------------------
    def _save(self, order: Order) -> None:
        ts = self._decided.setdefault(order.client_order_id, self._kernel.event_ts)
        if order.is_terminal:  # its last write: the decision time is stored with it
            del self._decided[order.client_order_id]
        account = self._account
        self.write(lambda b: b.order(account, order, ts))

    def _event(self, ts: int, kind: str, payload: dict[str, object]) -> None:
        account = self._account
        self.write(lambda b: b.event(account, ts, kind, payload))

    def _on_submitted(self, event: OrderSubmitted) -> None:
        self._decided[event.order.client_order_id] = self._kernel.event_ts
        self._save(event.order)

    def _on_rejected(self, event: OrderRejected) -> None:
        self._save(event.order)
        self._event(
            self._kernel.event_ts,
            "order_rejected",
            {"client_order_id": event.order.client_order_id, "reason": event.reason},
        )

    def _on_denied(self, event: OrderDenied) -> None:
        self._save(event.order)
        self._event(
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
        kind = "breaker_tripped" if isinstance(event, BreakerTripped) else "breaker_state"
        self._event(event.ts, kind, asdict(event))

    def _on_filled(self, event: OrderFilled) -> None:
        portfolio = self._kernel.portfolio
        position = portfolio.position(event.fill.symbol)
        assert position is not None  # the kernel applied the fill before we were called
        if event.order.is_terminal:
            self._decided.pop(event.order.client_order_id, None)
        account, fill, order = self._account, event.fill, event.order
        # Position, cash and commissions are read when the batch is stored: the state the
        # kernel has reached by then, which every fill of the batch contributed to.
        self.write(
            lambda b: b.fill(
                account, fill, order, position, portfolio.cash, portfolio.total_commissions
            )
        )
