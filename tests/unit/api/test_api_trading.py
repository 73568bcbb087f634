"""Orders through the API onto the paper session's kernel (gate, venue, ledger), their events
on the WebSocket, the kill switch, backtest jobs checked against the facade, and the
WebSocket's authentication, channel permissions, ping and resume."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
from apitest_support import Api
from starlette.websockets import WebSocketDisconnect

from neural_trader.security import Accounts, Passwords
from neural_trader.storage import Store
from neural_trader.trader import NeuralTrader


def order(api: Api, role: str = "trader", **fields: Any) -> Any:
    body = {"symbol": "SPX", "side": "buy", "quantity": "3", **fields}
    return api.client.post("/api/v1/orders", json=body, headers=api.headers(role))


def next_of(ws: Any, kind: str, channel: str | None = None, seconds: float = 10) -> dict[str, Any]:
    """The next message of ``kind`` (on ``channel``), skipping others; heartbeats every half
    second keep the wait bounded."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        msg = ws.receive_json()
        if msg["type"] == kind and (channel is None or msg.get("channel") == channel):
            return dict(msg)
    raise AssertionError(f"no {kind} message on {channel} within {seconds} s")


def collect(ws: Any, done: Any, seconds: float = 10) -> list[dict[str, Any]]:
    """Events until ``done(events)`` holds."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while not done(events):
        assert time.monotonic() < deadline, events
        msg = ws.receive_json()
        if msg["type"] == "event":
            events.append(msg)
    return events


def test_a_market_order_fills_on_the_next_bar_and_shows_everywhere(api: Api) -> None:
    with api.client.websocket_connect(f"/ws?token={api.tokens['trader']}") as ws:
        assert ws.receive_json()["type"] == "welcome"
        ws.send_json({"op": "subscribe", "channels": ["orders", "fills", "portfolio"]})
        for _ in range(3):
            assert ws.receive_json()["type"] == "subscribed"
        before = api.client.get("/api/v1/portfolio", headers=api.headers("viewer")).json()
        r = order(api)
        assert r.status_code == 201 and r.json()["status"] == "accepted"
        assert r.headers["location"] == f"/api/v1/orders/{r.json()['id']}"
        oid = r.json()["id"]
        got = collect(ws, lambda ev: {e["channel"] for e in ev} == {"orders", "fills", "portfolio"}
                      and any(e["data"].get("event") == "filled" for e in ev))  # fmt: skip
    ours = [e for e in got if e["channel"] == "orders" and e["data"]["order"]["id"] == oid]
    assert [e["data"]["event"] for e in ours] == ["submitted", "accepted", "filled"]
    assert [e["seq"] for e in ours] == sorted(e["seq"] for e in ours)
    fill = next(e["data"] for e in got if e["channel"] == "fills")
    position = next(e["data"] for e in got if e["channel"] == "portfolio")
    assert fill["order_id"] == oid and fill["quantity"] == "3"
    stored = api.wait_order(oid, "filled")
    assert stored["fills"][0]["price"] == fill["price"] == stored["avg_price"]
    book = api.client.get("/api/v1/portfolio", headers=api.headers("viewer")).json()
    held = {p["symbol"]: Decimal(p["quantity"]) for p in book["positions"]}
    had = {p["symbol"]: Decimal(p["quantity"]) for p in before["positions"]}
    assert held["SPX"] == had.get("SPX", 0) + 3 == Decimal(position["quantity"])
    spent = Decimal(before["cash"]) - Decimal(book["cash"])
    assert spent == 3 * Decimal(fill["price"]) + Decimal(fill["commission"])
    metrics = api.client.get("/metrics").text
    assert 'nt_order_events_total{status="filled",venue="SIM"}' in metrics
    # A finished order leaves nothing behind in the server's per-order bookkeeping.
    service = api.client.app.state.ctx.orders  # type: ignore[attr-defined]
    assert oid not in service.bridge.origins
    assert oid not in book["open_orders"]


def test_the_kill_switch_makes_the_gate_deny(api: Api) -> None:
    admin = api.headers("admin")
    r = api.client.put("/api/v1/risk/kill-switch", json={"engaged": True, "reason": "test"},
                       headers=admin)  # fmt: skip
    assert r.json()["state"] == "halted" and r.json()["kill_switch"] is True
    try:
        denied = order(api)
        assert denied.status_code == 422
        body = denied.json()
        assert body["type"] == "/problems/order-denied" and body["order"]["status"] == "denied"
        stored = api.client.get(f"/api/v1/orders/{body['order']['id']}", headers=admin).json()
        assert stored["status"] == "denied" and "kill switch" in stored["reason"]
        state = api.client.get("/api/v1/risk/trading-state", headers=api.headers("viewer")).json()
        assert state["state"] == "halted"
    finally:
        r = api.client.put("/api/v1/risk/kill-switch", json={"engaged": False}, headers=admin)
    assert r.json()["state"] == "active"
    assert order(api, type="limit", limit_price="1").status_code == 201


def test_orders_the_session_cannot_take_are_refused_clearly(api: Api) -> None:
    unknown = order(api, symbol="AAPL")
    assert unknown.status_code == 422 and "not traded" in unknown.json()["detail"]
    bad_combo = order(api, type="limit")
    assert bad_combo.status_code == 422 and "limit price" in bad_combo.json()["detail"]
    first = order(api, type="limit", limit_price="1", client_order_id="mine-1")
    again = order(api, type="limit", limit_price="1", client_order_id="mine-1")
    assert first.status_code == 201 and again.status_code == 409
    gone = api.client.delete("/api/v1/orders/mine-1", headers=api.headers("trader"))
    assert gone.status_code == 200 and gone.json()["status"] == "canceled"
    twice = api.client.delete("/api/v1/orders/mine-1", headers=api.headers("trader"))
    assert twice.status_code == 409
    service = api.client.app.state.ctx.orders  # type: ignore[attr-defined]
    service.kernel.retire_finished()  # as the session does at each checkpoint
    retired = api.client.delete("/api/v1/orders/mine-1", headers=api.headers("trader"))
    assert retired.status_code == 409 and "finished" in retired.json()["detail"]
    assert order(api, type="limit", limit_price="1", client_order_id="mine-1").status_code == 409
    assert (
        api.client.delete("/api/v1/orders/nope", headers=api.headers("trader")).status_code == 404
    )
    listed = api.client.get(
        "/api/v1/orders?status=canceled&limit=1000", headers=api.headers("viewer")
    )
    assert "mine-1" in [o["id"] for o in listed.json()["orders"]]
    assert all(o["status"] == "canceled" for o in listed.json()["orders"])


def test_a_backtest_job_gives_the_facade_s_numbers(api: Api) -> None:
    spec = {"strategy": "sma_cross", "symbols": ["SPX"], "start": "2010-01-01",
            "end": "2015-12-31", "params": {"fast": 5, "slow": 20}}  # fmt: skip
    with api.client.websocket_connect(f"/ws?token={api.tokens['viewer']}") as ws:
        ws.receive_json()
        ws.send_json({"op": "subscribe", "channels": ["jobs"]})
        ws.receive_json()
        r = api.client.post("/api/v1/backtests", json=spec, headers=api.headers("trader"))
        assert r.status_code == 202 and r.json()["status"] == "queued"
        job = r.json()["id"]
        got = collect(ws, lambda ev: any(e["data"]["status"] in ("succeeded", "failed")
                                         and e["data"]["id"] == job for e in ev), 60)  # fmt: skip
        states = [e["data"]["status"] for e in got if e["data"]["id"] == job]
    assert states == ["queued", "running", "succeeded"]
    result = api.client.get(f"/api/v1/backtests/{job}/result", headers=api.headers("viewer")).json()
    direct = NeuralTrader.new(**{"database.url": "sqlite://"}).backtest(
        "sma_cross", "SPX", start="2010-01-01", end="2015-12-31", fast=5, slow=20
    )
    assert result["final_equity"] == pytest.approx(direct.result.final_equity, rel=1e-12)
    assert result["num_trades"] == len(direct.trades) > 0
    assert result["sharpe"] == pytest.approx(direct.metrics["sharpe"], rel=1e-12)
    report = api.client.get(f"/api/v1/backtests/{job}/report", headers=api.headers("viewer"))
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    page = report.text
    assert "sma_cross on SPX" in page and "Plotly.newPlot" in page  # charts, script inlined
    assert f"{direct.metrics['sharpe']:.2f}" in page  # the facade's figures are the page's
    missing = api.client.get("/api/v1/backtests/nosuchjob/report", headers=api.headers("viewer"))
    assert missing.status_code == 404


def test_websocket_refuses_bad_credentials_and_unreadable_channels(api: Api) -> None:
    with api.client.websocket_connect("/ws?token=not-a-token") as ws:
        assert ws.receive_json()["error"] == "unauthorized"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4401
    store = Store(api.url)
    key = Accounts(store, Passwords()).create_key("viewer-user", "pf", ["portfolio:read"])
    store.close()
    with api.client.websocket_connect("/ws", headers={"X-API-Key": key.token}) as ws:
        assert ws.receive_json()["channels"] == ["portfolio"]
        ws.send_json({"op": "subscribe", "channels": ["orders", "portfolio", "bars:XYZ"]})
        assert ws.receive_json() == {"type": "error", "error": "forbidden", "channel": "orders",
                                     "detail": "this channel needs orders:read"}  # fmt: skip
        assert ws.receive_json()["type"] == "subscribed"
        assert ws.receive_json()["error"] == "unknown_channel"
        ws.send_text("{not json")
        assert ws.receive_json()["error"] == "bad_message"
        ws.send_bytes(b"\x00\x01")
        assert ws.receive_json()["detail"] == "send JSON text frames"
        ws.send_json({"op": "ping"})
        assert ws.receive_json() == {"type": "pong"}


def test_bars_stream_and_a_reconnect_resumes_the_orders_channel(api: Api) -> None:
    with api.client.websocket_connect(f"/ws?token={api.tokens['viewer']}") as ws:
        ws.receive_json()
        ws.send_json({"op": "subscribe", "channels": ["orders", "bars:SPX"]})
        seen = next_of(ws, "subscribed")["seq"]  # the orders channel, confirmed first
        bar = next_of(ws, "event", "bars:SPX")["data"]
        assert bar["symbol"] == "SPX" and bar["low"] <= bar["close"] <= bar["high"]
    for _ in range(2):
        assert order(api, type="limit", limit_price="1").status_code == 201
    time.sleep(0.1)
    with api.client.websocket_connect(f"/ws?token={api.tokens['viewer']}") as ws:
        ws.receive_json()
        ws.send_json({"op": "subscribe", "channels": ["orders"], "since": {"orders": seen}})
        reply = next_of(ws, "subscribed")
        assert reply["complete"] and reply["replayed"] == reply["seq"] - seen >= 4
        missed = [next_of(ws, "event", "orders") for _ in range(reply["replayed"])]
    assert [m["seq"] for m in missed] == list(range(seen + 1, reply["seq"] + 1))


def test_readiness_names_each_component(api: Api) -> None:
    ready = api.client.get("/health/ready").json()
    assert ready["status"] == "ok"
    assert {"database", "data", "auth", "trading", "websocket"} <= set(ready["components"])
    assert ready["components"]["trading"]["symbols"] == ["SPX"]
    assert api.client.get("/health/live").json() == {"status": "ok"}
    spec = api.client.get("/openapi.json").json()
    assert spec["info"]["title"] == "neural-trader" and "/api/v1/orders" in spec["paths"]
