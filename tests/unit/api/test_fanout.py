"""The Redis fan-out against the real Redis on loopback, each test on a channel of its own:
two hubs (two replicas in one process) see each other's events exactly once, number them per
replica and resume from their own window; malformed, repeated and out-of-order messages are
dropped or counted; without Redis a replica serves its own clients and says so in its health;
a killed connection comes back; closing shares what is queued and ends every task."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from apitest_support import FAST_HASHER, api_settings
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from neural_trader.api import create_app
from neural_trader.api.fanout import RedisFanout, redis_channel
from neural_trader.api.hub import Hub
from neural_trader.errors import ConfigError
from neural_trader.security import ROLE_PERMISSIONS, Principal, Role

ALICE = Principal(1, "alice", Role.VIEWER, ROLE_PERMISSIONS[Role.VIEWER], "password")


class Collecting:
    """A client that reads everything at once."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def send(self, text: str) -> None:
        self.messages.append(json.loads(text))

    async def close(self, code: int, reason: str) -> None:
        self.messages.append({"type": "closed", "code": code})

    def events(self, channel: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == "event" and m["channel"] == channel]


async def until(done: Callable[[], bool], seconds: float = 10) -> None:
    """Poll ``done`` until it holds; a bounded wait, never a timing assertion."""
    async with asyncio.timeout(seconds):
        while not done():
            await asyncio.sleep(0.01)


Replica = tuple[Hub, RedisFanout]
Start = Callable[..., Awaitable[Replica]]


@pytest.fixture
async def replicas(redis_url: str) -> AsyncIterator[Start]:
    """Start hubs on one fresh channel; every one is closed (all its tasks ended) after."""
    channel = f"nt:test:{uuid.uuid4().hex}"
    started: list[Replica] = []

    async def start(url: str = redis_url, connected: bool = True) -> Replica:
        fanout = RedisFanout(url, channel, timeout=1.0, poll_seconds=0.2, backoff_cap=0.5)
        hub = Hub(fanout, queue_size=1000)
        started.append((hub, fanout))
        await hub.start()
        if connected:
            await until(lambda: fanout.status()["status"] == "ok")
        return hub, fanout

    try:
        yield start
    finally:
        for hub, _ in started:
            await hub.close()


def client_of(hub: Hub, *channels: str) -> Collecting:
    sink = Collecting()
    client = hub.register(sink, ALICE)
    for channel in channels:
        hub.subscribe(client, channel)
    return sink


async def raw_publish(url: str, channel: str, *payloads: bytes | str) -> None:
    async with aioredis.Redis.from_url(url, socket_timeout=2) as r, asyncio.timeout(5):
        for payload in payloads:
            await r.publish(channel, payload)


def envelope(replica: str, n: int, channel: str, data: dict[str, Any]) -> str:
    return json.dumps({"v": 1, "replica": replica, "n": n, "channel": channel, "data": data})


async def test_an_event_reaches_every_replica_exactly_once(replicas: Start) -> None:
    (hub_a, fan_a), (hub_b, fan_b) = await replicas(), await replicas()
    a, b = client_of(hub_a, "orders", "fills"), client_of(hub_b, "orders", "fills")
    for i in range(3):
        hub_a.publish("orders", {"i": i})
    hub_b.publish("fills", {"from": "b"})
    hub_a.publish("fills", {"from": "a"})
    # Each replica has had its own events back (and skipped them) and the other's delivered.
    await until(lambda: fan_a.stats.echoes == 4 and fan_b.stats.echoes == 1)
    await until(lambda: fan_b.stats.received == 4 and fan_a.stats.received == 1)
    await until(lambda: len(a.events("fills")) == 2 and len(b.events("fills")) == 2)
    for sink in (a, b):
        assert [m["data"]["i"] for m in sink.events("orders")] == [0, 1, 2]
        assert [m["seq"] for m in sink.events("orders")] == [1, 2, 3]
        fills = sink.events("fills")
        assert sorted(m["data"]["from"] for m in fills) == ["a", "b"]
        assert [m["seq"] for m in fills] == [1, 2]  # numbered by the replica that delivers
    assert fan_a.stats.published == 4 and fan_b.stats.published == 1
    assert fan_a.stats.duplicates == fan_b.stats.duplicates == fan_a.stats.malformed == 0
    # A client back on B resumes from B's numbers, which cover A's events too, and is told so.
    again = Collecting()
    reply = hub_b.subscribe(hub_b.register(again, ALICE), "orders", since=1)
    assert reply["replica"] == fan_b.replica != fan_a.replica
    assert reply["seq"] == 3 and reply["replayed"] == 2 and reply["complete"] is True
    await until(lambda: len(again.events("orders")) == 2)
    assert [m["data"]["i"] for m in again.events("orders")] == [1, 2]


