"""WebSocket events shared between API replicas through Redis pub/sub.

Each replica delivers what it publishes to its own clients at once (numbered by its hub, as
in one process) and also hands it to Redis, tagged with its replica id and its own running
message number. What the subscription brings back is delivered to this replica's clients
unless it carries this replica's id (its own echo, already delivered), so every client of
every replica gets each event exactly once. Delivering our own events locally rather than
from the subscription keeps them flowing, with no Redis round trip, when Redis is down.

Sequence numbers stay per replica: each hub numbers every event it delivers, its own and
those of others, per channel in the order it delivered them, so a client that reconnects to
the same replica resumes exactly (its replay window holds both kinds). The ``subscribed``
reply names the replica: a client that lands on another replica, or on a restarted one (a
new id), subscribes afresh instead of resuming by number.

A Redis outage is logged once, shows as ``degraded`` in ``/health/ready`` (under the
websocket component, which stays ``ok``: the replica still serves its own clients), and both
connections retry with jittered exponential backoff. Events published meanwhile wait in a
bounded outbox and are shared once Redis is back; receivers drop a message number they have
already seen from that replica, so a publish retried after an unclear failure is not
delivered twice. Every message received is validated; a malformed one is logged and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff

from neural_trader.api.hub import LocalBackend
from neural_trader.config import Settings
from neural_trader.errors import ConfigError

log = structlog.get_logger("neural_trader.api")
CHANNEL_PATTERN = r"^[a-z]+(:[A-Za-z0-9._/^=-]{1,64})?$"
SEEN_REPLICAS = 1024  # origins remembered for duplicate detection (replicas ever seen)


class Envelope(BaseModel):
    """One event on the Redis channel, as every replica writes and checks it."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    v: Literal[1]
    replica: str = Field(min_length=1, max_length=64)
    n: int = Field(ge=1)
    channel: str = Field(pattern=CHANNEL_PATTERN)
    data: dict[str, Any]


@dataclass
class FanoutStats:
    published: int = 0  # our events written to Redis
    received: int = 0  # other replicas' events delivered here
    echoes: int = 0  # our own events back from Redis, skipped (delivered when published)
    duplicates: int = 0  # a message number seen before (a retried publish)
    missed: int = 0  # gaps in another replica's numbers (we were not subscribed)
    malformed: int = 0
    overflowed: int = 0  # our events dropped from a full outbox, never shared
    reconnects: int = 0


def redis_channel(account: str) -> str:
    """Replicas serving the same account share one Redis channel; others never mix."""
    return f"nt:ws:{account}"


def redis_fanout(settings: Settings, account: str) -> RedisFanout | None:
    """The fan-out the settings ask for (``redis.url``), or None for one process."""
    if settings.redis.url is None:
        return None
    return RedisFanout(settings.redis.url, redis_channel(account))


