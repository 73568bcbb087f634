"""Rate limits shared across replicas on the loopback Redis: two limiters (two API processes'
worth) spend one bucket per key, so a key gets ``burst`` requests across both, not ``burst``
each; the refill follows the token-bucket arithmetic; and with Redis unreachable each falls
back to its own bucket instead of failing or stalling the request."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from neural_trader.api.ratelimit import RateLimiter
from neural_trader.api.shared_limits import RedisBuckets

pytestmark = pytest.mark.integration


def test_two_replicas_share_one_bucket_per_key(redis_url: str) -> None:
    async def run() -> None:
        prefix = f"nt:test:{uuid.uuid4().hex}:"  # a bucket space of this test's own
        a_shared, b_shared = RedisBuckets(redis_url, prefix), RedisBuckets(redis_url, prefix)
        a = RateLimiter(1.0, 5, shared=a_shared)
        b = RateLimiter(1.0, 5, shared=b_shared)
        try:
            waits = [await (a if i % 2 else b).spend("key:1") for i in range(5)]
            assert waits == [0.0] * 5  # the burst, spent alternately by the two replicas
            refused = await a.spend("key:1")
            # Empty: the next token is back in (1 - tokens) / rate seconds, at most 1 s.
            assert 0 < refused <= 1.0
            assert await b.spend("key:2") == 0.0  # another key has its own bucket
            await asyncio.sleep(refused + 0.05)
            assert await b.spend("key:1") == 0.0  # refilled at 1 per second
            assert await a.spend("key:1") > 0  # and spent: empty again for most of a second
            # Each alone would have allowed its own burst of 5: local buckets are untouched.
            assert a.take("key:1") == 0.0 and b.take("key:1") == 0.0
        finally:
            await a_shared.close()
            await b_shared.close()

    asyncio.run(run())


def test_without_redis_a_replica_falls_back_to_its_own_bucket_quickly() -> None:
    async def run() -> None:
        gone = RedisBuckets("redis://127.0.0.1:1/0", timeout=0.25, pause=60)
        limiter = RateLimiter(1.0, 3, shared=gone)
        try:
            started = time.monotonic()
            waits = [await limiter.spend("key:1") for _ in range(4)]
            assert waits[:3] == [0.0] * 3 and waits[3] > 0  # the local bucket's arithmetic
            assert time.monotonic() - started < 2  # one failed try, then no more waiting
        finally:
            await gone.close()

    asyncio.run(run())
