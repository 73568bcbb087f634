"""WebSocket fan-out across two real API replicas on the loopback Redis: two ``neural-trader
serve`` processes on one SQLite database (replica A runs the paper session, replica B does
not trade), each with ``NT_REDIS__URL`` set and an account of the test's own (the Redis
channel is per account, so runs never see each other). An order sent to A reaches a socket
on B exactly once, in the same order and with the same payloads as a socket on A sees it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

pytestmark = pytest.mark.integration
PASSWORD = "a trading phrase 42"
COMMAND = "import typer; from neural_trader.cli.{module} import {name}; {call}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def python(module: str, name: str, call: str) -> list[str]:
    return [sys.executable, "-c", COMMAND.format(module=module, name=name, call=call)]


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a graceful stop), then SIGKILL if it does not end: never left running."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def fanout_of(base: str) -> dict[str, Any]:
    ready = httpx.get(f"{base}/health/ready", timeout=5)
    return dict(ready.json()["components"]["websocket"]["fanout"])


def wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until the replica answers ready and its fan-out is subscribed (events flow)."""
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            ready = httpx.get(f"{base}/health/ready", timeout=1)
            if ready.status_code == 200 and fanout_of(base)["status"] == "ok":
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{base} did not become ready: {log.read_text()}"
        time.sleep(0.1)


@pytest.fixture
def replicas(tmp_path: Path, redis_url: str) -> Iterator[tuple[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NT_")}
    env.update({
        "NT_DATABASE__URL": f"sqlite:///{tmp_path / 'nt.db'}",
        "NT_RUN__SYMBOLS": '["SPX"]',
        "NT_RUN__START": "2005-01-01",
        "NT_RUN__SPEED": "50",
        "NT_STRATEGIES__ENABLED": "[]",
        "NT_REDIS__URL": redis_url,
        "NT_API__ACCOUNT": f"fanout-{uuid.uuid4().hex[:12]}",
    })  # fmt: skip
    made = subprocess.run(
        [*python("users", "users_app", "users_app()"),
         "create", "tina", "--role", "trader", "--password-stdin"],
        env=env, input=PASSWORD + "\n", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    procs: list[subprocess.Popen[bytes]] = []
    bases = []
    try:
        # A first (it migrates the shared database), then B, which only serves.
        for name, extra in (("a", {}), ("b", {"NT_API__TRADING": "false"})):
            port = free_port()
            log = tmp_path / f"{name}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [*python("serve", "serve", "typer.run(serve)"),
                     "--host", "127.0.0.1", "--port", str(port)],
                    env={**env, **extra}, stdout=out, stderr=subprocess.STDOUT,
                )  # fmt: skip
            procs.append(proc)
            base = f"http://127.0.0.1:{port}"
            wait_ready(base, proc, log)
            bases.append(base)
        yield bases[0], bases[1]
    finally:
        for proc in procs:
            stop(proc)


def subscribed(stack: ExitStack, base: str, headers: dict[str, str]) -> ClientConnection:
    url = base.replace("http", "ws") + "/ws"
    ws = stack.enter_context(connect(url, additional_headers=headers, open_timeout=10))
    assert json.loads(ws.recv(timeout=10))["type"] == "welcome"
    ws.send(json.dumps({"op": "subscribe", "channels": ["orders", "fills"]}))
    for _ in range(2):
        assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
    return ws


def receive_until(
    ws: ClientConnection, events: list[dict[str, Any]], done: Callable[[], bool]
) -> None:
    deadline = time.monotonic() + 30
    while not done():
        msg = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if msg["type"] == "event":
            events.append(msg)


def wait_for_prices(base: str, auth: dict[str, str]) -> None:
    """Until the replay has priced SPX (an order needs a price to be valued)."""
    for _ in range(300):
        book = httpx.get(f"{base}/api/v1/portfolio", headers=auth, timeout=5).json()
        if book["session"]["data_time"]:
            return
        time.sleep(0.05)
    raise AssertionError(f"{base}: the paper session produced no data")


def filled(events: list[dict[str, Any]], order_id: str) -> bool:
    return any(e["channel"] == "fills" and e["data"]["order_id"] == order_id for e in events)


def test_an_order_on_replica_a_reaches_a_socket_on_replica_b_exactly_once(
    replicas: tuple[str, str],
) -> None:
    a, b = replicas
    login = {"grant_type": "password", "username": "tina", "password": PASSWORD}
    r = httpx.post(f"{a}/api/v1/auth/token", data=login, timeout=10)
    assert r.status_code == 200, r.text
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    wait_for_prices(a, auth)
    seen: dict[str, list[dict[str, Any]]] = {a: [], b: []}
    with ExitStack() as stack:
        sockets = {base: subscribed(stack, base, auth) for base in (a, b)}  # one token: both
        order_ids = []
        # The second order is a barrier: Redis delivers one publisher's messages in order,
        # so a repeat of the first order's events would have arrived before the second fill.
        for quantity in ("4", "1"):
            r = httpx.post(f"{a}/api/v1/orders", headers=auth, timeout=10,
                           json={"symbol": "SPX", "side": "buy", "quantity": quantity})  # fmt: skip
            assert r.status_code == 201, r.text
            oid = r.json()["id"]
            order_ids.append(oid)
            for base, ws in sockets.items():
                receive_until(ws, seen[base], lambda: filled(seen[base], oid))  # noqa: B023
    on_a, on_b = seen[a], seen[b]
    assert [(e["channel"], e["data"]) for e in on_b] == [(e["channel"], e["data"]) for e in on_a]
    per_order = Counter((e["data"]["order"]["id"], e["data"]["event"])
                        for e in on_b if e["channel"] == "orders")  # fmt: skip
    assert {(oid, "filled") for oid in order_ids} <= set(per_order)
    assert set(per_order.values()) == {1}, per_order  # every order event once
    fills = [e["data"]["id"] for e in on_b if e["channel"] == "fills"]
    assert len(fills) == len(set(fills)) == 2
    for channel in ("orders", "fills"):  # B numbers what it delivers: 1, 2, 3, ... no repeats
        seqs = [e["seq"] for e in on_b if e["channel"] == channel]
        assert seqs == list(range(1, len(seqs) + 1))
    fan_a, fan_b = fanout_of(a), fanout_of(b)
    assert fan_a["replica"] != fan_b["replica"] and fan_a["channel"] == fan_b["channel"]
    assert fan_b["received"] >= len(on_b) and fan_b["malformed"] == fan_b["duplicates"] == 0
    assert fan_a["echoes"] >= len(on_a) and fan_a["published"] >= len(on_a)
