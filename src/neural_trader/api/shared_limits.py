"""Rate-limit buckets shared by every replica through Redis (``NT_REDIS__URL``): one API key
gets ``burst`` requests and ``rate`` per second across the whole deployment, not per process.

The bucket is updated by one Lua script, atomically, on Redis's own clock (replicas' clocks
need not agree). When Redis cannot be reached the limiter falls back to its in-process
buckets for a few seconds and tries again; a request is never failed or held up long because
the limit's store is down.
"""

from __future__ import annotations

import time

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

log = structlog.get_logger("neural_trader.api")

# KEYS[1] the bucket; ARGV rate (tokens per second) and burst. Returns the seconds until a
# token is back, as text (Redis truncates Lua numbers to integers), "0" when one was spent.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisBuckets:
    def __init__(
        self, url: str, prefix: str = "nt:ratelimit:", timeout: float = 0.25, pause: float = 5.0
    ) -> None:
        self.prefix = prefix
        self.pause = pause
        self._redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        self._script = self._redis.register_script(_TAKE)
        self._down_until = 0.0

    async def take(self, key: str, rate: float, burst: int) -> float | None:
        """Spend a token of the shared bucket ``key``: 0.0 when allowed, else the seconds
        until one is back; None while Redis is unreachable (use the local bucket)."""
        if time.monotonic() < self._down_until:
            return None
        try:
            wait = await self._script(keys=[self.prefix + key], args=[rate, burst])
        except (RedisError, OSError) as exc:
            self._down_until = time.monotonic() + self.pause
            log.warning(
                "rate limits fall back to this process: Redis is unreachable",
                error=str(exc), retry_in_s=self.pause,
            )  # fmt: skip
            return None
        return float(wait)

    async def close(self) -> None:
        await self._redis.aclose()
