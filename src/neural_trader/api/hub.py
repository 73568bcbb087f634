"""The WebSocket hub: channels, per-channel sequence numbers, a bounded send queue per client.

Publishing never waits on a client. Each message is encoded once and offered to every
subscriber's queue; a client whose queue is full is a slow consumer: it gets one notice (with
a short timeout, on its own task) and is closed, while everyone else carries on.

Sequence numbers are per channel and come from the :class:`Backend`, together with delivery:
the in-process :class:`LocalBackend` numbers and delivers at once; the Redis fan-out across
replicas (:mod:`neural_trader.api.fanout`) numbers the same way, per replica, and also
delivers what other replicas published. The hub keeps the last ``replay_size`` messages of each
channel so a client that reconnects can resume after the last sequence number it saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from neural_trader.api.encoding import json_text
from neural_trader.api.metrics import ApiMetrics
from neural_trader.security import Principal

log = structlog.get_logger("neural_trader.api")
SLOW_CONSUMER = 4008
NOTICE_TIMEOUT_S = 1.0


class Transport(Protocol):
    """One client's connection (a Starlette WebSocket in the server)."""

    async def send(self, text: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class Backend(Protocol):
    """Numbers and delivers messages; ``deliver`` is called on the hub's event loop.
    ``replica`` names whose sequence numbers these are when several replicas share events
    (see :mod:`neural_trader.api.fanout`), None in one process."""

    @property
    def replica(self) -> str | None: ...

    def attach(self, deliver: Callable[[str, int, dict[str, Any]], None]) -> None: ...

    def publish(self, channel: str, data: dict[str, Any]) -> None: ...

    async def start(self) -> None: ...

    def status(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class LocalBackend:
    """One process: consecutive numbers per channel, delivered immediately."""

    replica: str | None = None

    def __init__(self) -> None:
        self._deliver: Callable[[str, int, dict[str, Any]], None] | None = None
        self._seq: dict[str, int] = {}

    def attach(self, deliver: Callable[[str, int, dict[str, Any]], None]) -> None:
        self._deliver = deliver

    def publish(self, channel: str, data: dict[str, Any]) -> None:
        seq = self._seq[channel] = self._seq.get(channel, 0) + 1
        if self._deliver is not None:
            self._deliver(channel, seq, data)

    async def start(self) -> None:
        """Nothing to connect: delivery is a call in this process."""

    def status(self) -> dict[str, Any]:
        return {"status": "disabled", "detail": "one process (redis.url is not set)"}

    async def close(self) -> None:
        self._deliver = None


@dataclass(eq=False)
class Client:
    id: int
    principal: Principal
    transport: Transport
    queue: asyncio.Queue[str]
    channels: set[str] = field(default_factory=set)
    dropped: bool = False
    sender: asyncio.Task[None] | None = None

    def offer(self, text: str) -> bool:
        """Queue ``text``; False when the queue is full (the client is too slow)."""
        if self.dropped:
            return True
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True


class Hub:
    def __init__(
        self,
        backend: Backend | None = None,
        queue_size: int = 1024,
        replay_size: int = 1000,
        metrics: ApiMetrics | None = None,
    ) -> None:
        self.backend = backend or LocalBackend()
        self.backend.attach(self._deliver)
        self.queue_size = queue_size
        self.replay_size = replay_size
        self.metrics = metrics
        self._clients: dict[int, Client] = {}
        self._subscribers: dict[str, set[Client]] = {}
        self._recent: dict[str, deque[tuple[int, str]]] = {}
        self._last_seq: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._closers: set[asyncio.Task[None]] = set()

    # -- clients ------------------------------------------------------------------------------
    def register(self, transport: Transport, principal: Principal) -> Client:
        """A new client with its sender task; must be called on the event loop."""
        self.bind_loop()
        client = Client(next(self._ids), principal, transport, asyncio.Queue(self.queue_size))
        client.sender = asyncio.get_running_loop().create_task(self._send_loop(client))
        self._clients[client.id] = client
        if self.metrics is not None:
            self.metrics.ws_clients.set(len(self._clients))
        return client

    def unregister(self, client: Client) -> None:
        for channel in client.channels:
            self._subscribers.get(channel, set()).discard(client)
        client.channels.clear()
        if self._clients.pop(client.id, None) is not None and self.metrics is not None:
            self.metrics.ws_clients.set(len(self._clients))
        if client.sender is not None and client.sender is not asyncio.current_task():
            client.sender.cancel()

    def send(self, client: Client, message: dict[str, Any]) -> None:
        """A message for one client (replies, heartbeats), through its queue like any other."""
        if not client.offer(_encode(message)):
            self._drop(client)

    @property
    def clients(self) -> int:
        return len(self._clients)

    # -- channels -----------------------------------------------------------------------------
    def subscribe(self, client: Client, channel: str, since: int | None = None) -> dict[str, Any]:
        """Subscribe, confirm (``subscribed`` with the channel's last sequence number) and,
        with ``since``, resend what the client missed after that number; ``complete`` is
        False when the replay window no longer holds all of it."""
        recent = self._recent.get(channel, deque())
        last = self._last_seq.get(channel, 0)
        missed = [] if since is None else [text for seq, text in recent if seq > since]
        oldest = recent[0][0] if recent else last + 1
        complete = since is None or since >= last or oldest <= since + 1
        client.channels.add(channel)
        self._subscribers.setdefault(channel, set()).add(client)
        reply = {
            "type": "subscribed",
            "channel": channel,
            "seq": last,
            "replayed": len(missed),
            "complete": complete,
        }
        if self.backend.replica is not None:  # numbers are this replica's: resume only here
            reply["replica"] = self.backend.replica
        for text in (_encode(reply), *missed):
            if not client.offer(text):
                self._drop(client)
                break
        return reply

    def unsubscribe(self, client: Client, channel: str) -> None:
        client.channels.discard(channel)
        self._subscribers.get(channel, set()).discard(client)

    def has_subscribers(self, channel: str) -> bool:
        return bool(self._subscribers.get(channel))

    # -- publishing ---------------------------------------------------------------------------
    async def start(self) -> None:
        """On the serving loop: bind it and start the backend (Redis fan-out connects)."""
        self.bind_loop()
        await self.backend.start()

    def bind_loop(self) -> None:
        """Remember the running loop, so publishers on other threads can hand messages to it."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._loop_thread = threading.get_ident()

    def publish(self, channel: str, data: dict[str, Any]) -> None:
        """From the event loop: number, keep and fan out. From another thread (a job worker):
        handed over to the loop first, so the hub's state is only touched by the loop."""
        loop = self._loop
        if loop is not None and threading.get_ident() != self._loop_thread:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
                loop.call_soon_threadsafe(self.backend.publish, channel, data)
            return
        self.backend.publish(channel, data)

    def _deliver(self, channel: str, seq: int, data: dict[str, Any]) -> None:
        text = _encode({"type": "event", "channel": channel, "seq": seq, "data": data})
        self._last_seq[channel] = seq
        if self.replay_size:
            recent = self._recent.get(channel)
            if recent is None:
                recent = self._recent[channel] = deque(maxlen=self.replay_size)
            recent.append((seq, text))
        for client in tuple(self._subscribers.get(channel, ())):
            if not client.offer(text):
                self._drop(client)

    # -- slow clients and shutdown ------------------------------------------------------------
    def _drop(self, client: Client) -> None:
        if client.dropped:
            return
        if self.metrics is not None:
            self.metrics.ws_dropped.inc()
        log.warning(
            "dropping slow websocket client", client=client.id, user=client.principal.username
        )
        detail = f"more than {self.queue_size} messages waiting: disconnecting"
        self.disconnect(client, SLOW_CONSUMER, "slow_consumer", detail)

    def disconnect(self, client: Client, code: int, error: str, detail: str) -> None:
        """Tell ``client`` why (an error message) and close its socket with ``code``."""
        if client.dropped:
            return
        client.dropped = True
        self.unregister(client)
        notice = {"type": "error", "error": error, "detail": detail}
        task = asyncio.get_running_loop().create_task(
            self._close(client, code, error.replace("_", " "), notice)
        )
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    async def _close(
        self, client: Client, code: int, reason: str, notice: dict[str, Any] | None
    ) -> None:
        # The peer may be gone or stuck: never wait long (asyncio.timeout rather than wait_for,
        # which on Python 3.11 can drop a cancellation of the closer).
        with contextlib.suppress(Exception):
            if notice is not None:
                async with asyncio.timeout(NOTICE_TIMEOUT_S):
                    await client.transport.send(_encode(notice))
        with contextlib.suppress(Exception):
            async with asyncio.timeout(NOTICE_TIMEOUT_S):
                await client.transport.close(code, reason)

    async def _send_loop(self, client: Client) -> None:
        try:
            while True:
                text = await client.queue.get()
                await client.transport.send(text)
        except asyncio.CancelledError:
            raise
        except Exception:  # the connection broke: the receive side will unregister it
            client.dropped = True

    async def close(self, code: int = 1001, reason: str = "server shutting down") -> None:
        """Tell every client goodbye (going away) and stop; waits at most a second each."""
        clients = list(self._clients.values())
        for client in clients:
            self.unregister(client)
        notice = {"type": "bye", "reason": reason}
        await asyncio.gather(*(self._close(c, code, reason, notice) for c in clients))
        await self.backend.close()


def heartbeat(seconds: float) -> dict[str, Any]:
    return {"type": "heartbeat", "ts": time.time_ns(), "interval": seconds}


def _encode(message: dict[str, Any]) -> str:
    return json_text(message)
