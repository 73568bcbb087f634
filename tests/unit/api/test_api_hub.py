"""The WebSocket hub with in-memory transports: fan-out with per-channel sequence numbers, a
stuck client dropped without holding back the others, resume after a reconnect, and
publishing from a worker thread."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from neural_trader.api.hub import SLOW_CONSUMER, Hub
from neural_trader.security import ROLE_PERMISSIONS, Principal, Role

ALICE = Principal(1, "alice", Role.VIEWER, ROLE_PERMISSIONS[Role.VIEWER], "password")


class Collecting:
    """A client that reads everything at once."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None

    async def send(self, text: str) -> None:
        self.messages.append(json.loads(text))

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def events(self, channel: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == "event" and m["channel"] == channel]


class Stuck(Collecting):
    """A client whose socket never drains: every send blocks forever."""

    async def send(self, text: str) -> None:
        await asyncio.Event().wait()


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_fan_out_numbers_each_channel_separately() -> None:
    hub = Hub(queue_size=100)
    a, b = Collecting(), Collecting()
    ca, cb = hub.register(a, ALICE), hub.register(b, ALICE)
    hub.subscribe(ca, "orders")
    hub.subscribe(cb, "orders")
    hub.subscribe(cb, "fills")
    for i in range(3):
        hub.publish("orders", {"i": i})
    hub.publish("fills", {"f": 1})
    await settle()
    assert [m["seq"] for m in a.events("orders")] == [1, 2, 3]
    assert [m["data"]["i"] for m in b.events("orders")] == [0, 1, 2]
    assert [m["seq"] for m in b.events("fills")] == [1]
    assert a.events("fills") == []
    hub.unsubscribe(cb, "orders")
    hub.publish("orders", {"i": 3})
    await settle()
    assert len(a.events("orders")) == 4 and len(b.events("orders")) == 3


async def test_a_stuck_client_is_told_and_dropped_while_others_get_everything() -> None:
    hub = Hub(queue_size=10)
    fast, stuck = Collecting(), Stuck()
    cf, cs = hub.register(fast, ALICE), hub.register(stuck, ALICE)
    hub.subscribe(cf, "bars:SPX")
    hub.subscribe(cs, "bars:SPX")
    for i in range(500):
        hub.publish("bars:SPX", {"i": i})
        if i % 5 == 4:  # the loop runs between bursts, as between replayed bars
            await settle()
    await settle()
    assert [m["data"]["i"] for m in fast.events("bars:SPX")] == list(range(500))
    assert cs.dropped and hub.clients == 1 and not hub.has_subscribers("nothing")
    await asyncio.sleep(1.2)  # the notice times out on the stuck socket, then it is closed
    assert stuck.closed == (SLOW_CONSUMER, "slow consumer")


async def test_a_reconnecting_client_resumes_after_its_last_sequence_number() -> None:
    hub = Hub(queue_size=100, replay_size=5)
    for i in range(8):
        hub.publish("orders", {"i": i})
    again = Collecting()
    client = hub.register(again, ALICE)
    reply = hub.subscribe(client, "orders", since=5)
    assert reply == {"type": "subscribed", "channel": "orders", "seq": 8, "replayed": 3,
                     "complete": True}  # fmt: skip
    late = Collecting()
    reply = hub.subscribe(hub.register(late, ALICE), "orders", since=1)
    assert reply["complete"] is False and reply["replayed"] == 5  # seq 2 and 3 are gone
    await settle()
    assert [m["seq"] for m in again.events("orders")] == [6, 7, 8]
    assert again.messages[0]["type"] == "subscribed"


async def test_publishing_from_another_thread_goes_through_the_loop() -> None:
    hub = Hub()
    sink = Collecting()
    hub.subscribe(hub.register(sink, ALICE), "jobs")
    seen: list[int] = []

    def worker() -> None:
        seen.append(threading.get_ident())
        for i in range(5):
            hub.publish("jobs", {"i": i})

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    await settle()
    assert seen[0] != threading.get_ident()
    assert [m["seq"] for m in sink.events("jobs")] == [1, 2, 3, 4, 5]


async def test_close_says_goodbye_to_everyone() -> None:
    hub = Hub()
    a = Collecting()
    hub.register(a, ALICE)
    await hub.close()
    assert a.closed == (1001, "server shutting down")
    assert a.messages[-1]["type"] == "bye" and hub.clients == 0
