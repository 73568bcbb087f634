"""API load benchmarks for `make bench`, measured with `wrk` from another process against a
real `neural-trader serve` (one uvicorn worker, SQLite in a temporary directory, the paper
session replaying SPX at 100 bars/s with no strategy of its own, request logging on):

* api_get_portfolio — authenticated ``GET /api/v1/portfolio`` (bearer JWT), req/s.
* api_order_submission — ``POST /api/v1/orders`` market orders, alternately buy and sell,
  through auth → risk gate → paper venue → storage (each answered once stored), req/s.
* api_ws_fanout_100_clients — 100 WebSocket clients (in a third process) subscribed to
  ``orders`` while orders are submitted: event messages delivered per second, all clients.

Each HTTP figure also carries ``reference_requests_per_s``, the same wrk load against
``reference_app.py`` (bare FastAPI, the same body validation, nothing behind it) started
right after, and ``ratio_to_reference``: the share of the framework's floor the whole path
keeps, which stays comparable when this machine's speed drifts between runs.

Without `wrk` (``apt install wrk``) these figures say so instead of being measured.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from neural_trader.security import Accounts
from neural_trader.storage import Store

HERE = Path(__file__).resolve().parent
USER, PASSWORD = "loadgen", "a measuring passphrase 1"
DURATION_S = 8
WS_CLIENTS = 100
TARGETS = {"portfolio_rps": 5_000, "orders_per_s": 2_000, "ws_messages_per_s": 50_000}
ORDERS_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  local side = (n % 2 == 0) and "buy" or "sell"
  return wrk.format(nil, "/api/v1/orders", nil,
    '{"symbol":"SPX","side":"' .. side .. '","quantity":"1"}')
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    db = f"sqlite:///{tmp / 'api.db'}"
    store = Store(db)
    Accounts(store).create_user(USER, PASSWORD, "trader")
    store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NT_")}
    env |= {
        "NT_DATABASE__URL": db,
        "NT_RUN__SYMBOLS": '["SPX"]',
        "NT_RUN__SPEED": "100",
        "NT_STRATEGIES__ENABLED": "[]",
    }
    port = _free_port()
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "neural_trader.cli", "serve", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    _wait_ready(proc, f"{base}/health/ready", tmp / "server.log")
    return proc, base


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text()[-2000:])
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{url} did not answer within 90 s")


def _reference(tmp: Path, common: list[str], script: Path) -> tuple[dict[str, Any], ...]:
    """The same two loads against the bare framework (see the module doc)."""
    port = _free_port()
    log = tmp / "reference.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "reference_app.py"), str(port)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, f"{base}/api/v1/portfolio", log)
        return _wrk([*common, f"{base}/api/v1/portfolio"]), _wrk([*common, "-s", str(script), base])
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _token(base: str) -> str:
    form = {"grant_type": "password", "username": USER, "password": PASSWORD}
    r = httpx.post(f"{base}/api/v1/auth/token", data=form, timeout=10)
    r.raise_for_status()
    return str(r.json()["access_token"])


def _wrk(args: list[str]) -> dict[str, Any]:
    out = subprocess.run(["wrk", *args], capture_output=True, text=True, timeout=120).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    return {
        "requests": int(total.group(1)) if total else None,
        "requests_per_s": round(float(rps.group(1))) if rps else None,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "p50_ms": round(float(p50.group(1)) * scale[p50.group(2)], 3) if p50 else None,
        "p99_ms": round(float(p99.group(1)) * scale[p99.group(2)], 3) if p99 else None,
    }


def api_figures() -> dict[str, Any]:
    if shutil.which("wrk") is None:
        missing = "wrk is not installed (apt install wrk): not measured"
        names = ("api_get_portfolio", "api_order_submission", "api_ws_fanout_100_clients")
        return dict.fromkeys(names, missing)
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = _start(Path(tmp))
        try:
            auth = f"Authorization: Bearer {_token(base)}"
            common = ["-t2", "-c32", f"-d{DURATION_S}s", "--latency", "-H", auth]
            portfolio = _wrk([*common, f"{base}/api/v1/portfolio"])
            script = Path(tmp) / "orders.lua"
            script.write_text(ORDERS_LUA)
            orders = _wrk([*common, "-s", str(script), base])
            fanout = _fanout(base, _token(base), common, script)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        ref_portfolio, ref_orders = _reference(Path(tmp), common[:-2], script)
    return {
        "api_get_portfolio": portfolio | _ratio(portfolio, "portfolio_rps", ref_portfolio),
        "api_order_submission": orders | _ratio(orders, "orders_per_s", ref_orders),
        "api_ws_fanout_100_clients": fanout,
    }


def _ratio(figures: dict[str, Any], target: str, reference: dict[str, Any]) -> dict[str, Any]:
    rps = figures["requests_per_s"] or 0
    floor = reference["requests_per_s"] or 0
    return {
        "target": TARGETS[target],
        "ratio_to_target": round(rps / TARGETS[target], 3),
        "reference_requests_per_s": floor,
        "ratio_to_reference": round(rps / floor, 3) if floor else None,
    }


def _fanout(base: str, token: str, common: list[str], script: Path) -> dict[str, Any]:
    ws_url = base.replace("http://", "ws://") + "/ws"
    seconds = DURATION_S - 2
    clients = subprocess.Popen(
        [sys.executable, str(HERE / "ws_clients.py"), ws_url, token, str(WS_CLIENTS), str(seconds)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert clients.stdout is not None
    json.loads(clients.stdout.readline())  # every client subscribed
    load = _wrk([*common, "-s", str(script), base])
    result = json.loads(clients.stdout.readline())
    clients.wait(timeout=60)
    per_s = result["messages"] / seconds
    return {
        "clients": WS_CLIENTS,
        "messages_delivered": result["messages"],
        "messages_per_s": round(per_s),
        "per_client_min": result["per_client_min"],
        "per_client_max": result["per_client_max"],
        "orders_per_s_meanwhile": load["requests_per_s"],
        "target": TARGETS["ws_messages_per_s"],
        "ratio_to_target": round(per_s / TARGETS["ws_messages_per_s"], 3),
    }


if __name__ == "__main__":
    print(json.dumps(api_figures(), indent=2))
