"""The API end to end: ``neural-trader serve`` under uvicorn in a subprocess on a free port,
users made with ``neural-trader users create``, then over real HTTP and WebSocket a trader's
order is filled (seen on the socket and in the portfolio), a viewer is refused with 403,
tampered and expired tokens get 401, SIGTERM stops the server cleanly, no secret is in its
output, and the audit chain it wrote verifies."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from neural_trader.storage import Store
from neural_trader.storage.audit import AuditLog

PASSWORDS = {"tina": "a trading phrase 42", "vic": "a viewing phrase 17"}
COMMAND = "import typer; from neural_trader.cli.{module} import {name}; {call}"


def cli(module: str, name: str, call: str, args: list[str], env: dict[str, str],
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    code = COMMAND.format(module=module, name=name, call=call)
    return subprocess.run([sys.executable, "-c", code, *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("NT_")}
    e.update({
        "NT_DATABASE__URL": f"sqlite:///{tmp_path / 'nt.db'}",
        "NT_RUN__SYMBOLS": '["SPX"]',
        "NT_RUN__START": "2005-01-01",
        "NT_RUN__SPEED": "50",
        "NT_STRATEGIES__ENABLED": "[]",
    })  # fmt: skip
    return e


@pytest.fixture
def server(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    for user, role in (("tina", "trader"), ("vic", "viewer")):
        made = cli(
            "users",
            "users_app",
            "users_app()",
            ["create", user, "--role", role, "--password-stdin"],
            env,
            PASSWORDS[user] + "\n",
        )
        assert made.returncode == 0, made.stderr  # fmt: skip
    port = free_port()
    code = COMMAND.format(module="serve", name="serve", call="typer.run(serve)")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not become ready"
        time.sleep(0.1)
    try:
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def token(base: str, user: str) -> str:
    r = httpx.post(
        f"{base}/api/v1/auth/token",
        data={"grant_type": "password", "username": user, "password": PASSWORDS[user]},
    )
    assert r.status_code == 200, r.text  # fmt: skip
    return str(r.json()["access_token"])


def receive_until(ws: Any, done: Any, seconds: float = 20) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while not done(events):
        msg = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if msg["type"] == "event":
            events.append(msg)
    return events


def test_a_trader_s_order_fills_over_http_and_websocket(
    server: tuple[str, subprocess.Popen[str]], env: dict[str, str]
) -> None:
    base, proc = server
    tina = token(base, "tina")
    auth = {"Authorization": f"Bearer {tina}"}
    for _ in range(200):
        book = httpx.get(f"{base}/api/v1/portfolio", headers=auth).json()
        if book["session"]["data_time"]:
            break
        time.sleep(0.05)
    ws_url = base.replace("http", "ws") + "/ws"
    with connect(ws_url, additional_headers=auth) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "welcome"
        ws.send(json.dumps({"op": "subscribe", "channels": ["orders", "fills", "portfolio"]}))
        r = httpx.post(f"{base}/api/v1/orders", headers=auth,
                       json={"symbol": "SPX", "side": "buy", "quantity": "4"})  # fmt: skip
        assert r.status_code == 201, r.text
        oid = r.json()["id"]
        events = receive_until(ws, lambda ev: any(e["channel"] == "fills" for e in ev))
    fill = next(e["data"] for e in events if e["channel"] == "fills")
    assert fill["order_id"] == oid and fill["quantity"] == "4"
    filled = [e for e in events if e["channel"] == "orders" and e["data"]["event"] == "filled"]
    assert filled and filled[0]["data"]["order"]["id"] == oid
    book = httpx.get(f"{base}/api/v1/portfolio", headers=auth).json()
    assert [(p["symbol"], p["quantity"]) for p in book["positions"]] == [("SPX", "4")]
    cost = 4 * Decimal(fill["price"]) + Decimal(fill["commission"])
    assert Decimal(book["cash"]) == Decimal(book["starting_cash"]) - cost
    assert httpx.get(f"{base}/api/v1/orders/{oid}", headers=auth).json()["status"] == "filled"

    vic = {"Authorization": f"Bearer {token(base, 'vic')}"}
    refused = httpx.post(f"{base}/api/v1/orders", headers=vic,
                         json={"symbol": "SPX", "side": "buy", "quantity": "1"})  # fmt: skip
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert httpx.get(f"{base}/api/v1/portfolio", headers=vic).status_code == 200
    head, body, sig = tina.split(".")
    for bad in (f"{head}.{body}x.{sig}", f"{head}.{body}.{sig[::-1]}"):
        r = httpx.get(f"{base}/api/v1/portfolio", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401 and r.json()["type"] == "/problems/unauthorized"

    proc.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal it caught (so -SIGTERM).
    assert proc.wait(30) in (0, -signal.SIGTERM)
    output = proc.stdout.read() if proc.stdout else ""
    assert "Waiting for application shutdown" in output
    assert "Application shutdown complete" in output
    for secret in (tina, *PASSWORDS.values()):
        assert secret not in output
    store = Store(env["NT_DATABASE__URL"])
    try:
        audit = AuditLog(store)
        assert audit.verify().ok
        entries = audit.entries(limit=10_000)
        assert {("order.filled", "tina")} <= {(e.action, e.actor) for e in entries}
        assert any(e.action == "POST /api/v1/orders" and e.actor == "vic" and e.result == "refused"
                   for e in entries)  # fmt: skip
        assert store.load_checkpoint("paper", "replay") is not None
    finally:
        store.close()
