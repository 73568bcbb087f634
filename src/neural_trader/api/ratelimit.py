"""Per-caller token buckets: each API key, user or (where nobody is authenticated yet) client
address may make ``burst`` requests at once and ``rate`` per second on average.

Buckets live in this process (with several workers or replicas each has its own, so the
limit is per process) unless Redis is configured: then they are shared by every process
(:mod:`neural_trader.api.shared_limits`), and these are the fallback while Redis is
unreachable. At most ``max_buckets`` are kept here: the least recently used is forgotten
first, and it is the one that has had the longest to refill, so forgetting it rarely changes
an answer.

The auth dependency spends the caller's token (:func:`limit_principal`) once it knows who is
calling; :class:`AddressLimit` spends the client address's on the routes anyone may call.
A refusal is a ``rate-limited`` problem (429) with ``Retry-After``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from neural_trader.api.metrics import ApiMetrics
from neural_trader.api.problems import Problem, problem_response
from neural_trader.api.shared_limits import RedisBuckets
from neural_trader.security import Principal

# Routes anyone may call, limited per client address: the token endpoint and revocation.
ANONYMOUS_PATHS = frozenset({"/api/v1/auth/token", "/api/v1/auth/revoke"})


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(
        self,
        rate: float,
        burst: int = 0,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = 10_000,
        shared: RedisBuckets | None = None,
    ) -> None:
        if rate < 0 or burst < 0:
            raise ValueError(f"rate ({rate}) and burst ({burst}) must not be negative")
        self.rate = rate
        self.burst = burst or max(1, math.ceil(rate))
        self.clock = clock
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()  # sync routes take the bucket from worker threads
        self.shared = shared

    async def spend(self, key: str) -> float:
        """Like :meth:`take`, on the shared bucket when there is one (and it answers)."""
        if not self.enabled:
            return 0.0
        if self.shared is not None:
            wait = await self.shared.take(key, self.rate, self.burst)
            if wait is not None:
                return wait
        return self.take(key)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> float:
        """Spend one token of ``key``'s bucket: 0.0 when allowed, else the seconds until a
        token is back (the ``Retry-After``)."""
        if not self.enabled:
            return 0.0
        with self._lock:
            now = self.clock()
            bucket = self._buckets.pop(key, None) or _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_buckets:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate


def principal_key(principal: Principal) -> str:
    """A key's bucket is its own; a person's tokens share the user's bucket."""
    if principal.key_id is not None:
        return f"key:{principal.key_id}"
    return f"user:{principal.user_id}"


def retry_after(wait: float) -> str:
    """Whole seconds, rounded up (``Retry-After`` takes no fractions), at least 1."""
    return str(max(1, math.ceil(wait)))


async def limit_principal(conn: HTTPConnection, principal: Principal) -> None:
    """Spend a token of ``principal``'s bucket, or refuse with 429 (called by the auth
    dependency once it knows who is calling)."""
    limiter = getattr(conn.app.state, "rate_limiter", None)
    if not isinstance(limiter, RateLimiter) or not limiter.enabled:
        return
    wait = await limiter.spend(principal_key(principal))
    if wait:
        _count(conn.app.state, principal.kind)
        raise Problem(
            "rate-limited",
            f"{principal.username} made more than {limiter.burst} requests at "
            f"{limiter.rate:g} per second; retry in {retry_after(wait)} s",
            headers={"Retry-After": retry_after(wait)},
        )


class AddressLimit:
    """ASGI middleware: 429 for a client address past its bucket on :data:`ANONYMOUS_PATHS`
    (the token endpoint is where passwords would be guessed)."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, metrics: ApiMetrics) -> None:
        self.app = app
        self.limiter = limiter
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in ANONYMOUS_PATHS:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = await self.limiter.spend(f"address:{client[0] if client else 'unknown'}")
        if not wait:
            await self.app(scope, receive, send)
            return
        self.metrics.rate_limited.labels("address").inc()
        response = problem_response(
            "rate-limited",
            f"more than {self.limiter.burst} requests from this address at "
            f"{self.limiter.rate:g} per second; retry in {retry_after(wait)} s",
            instance=scope.get("path"),
            headers={"Retry-After": retry_after(wait)},
            request_id=str(scope.get("nt.request_id", "")),
        )
        await response(scope, receive, send)


def _count(state: object, kind: str) -> None:
    ctx = getattr(state, "ctx", None)
    metrics = getattr(ctx, "metrics", None)
    if isinstance(metrics, ApiMetrics):
        metrics.rate_limited.labels(kind).inc()