async def test_malformed_messages_are_logged_and_dropped(replicas: Start, redis_url: str) -> None:
    hub, fanout = await replicas()
    sink = client_of(hub, "orders")
    good = envelope("other", 1, "orders", {"ok": True})
    bad = [
        b"not json",
        b"\xff\xfe",
        b"[]",
        envelope("other", 1, "orders", {}).replace("{}", '{"x": NaN}'),
        b'{"v": 1}',
        envelope("other", 1, "orders", {}).replace('"v": 1', '"v": 2'),
        envelope("other", 1, "Bad Channel!", {}),
        envelope("", 1, "orders", {}),
        envelope("other", 0, "orders", {}),
        envelope("other", 1, "orders", {}).replace('"n": 1', '"n": "1"'),
        json.dumps({"v": 1, "replica": "other", "n": 1, "channel": "orders", "data": [1]}),
        json.dumps(
            {"v": 1, "replica": "other", "n": 1, "channel": "orders", "data": {}, "extra": 1}
        ),
    ]
    with capture_logs() as logs:
        await raw_publish(redis_url, fanout.channel, *bad, good)
        await until(lambda: len(sink.events("orders")) == 1)
    assert sink.events("orders")[0]["data"] == {"ok": True}
    assert fanout.stats.malformed == len(bad) and fanout.stats.received == 1
    dropped = [e for e in logs if e["event"] == "dropping a malformed fan-out message"]
    assert len(dropped) == len(bad) and all(e["log_level"] == "warning" for e in dropped)
    assert any("replica" in e["error"] for e in dropped)  # says which field was wrong
    assert fanout.status()["status"] == "ok"


async def test_a_repeated_number_is_dropped_and_a_gap_counted(
    replicas: Start, redis_url: str
) -> None:
    hub, fanout = await replicas()
    sink = client_of(hub, "risk")
    sent = [envelope("other", n, "risk", {"n": n}) for n in (1, 1, 2, 5)]
    await raw_publish(redis_url, fanout.channel, *sent, envelope("third", 7, "risk", {"n": 7}))
    await until(lambda: len(sink.events("risk")) == 4)
    assert [m["data"]["n"] for m in sink.events("risk")] == [1, 2, 5, 7]
    assert fanout.stats.duplicates == 1 and fanout.stats.missed == 2  # 3 and 4 never came


async def test_without_redis_a_replica_serves_its_own_clients(replicas: Start) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"redis://127.0.0.1:{s.getsockname()[1]}/0"
    with capture_logs() as logs:
        hub, fanout = await replicas(closed, connected=False)
        sink = client_of(hub, "orders")
        hub.publish("orders", {"i": 1})
        await until(lambda: len(sink.events("orders")) == 1)
        await until(lambda: "publish" in fanout.status().get("error", ""))
    status = fanout.status()
    assert status["status"] == "degraded" and "subscribe" in status["error"]
    assert status["outbox"] == 1 and status["published"] == 0  # kept for when Redis is back
    assert sink.events("orders")[0]["seq"] == 1
    lost = [e for e in logs if e["event"].startswith("redis fan-out unavailable")]
    assert {e["part"] for e in lost} == {"subscribe", "publish"}  # once each, not per retry
    assert len(lost) == 2
    await hub.close()
    assert fanout.status()["status"] == "stopped"
    assert all(task.done() for task in fanout._tasks)


async def test_a_killed_connection_comes_back(replicas: Start, redis_url: str) -> None:
    (hub_a, _), (hub_b, fan_b) = await replicas(), await replicas()
    sink = client_of(hub_b, "orders")
    admin = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        mine = [c for c in admin.client_list() if c["name"] == f"nt-fanout-{fan_b.replica}"]
        assert mine
        for conn in mine:
            admin.client_kill_filter(_id=conn["id"])
    finally:
        admin.close()
    await until(lambda: fan_b.stats.reconnects >= 1 and fan_b.status()["status"] == "ok")
    hub_a.publish("orders", {"after": "reconnect"})
    await until(lambda: len(sink.events("orders")) == 1)
    assert sink.events("orders")[0]["data"] == {"after": "reconnect"}


async def test_close_shares_what_is_queued_and_ends_every_task(replicas: Start) -> None:
    (hub_a, fan_a), (hub_b, _) = await replicas(), await replicas()
    sink = client_of(hub_b, "jobs")
    hub_a.publish("jobs", {"last": "words"})
    await hub_a.close()  # right away: the event is still in the outbox
    assert all(task.done() for task in fan_a._tasks) and fan_a.status()["status"] == "stopped"
    await until(lambda: len(sink.events("jobs")) == 1)
    hub_a.publish("jobs", {"after": "close"})  # nobody listens any more: ignored, no error
    assert fan_a.stats.published == 1 and fan_a.status()["outbox"] == 0


async def test_one_process_has_no_replica_and_a_bad_url_fails_at_once() -> None:
    hub = Hub()
    assert hub.backend.status()["status"] == "disabled"
    assert "replica" not in hub.subscribe(hub.register(Collecting(), ALICE), "orders")
    await hub.close()
    with pytest.raises(ConfigError, match=r"redis\.url is not a usable Redis URL: Port"):
        RedisFanout("redis://127.0.0.1:notaport/0", "nt:test")


def test_the_health_shows_a_redis_outage_and_stays_ready(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"redis://127.0.0.1:{s.getsockname()[1]}/0"
    settings = api_settings(f"sqlite:///{tmp_path / 'nt.db'}", **{"redis.url": closed})
    app = create_app(settings, hasher=FAST_HASHER)
    with TestClient(app) as client:
        fanout = app.state.ctx.hub.backend
        assert isinstance(fanout, RedisFanout) and fanout.channel == redis_channel("paper")
        for _ in range(500):
            ready = client.get("/health/ready")
            if ready.json()["components"]["websocket"]["fanout"]["status"] == "degraded":
                break
            time.sleep(0.01)
        socket_health = ready.json()["components"]["websocket"]
        assert ready.status_code == 200 and socket_health["status"] == "ok"
        assert socket_health["fanout"]["status"] == "degraded"
        assert "subscribe" in socket_health["fanout"]["error"]
    assert all(task.done() for task in fanout._tasks)
