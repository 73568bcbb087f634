"""One configured venue inside the pool: its clients, request budget, circuit breaker and
connection state.

Writes (place, cancel, replace) always go through the first client, so a venue sees one
client's orders in the order we sent them; reads are spread round-robin over the others.
A call is refused without going out while the venue is not UP; transient failures count
towards the breaker, and the call that opens it marks the venue DOWN.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum
from typing import TypeVar

from neural_trader.brokers.base import Broker, Capabilities, Failure, VenueError
from neural_trader.brokers.resilience import CircuitBreaker, TokenBucket

T = TypeVar("T")


class VenueState(StrEnum):
    CONNECTING = "connecting"
    UP = "up"
    RECONCILING = "reconciling"
    DOWN = "down"
    CLOSED = "closed"


class VenueConnection:
    def __init__(
        self,
        name: str,
        clients: Sequence[Broker],
        breaker: CircuitBreaker,
        requests_per_s: float | None = None,
    ) -> None:
        if not clients:
            raise VenueError(f"venue {name} has no client", Failure.UNSUPPORTED, venue=name)
        self.name = name
        self.clients = list(clients)
        self.capabilities: Capabilities = self.clients[0].capabilities
        rate = requests_per_s or self.capabilities.requests_per_s
        self.bucket = TokenBucket(rate, max(1, self.capabilities.burst))
        for client in self.clients:
            client.limit_rate(self.bucket)
        self.breaker = breaker
        self.state = VenueState.CONNECTING
        self.reason = ""
        self.reconnects = 0
        self.last_fill_ns = 0
        self.up = asyncio.Event()
        self.reconnect_task: asyncio.Task[None] | None = None
        self.stream_task: asyncio.Task[None] | None = None
        self._readers = itertools.cycle(self.clients)

    @property
    def writer(self) -> Broker:
        return self.clients[0]

    @property
    def available(self) -> bool:
        return self.state is VenueState.UP

    def set_state(self, state: VenueState, reason: str = "") -> None:
        self.state = state
        self.reason = reason
        if state is VenueState.UP:
            self.up.set()
        else:
            self.up.clear()

    async def call(
        self,
        fn: Callable[[Broker], Awaitable[T]],
        *,
        write: bool = False,
        probe: bool = False,
    ) -> T:
        """Run ``fn`` on a client; ``probe`` calls (reconnect, reconciliation) go out while the
        venue is not UP. Raises CIRCUIT_OPEN, without sending, while the venue is down."""
        if not probe and self.state is not VenueState.UP:
            raise VenueError(
                f"{self.name} is {self.state.value}" + (f" ({self.reason})" if self.reason else ""),
                Failure.CIRCUIT_OPEN,
                venue=self.name,
            )
        client = self.writer if write else next(self._readers)
        try:
            result = await fn(client)
        except VenueError as exc:
            if exc.transient:
                self.breaker.failure()
            else:
                self.breaker.success()  # the venue answered, even if it said no
            raise
        self.breaker.success()
        return result

    async def connect_all(self) -> None:
        for client in self.clients:
            await client.connect()

    async def close_all(self) -> None:
        for client in self.clients:
            await client.close()
