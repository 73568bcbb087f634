"""The paper session's strategies over the API: the running view, configuring against the
parameter schema (a bad value is a 422 naming the parameter and changes nothing), the
StrategyManager's lifecycle with the gate's per-strategy switch, the audit trail, and 503 from
a server that runs no session."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from apitest_support import FAST_HASHER, ROLES, Api, api_settings, login, make_users
from fastapi.testclient import TestClient

from neural_trader.api import ApiOptions, create_app

BASE = "/api/v1/strategies"


def _serve(url: str, trading: bool) -> Iterator[Api]:
    make_users(url)
    settings = api_settings(
        url, **{"strategies.enabled": ["sma_cross", "momentum", "mean_reversion"]}
    )
    options = ApiOptions.from_settings(settings, trading=trading)
    app = create_app(settings, options, hasher=FAST_HASHER)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, url, {r: login(client, r) for r in ROLES})


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from _serve(f"sqlite:///{tmp_path_factory.mktemp('strat') / 'nt.db'}", trading=True)


@pytest.fixture(scope="module")
def idle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from _serve(f"sqlite:///{tmp_path_factory.mktemp('idle') / 'nt.db'}", trading=False)


def running(api: Api) -> dict[str, dict[str, Any]]:
    r = api.client.get(f"{BASE}/running", headers=api.headers("viewer"))
    assert r.status_code == 200, r.text
    return {s["id"]: s for s in r.json()["strategies"]}


def post(api: Api, path: str, body: dict[str, Any] | None = None) -> Any:
    return api.client.post(f"{BASE}/{path}", json=body, headers=api.headers("trader"))


def test_the_running_view_shows_state_share_and_figures(api: Api) -> None:
    shown = running(api)
    assert set(shown) == {"sma_cross", "momentum", "mean_reversion"}
    sma = shown["sma_cross"]
    assert sma["status"] == "running" and sma["gate"] == "active"
    assert sma["allocation"] == pytest.approx(1 / 3)
    assert sma["params"] == {"fast": 10, "slow": 30}
    perf = sma["performance"]
    assert perf["closed_trades"] >= perf["winning_trades"] >= 0
    assert isinstance(perf["pnl"], str) and isinstance(perf["commission"], str)


def test_configure_checks_the_schema_and_changes_nothing_on_a_bad_value(api: Api) -> None:
    path = f"{BASE}/sma_cross/params"
    for params, parameter in (({"fast": 0}, "fast"), ({"nope": 1}, "nope"),
                              ({"fast": 40}, "slow"), ({"slow": "soon"}, "slow")):  # fmt: skip
        r = api.client.put(path, json={"params": params}, headers=api.headers("trader"))
        assert r.status_code == 422, r.text
        problem = r.json()
        assert problem["type"] == "/problems/strategy"
        assert problem["parameter"] == parameter and parameter in problem["detail"]
    assert running(api)["sma_cross"]["params"] == {"fast": 10, "slow": 30}


def test_configure_rebuilds_the_strategy_on_the_kernel(api: Api) -> None:
    session = api.client.app.state.ctx.orders.session  # type: ignore[attr-defined]
    before = session.manager.get("sma_cross").inner
    r = api.client.put(
        f"{BASE}/sma_cross/params", json={"params": {"fast": 5}}, headers=api.headers("trader")
    )
    assert r.status_code == 200, r.text
    assert r.json()["params"] == {"fast": 5, "slow": 30}
    assert running(api)["sma_cross"]["params"] == {"fast": 5, "slow": 30}
    managed = session.kernel.strategies["sma_cross"]  # the wrapper the kernel dispatches to
    assert managed.inner is not before and managed.inner.fast == 5
    assert managed.inner.ctx is managed.context  # bound to its share of the account


def test_pause_start_stop_follow_the_manager_and_the_gate(api: Api) -> None:
    r = post(api, "momentum/pause")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["gate"]) == ("paused", "halted")
    state = api.client.get("/api/v1/risk/trading-state", headers=api.headers("viewer")).json()
    assert state["strategies"]["momentum"] == "halted"
    r = post(api, "momentum/start")
    assert (r.json()["status"], r.json()["gate"]) == ("running", "active")
    r = post(api, "momentum/stop")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["gate"]) == ("stopped", "halted")
    assert r.json()["open_orders"] == 0
    for action in ("start", "pause", "stop"):
        again = post(api, f"momentum/{action}")
        assert again.status_code == 409, again.text
        assert again.json()["type"] == "/problems/conflict" and "stopped" in again.json()["detail"]
    r = api.client.put(
        f"{BASE}/momentum/params", json={"params": {}}, headers=api.headers("trader")
    )
    assert r.status_code == 409
    assert running(api)["sma_cross"]["status"] == "running"  # the other one is untouched


def position(api: Api, symbol: str = "SPX") -> Decimal:
    book = api.client.get("/api/v1/portfolio", headers=api.headers("viewer")).json()
    return sum((Decimal(p["quantity"]) for p in book["positions"] if p["symbol"] == symbol),
               start=Decimal(0))  # fmt: skip


def test_stop_with_flatten_closes_the_position_through_the_gate(api: Api) -> None:
    """A paused strategy is stopped with ``flatten``: it closes the account's position in the
    symbols it traded with one market order, which fills on the next bar."""
    assert post(api, "sma_cross/pause").status_code == 200  # nothing else trades meanwhile
    assert post(api, "mean_reversion/pause").status_code == 200
    bought = api.client.post("/api/v1/orders", json={"symbol": "SPX", "side": "buy",
                             "quantity": "2"}, headers=api.headers("trader"))  # fmt: skip
    assert bought.status_code == 201, bought.text
    api.wait_order(bought.json()["id"], "filled")
    held = position(api)
    assert held != 0
    r = post(api, "mean_reversion/stop", {"flatten": True})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["gate"]) == ("stopped", "halted")
    mine = api.client.get("/api/v1/orders?strategy=mean_reversion&limit=1000",
                          headers=api.headers("viewer")).json()["orders"]  # fmt: skip
    closing = mine[-1]
    assert closing["side"] == ("sell" if held > 0 else "buy")
    assert Decimal(closing["quantity"]) == abs(held)
    api.wait_order(closing["id"], "filled")
    assert position(api) == 0
    assert post(api, "sma_cross/start").status_code == 200


def test_a_strategy_the_session_does_not_run_is_404(api: Api) -> None:
    r = post(api, "pairs/pause")
    assert r.status_code == 404
    assert "sma_cross" in r.json()["detail"]


def test_stop_refuses_an_unknown_field(api: Api) -> None:
    r = post(api, "sma_cross/stop", {"flaten": True})
    assert r.status_code == 422
    assert running(api)["sma_cross"]["status"] == "running"


def test_state_changes_are_audited_with_the_strategy_and_action(api: Api) -> None:
    assert post(api, "sma_cross/pause").status_code == 200
    assert post(api, "sma_cross/start").status_code == 200
    refused = api.client.post(f"{BASE}/sma_cross/stop", headers=api.headers("viewer"))
    assert refused.status_code == 403
    entries = api.client.get("/api/v1/audit?limit=1000", headers=api.headers("admin")).json()[
        "entries"
    ]
    mine = [e for e in entries if e["action"].startswith("POST /api/v1/strategies/")]
    done = [(e["detail"].get("action"), e["actor"], e["result"]) for e in mine]
    assert ("pause", "trader-user", "ok") in done and ("start", "trader-user", "ok") in done
    assert mine[-1]["actor"] == "viewer-user" and mine[-1]["result"] == "refused"
    configured = [e for e in entries if e["action"] == "PUT /api/v1/strategies/{name}/params"
                  and e["result"] == "ok"]  # fmt: skip
    assert configured and configured[-1]["detail"]["params"] == {"fast": 5}


def test_execute_refuses_what_the_session_cannot_run_and_adds_nothing(api: Api) -> None:
    # Here sma_cross holds 1/3 of the account; momentum and mean_reversion are stopped.
    for name, body, status, parameter in (
        ("sma_cross", {"id": "big", "allocation": 0.9}, 422, "allocation"),
        ("sma_cross", {"id": "bad", "params": {"fast": 0}, "allocation": 0.1}, 422, "fast"),
        ("sma_cross", {"id": "xom", "symbols": ["XOM"], "allocation": 0.1}, 422, "symbols"),
        ("market_making", {"allocation": 0.1}, 422, None),  # quotes; this session replays bars
        ("sma_cross", {"allocation": 0.1}, 409, None),  # the id sma_cross is taken
        ("no_such", {"allocation": 0.1}, 404, None),
        ("sma_cross", {"id": "x", "allocation": 0}, 422, None),  # schema: 0 < allocation <= 1
    ):
        r = post(api, f"{name}/execute", body)
        assert r.status_code == status, (name, body, r.text)
        problem = r.json()
        if parameter is not None:
            assert problem["type"] == "/problems/strategy" and problem["parameter"] == parameter
    assert set(running(api)) == {"sma_cross", "momentum", "mean_reversion"}
    assert "market making" not in str(running(api))


def test_execute_puts_one_more_strategy_to_work_through_the_gate(api: Api) -> None:
    session = api.client.app.state.ctx.orders.session  # type: ignore[attr-defined]
    body = {"id": "sma_quick", "params": {"fast": 2, "slow": 4}, "allocation": 0.5}
    with api.client.websocket_connect(f"/ws?token={api.tokens['viewer']}") as ws:
        assert ws.receive_json()["type"] == "welcome"
        ws.send_json({"op": "subscribe", "channels": ["signals"]})
        assert ws.receive_json()["type"] == "subscribed"
        r = post(api, "sma_cross/execute", body)
        assert r.status_code == 201, r.text
        # Its crossovers on the replayed bars are signals, and orders of its own, stored.
        deadline = time.monotonic() + 20
        signal: dict[str, Any] = {}
        while signal.get("strategy") != "sma_quick":
            assert time.monotonic() < deadline, "the executed strategy never traded"
            message = ws.receive_json()
            if message["type"] == "event":
                signal = message["data"]
    shown = r.json()
    assert (shown["id"], shown["strategy"], shown["status"], shown["gate"]) == (
        "sma_quick",
        "sma_cross",
        "running",
        "active",
    )
    assert shown["allocation"] == 0.5 and shown["params"] == {"fast": 2, "slow": 4}
    assert running(api)["sma_quick"]["status"] == "running"
    assert session.kernel.strategies["sma_quick"].inner.ctx is not None  # bound and started
    stored = api.client.get(f"/api/v1/orders/{signal['order_id']}", headers=api.headers("viewer"))
    assert stored.status_code == 200, stored.text
    order = stored.json()
    assert order["strategy"] == "sma_quick" and signal["gate"] in ("passed", "denied")
    for field in ("symbol", "side", "quantity", "type", "limit_price", "stop_price"):
        assert signal[field] == order[field], field
    assert (order["status"] == "denied") == (signal["gate"] == "denied")
    assert post(api, "sma_quick/pause").status_code == 200  # the lifecycle routes apply
    entries = api.client.get("/api/v1/audit?limit=1000", headers=api.headers("admin")).json()[
        "entries"
    ]
    done = [e for e in entries if e["action"] == "POST /api/v1/strategies/{name}/execute"
            and e["result"] == "ok"]  # fmt: skip
    assert done[-1]["detail"]["id"] == "sma_quick" and done[-1]["actor"] == "trader-user"


def test_a_server_without_a_session_answers_503(idle: Api) -> None:
    for method, path in (("GET", "running"), ("POST", "sma_cross/start"),
                         ("POST", "sma_cross/pause"), ("POST", "sma_cross/stop")):  # fmt: skip
        r = idle.client.request(method, f"{BASE}/{path}", headers=idle.headers("trader"))
        assert r.status_code == 503, r.text
        assert r.json()["type"] == "/problems/unavailable"
    r = idle.client.post(
        f"{BASE}/sma_cross/execute", json={"allocation": 0.1}, headers=idle.headers("trader")
    )
    assert r.status_code == 503 and r.json()["type"] == "/problems/unavailable"
    r = idle.client.put(
        f"{BASE}/sma_cross/params", json={"params": {"fast": 3}}, headers=idle.headers("trader")
    )
    assert r.status_code == 503
