"""The kernel's execution port on top of the pool: ``submit``/``cancel`` are synchronous for the
kernel and run as tasks on the event loop, whose outcomes come back as bus events like any
venue's. A cancel that cannot reach the venue is reported as ``OrderUnresolved``."""

from __future__ import annotations

from neural_trader.brokers.base import VenueError
from neural_trader.brokers.events import OrderUnresolved
from neural_trader.brokers.pool import BrokerPool
from neural_trader.core.orders import Order


class PoolVenue:
    """An :class:`~neural_trader.core.venue.ExecutionVenue`; call it from the running loop."""

    def __init__(self, pool: BrokerPool, name: str = "POOL") -> None:
        self.name = name
        self.pool = pool

    def submit(self, order: Order, decision_ts: int) -> None:
        self.pool.spawn(self.pool.submit(order))

    def cancel(self, client_order_id: str) -> None:
        self.pool.spawn(self._cancel(client_order_id))

    async def _cancel(self, client_order_id: str) -> None:
        try:
            await self.pool.cancel(client_order_id)
        except VenueError as exc:
            tracked = self.pool.book.orders.get(client_order_id)
            if tracked is not None:
                self.pool.bus.publish(
                    OrderUnresolved(tracked.venue, tracked.order, f"cancel failed: {exc}")
                )
