"""What keeps the pool polite and standing when a venue is slow or down: a token bucket per
venue, a circuit breaker per venue, and exponential backoff with jitter for reconnection.

The bucket takes its clock and sleep (``time.monotonic``, ``asyncio.sleep`` by default) and the
backoff its random source, so their behaviour is exact under test.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum


class TokenBucket:
    """At most ``rate`` calls per second on average, ``burst`` at once. ``acquire`` waits for a
    token; callers are served in arrival order (an asyncio lock queues them)."""

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a token bucket needs rate > 0 and burst >= 1, got {rate}, {burst}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> None:
        async with self._lock:
            self._refill()
            if self._tokens < 1:
                await self._sleep((1 - self._tokens) / self.rate)
                self._refill()
            self._tokens -= 1


class BreakerState(StrEnum):
    CLOSED = "closed"  # calls flow
    OPEN = "open"  # calls are refused; the reconnect loop probes the venue
    HALF_OPEN = "half_open"  # a probe is under way: its outcome closes or re-opens


class CircuitBreaker:
    """Opens after ``failures`` transient failures in a row (or at once when the connection is
    known to be gone); while open no call goes out except the reconnect loop's probes, each of
    which closes the breaker on success and re-opens it on failure."""

    def __init__(self, failures: int) -> None:
        if failures < 1:
            raise ValueError(f"a circuit breaker needs failures >= 1, got {failures}")
        self.threshold = failures
        self.state = BreakerState.CLOSED
        self.consecutive = 0
        self.trips = 0

    @property
    def closed(self) -> bool:
        return self.state is BreakerState.CLOSED

    def success(self) -> None:
        self.consecutive = 0
        self.state = BreakerState.CLOSED

    def failure(self) -> bool:
        """Count a transient failure; True when this one opened the breaker."""
        self.consecutive += 1
        if self.state is BreakerState.HALF_OPEN or self.consecutive >= self.threshold:
            return self.trip()
        return False

    def trip(self) -> bool:
        """Open now; True when it was not open already."""
        opened = self.state is not BreakerState.OPEN
        if opened and self.state is BreakerState.CLOSED:
            self.trips += 1
        self.state = BreakerState.OPEN
        return opened

    def probe(self) -> None:
        self.state = BreakerState.HALF_OPEN


class Backoff:
    """Delay before reconnect attempt ``n`` (0-based): ``min(cap, base·2ⁿ)`` scaled by a random
    factor in [0.5, 1] ("equal jitter"), so a fleet of clients does not reconnect in step while
    every delay stays at least half the exponential one."""

    def __init__(self, base_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        if base_s <= 0 or cap_s < base_s:
            raise ValueError(f"backoff needs 0 < base <= cap, got {base_s}, {cap_s}")
        self.base_s = base_s
        self.cap_s = cap_s
        self._rng = rng or random.Random()

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap_s, self.base_s * 2 ** min(attempt, 62))
        return float(ceiling * (0.5 + 0.5 * self._rng.random()))