class RedisFanout:
    """A hub :class:`~neural_trader.api.hub.Backend` that shares events through Redis."""

    def __init__(
        self,
        url: str,
        channel: str,
        *,
        replica: str | None = None,
        outbox_size: int = 10_000,
        timeout: float = 2.0,
        poll_seconds: float = 1.0,
        backoff_base: float = 0.1,
        backoff_cap: float = 5.0,
    ) -> None:
        self.url = url
        self.channel = channel
        self.replica = replica or uuid.uuid4().hex[:12]
        self.timeout = timeout
        self.poll_seconds = poll_seconds
        self.stats = FanoutStats()
        self._local = LocalBackend()
        self._outbox: deque[tuple[int, str]] = deque(maxlen=outbox_size)
        self._n = 0
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._backoff = ExponentialWithJitterBackoff(cap=backoff_cap, base=backoff_base)
        try:  # parsed now, so a bad URL fails before the server binds its port
            self._redis = Redis.from_url(
                url,
                socket_connect_timeout=timeout,
                socket_timeout=timeout,
                retry=Retry(NoBackoff(), 0),  # our loops retry, so that an outage is seen
                health_check_interval=10,
                client_name=f"nt-fanout-{self.replica}",
            )
        except ValueError as exc:
            raise ConfigError(f"redis.url is not a usable Redis URL: {exc}") from exc
        self._tasks: list[asyncio.Task[None]] = []
        self._wake: asyncio.Event | None = None
        self._closed = False
        self._subscribed = False
        self._failing: dict[str, str] = {}  # "subscribe" / "publish": the last error
        self._changed = time.time()

    # -- the Backend calls --------------------------------------------------------------------
    def attach(self, deliver: Callable[[str, int, dict[str, Any]], None]) -> None:
        self._local.attach(deliver)

    def publish(self, channel: str, data: dict[str, Any]) -> None:
        """Deliver here at once, then queue for the other replicas (never waits on Redis)."""
        if self._closed:
            return
        self._local.publish(channel, data)
        self._n += 1
        text = json.dumps(
            {"v": 1, "replica": self.replica, "n": self._n, "channel": channel, "data": data},
            separators=(",", ":"),
            allow_nan=False,
            default=str,
        )
        if len(self._outbox) == self._outbox.maxlen:
            self.stats.overflowed += 1
            if self.stats.overflowed == 1 or self.stats.overflowed % 1000 == 0:
                log.warning("fan-out outbox full: oldest events are not shared",
                            dropped=self.stats.overflowed, channel=self.channel)  # fmt: skip
        self._outbox.append((self._n, text))
        if self._wake is not None:
            self._wake.set()

    async def start(self) -> None:
        """Connect lazily: the tasks retry until Redis answers, the hub serves meanwhile."""
        if self._tasks or self._closed:
            return
        self._wake = asyncio.Event()
        if self._outbox:
            self._wake.set()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._subscribe_loop(), name=f"fanout-subscribe-{self.replica}"),
            loop.create_task(self._publish_loop(), name=f"fanout-publish-{self.replica}"),
        ]

    async def close(self) -> None:
        """Share what is still queued (for at most ``timeout``), then end both tasks."""
        if self._closed:
            return
        self._closed = True
        await self._local.close()  # the hub has said goodbye to every client
        if self._tasks and self._outbox and "publish" not in self._failing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.timeout):
                    while self._outbox and "publish" not in self._failing:
                        await asyncio.sleep(0.01)
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(TimeoutError):  # a task's own cleanup is bounded by timeout
            async with asyncio.timeout(2 * self.timeout + 1):
                await asyncio.gather(*self._tasks, return_exceptions=True)
        if not all(task.done() for task in self._tasks):
            log.error("a fan-out task did not stop", channel=self.channel)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.timeout):
                await self._redis.aclose()
        self._subscribed = False
        self._changed = time.time()

    def status(self) -> dict[str, Any]:
        """For ``/health/ready``: ``ok``, ``degraded`` (with the error), ``connecting``
        (not yet subscribed, no error so far) or ``stopped``."""
        if self._closed:
            state = "stopped"
        elif self._failing:
            state = "degraded"
        elif self._subscribed:
            state = "ok"
        else:
            state = "connecting"
        report: dict[str, Any] = {
            "status": state,
            "replica": self.replica,
            "channel": self.channel,
            "since": self._changed,
            "outbox": len(self._outbox),
            **asdict(self.stats),
        }
        if state == "degraded":
            report["error"] = "; ".join(f"{k}: {v}" for k, v in sorted(self._failing.items()))
        return report

    # -- receiving ----------------------------------------------------------------------------
    async def _subscribe_loop(self) -> None:
        failures = 0
        while True:
            pubsub = self._redis.pubsub()
            try:
                await self._subscribe(pubsub)
                failures = 0
                while True:
                    async with asyncio.timeout(self.poll_seconds + self.timeout):
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=self.poll_seconds
                        )
                    if message is not None and message.get("type") == "message":
                        self.receive(message["data"])
            except Exception as exc:  # whatever broke, the subscription is retried
                failures += 1
                self._lost("subscribe", exc)
            finally:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(self.timeout):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(self._backoff.compute(failures))

    async def _subscribe(self, pubsub: PubSub) -> None:
        """Subscribe and wait for Redis to confirm: from then on nothing published is missed."""
        async with asyncio.timeout(self.timeout):
            await pubsub.subscribe(self.channel)
            while True:
                reply = await pubsub.get_message(timeout=self.timeout)
                if reply is not None and reply.get("type") == "subscribe":
                    break
        self._subscribed = True
        self._back("subscribe")

    def receive(self, raw: bytes | str) -> None:
        """One message from the channel: checked, own echoes and repeats skipped, delivered."""
        try:
            envelope = parse_envelope(raw)
        except ValueError as exc:  # bad JSON, bad UTF-8, NaN, or a field pydantic refused
            self.stats.malformed += 1
            log.warning("dropping a malformed fan-out message", channel=self.channel,
                        size=len(raw), error=_first_error(exc))  # fmt: skip
            return
        if envelope.replica == self.replica:
            self.stats.echoes += 1
            return
        last = self._seen.get(envelope.replica, 0)
        if envelope.n <= last:
            self.stats.duplicates += 1
            return
        if last and envelope.n > last + 1:
            self.stats.missed += envelope.n - last - 1
            log.warning("missed fan-out events from a replica", replica=envelope.replica,
                        missed=envelope.n - last - 1)  # fmt: skip
        self._seen[envelope.replica] = envelope.n
        self._seen.move_to_end(envelope.replica)
        while len(self._seen) > SEEN_REPLICAS:
            self._seen.popitem(last=False)
        self.stats.received += 1
        try:
            self._local.publish(envelope.channel, envelope.data)
        except Exception as exc:  # a delivery failure must not end the subscription
            log.error("delivering a fan-out event failed", channel=envelope.channel,
                      error=str(exc))  # fmt: skip

    # -- sending ------------------------------------------------------------------------------
    async def _publish_loop(self) -> None:
        assert self._wake is not None
        failures = 0
        while True:
            if not self._outbox:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):  # bounded, like every wait here
                    async with asyncio.timeout(self.poll_seconds):
                        await self._wake.wait()
                continue
            n, text = self._outbox[0]
            try:
                async with asyncio.timeout(self.timeout):
                    await self._redis.publish(self.channel, text)
            except Exception as exc:  # kept in the outbox and retried
                failures += 1
                self._lost("publish", exc)
                await asyncio.sleep(self._backoff.compute(failures))
                continue
            if failures:
                self._back("publish")
            failures = 0
            self.stats.published += 1
            if self._outbox and self._outbox[0][0] == n:  # unless it overflowed meanwhile
                self._outbox.popleft()

    # -- state --------------------------------------------------------------------------------
    def _lost(self, part: str, exc: BaseException) -> None:
        """Log the first failure of ``part`` (then only at debug until it recovers)."""
        error = _describe(exc)
        if part == "subscribe":
            self._subscribed = False
        if part not in self._failing:
            log.warning("redis fan-out unavailable: serving this replica's clients only",
                        channel=self.channel, part=part, error=error)  # fmt: skip
            self._changed = time.time()
        else:
            log.debug("redis fan-out still unavailable", part=part, error=error)
        self._failing[part] = error

    def _back(self, part: str) -> None:
        if self._failing.pop(part, None) is not None:
            log.info("redis fan-out back", channel=self.channel, part=part)
            if part == "subscribe":
                self.stats.reconnects += 1
        self._changed = time.time()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def parse_envelope(raw: bytes | str) -> Envelope:
    """Strict JSON (no NaN or Infinity, which no client could decode) in the Envelope shape."""
    return Envelope.model_validate(json.loads(raw, parse_constant=_no_constant))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _first_error(exc: ValueError) -> str:
    if not isinstance(exc, ValidationError):
        return str(exc)
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "message"
    return f"{where}: {first['msg']} ({exc.error_count()} error(s))"
