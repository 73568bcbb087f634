"""Every route × every role, table-driven: the answer is what the permission table says
(allowed roles get the route's success code, the others 403), anonymous callers get 401,
and no route of the app is missing from the table."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from apitest_support import ROLES, Api

from neural_trader.security import ROLE_PERMISSIONS, Role


def open_order(api: Api) -> str:
    """A buy limit far below the market: it stays working until cancelled."""
    r = api.client.post(
        "/api/v1/orders",
        json={"symbol": "SPX", "side": "buy", "quantity": "1", "type": "limit",
              "limit_price": "1.00"},
        headers=api.headers("trader"),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def finished_job(api: Api) -> str:
    r = api.client.post(
        "/api/v1/backtests",
        json={"strategy": "sma_cross", "symbols": ["SPX"], "start": "2017-01-01"},
        headers=api.headers("trader"),
    )
    assert r.status_code == 202, r.text
    job = r.json()["id"]
    for _ in range(500):
        if api.client.get(f"/api/v1/backtests/{job}", headers=api.headers("viewer")).json()[
            "status"
        ] in ("succeeded", "failed"):
            return str(job)
        time.sleep(0.02)
    raise AssertionError("backtest did not finish")


def held_position(api: Api) -> dict[str, str]:
    book = api.client.get("/api/v1/portfolio", headers=api.headers("viewer")).json()
    if not book["positions"]:
        order = {"symbol": "SPX", "side": "buy", "quantity": "1"}
        r = api.client.post("/api/v1/orders", json=order, headers=api.headers("trader"))
        api.wait_order(r.json()["id"], "filled")
        time.sleep(1.1)  # the session checkpoints its data time every second
    return {}


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    permission: str | None  # None: any authenticated caller
    ok: int = 200
    body: dict[str, Any] | None = None
    prepare: Callable[[Api], dict[str, str]] = field(default=lambda api: {})
    allowed_status: int | None = None  # an allowed call answered by the route itself


CASES = [
    Case("GET", "/api/v1/auth/me", None),
    Case("GET", "/api/v1/portfolio", "portfolio:read"),
    Case("GET", "/api/v1/positions", "portfolio:read"),
    Case("GET", "/api/v1/orders", "orders:read"),
    Case("POST", "/api/v1/orders", "orders:write", 201,
         {"symbol": "SPX", "side": "buy", "quantity": "1", "type": "limit", "limit_price": "2"}),
    Case("GET", "/api/v1/orders/{order_id}", "orders:read",
         prepare=lambda api: {"order_id": open_order(api)}),
    Case("DELETE", "/api/v1/orders/{order_id}", "orders:write",
         prepare=lambda api: {"order_id": open_order(api)}),
    Case("POST", "/api/v1/backtests", "backtests:run", 202,
         {"strategy": "sma_cross", "symbols": ["SPX"], "start": "2018-06-01"}),
    Case("GET", "/api/v1/backtests", "backtests:read"),
    Case("GET", "/api/v1/backtests/{job_id}", "backtests:read",
         prepare=lambda api: {"job_id": finished_job(api)}),
    Case("GET", "/api/v1/backtests/{job_id}/result", "backtests:read",
         prepare=lambda api: {"job_id": finished_job(api)}),
    Case("GET", "/api/v1/backtests/{job_id}/report", "backtests:read",
         prepare=lambda api: {"job_id": finished_job(api)}),
    # A finished job has nothing to cancel: an allowed caller gets that answer (409).
    Case("DELETE", "/api/v1/backtests/{job_id}", "backtests:run",
         prepare=lambda api: {"job_id": finished_job(api)}, allowed_status=409),
    Case("GET", "/api/v1/risk/report", "risk:read", prepare=held_position),
    Case("POST", "/api/v1/risk/analyze", "risk:read",
         body={"symbols": ["XOM", "CVX"], "weights": [0.5, 0.5], "stress": False}),
    Case("GET", "/api/v1/risk/limits", "risk:read"),
    Case("GET", "/api/v1/risk/trading-state", "risk:read"),
    Case("PUT", "/api/v1/risk/trading-state", "risk:admin", body={"state": "active"}),
    Case("PUT", "/api/v1/risk/kill-switch", "risk:admin", body={"engaged": False}),
    Case("GET", "/api/v1/strategies", "strategies:read"),
    Case("GET", "/api/v1/strategies/{name}", "strategies:read",
         prepare=lambda api: {"name": "sma_cross"}),
    # This server's session runs no strategy: an allowed caller gets past the permission
    # check to the session's answer (404: no such strategy in it).
    Case("GET", "/api/v1/strategies/running", "strategies:read"),
    Case("PUT", "/api/v1/strategies/{name}/params", "strategies:write", body={"params": {}},
         prepare=lambda api: {"name": "sma_cross"}, allowed_status=404),
    Case("POST", "/api/v1/strategies/{name}/start", "strategies:write",
         prepare=lambda api: {"name": "sma_cross"}, allowed_status=404),
    Case("POST", "/api/v1/strategies/{name}/pause", "strategies:write",
         prepare=lambda api: {"name": "sma_cross"}, allowed_status=404),
    Case("POST", "/api/v1/strategies/{name}/stop", "strategies:write",
         prepare=lambda api: {"name": "sma_cross"}, allowed_status=404),
    # An allowed caller reaches the session's check (422: XOM is not replayed here).
    Case("POST", "/api/v1/strategies/{name}/execute", "strategies:write", 201,
         {"symbols": ["XOM"], "allocation": 0.1}, prepare=lambda api: {"name": "sma_cross"},
         allowed_status=422),
    Case("GET", "/api/v1/brokers", "brokers:read"),
    Case("GET", "/api/v1/models", "models:read"),
    # Training for real is test_api_models' job; here an allowed caller reaches validation
    # (422: no bundled data for the symbol) and nothing is queued.
    Case("POST", "/api/v1/models/train", "models:train", 202,
         {"architecture": "lstm", "symbol": "NOSUCH", "epochs": 1}, allowed_status=422),
    Case("GET", "/api/v1/models/jobs/{job_id}", "models:read",
         prepare=lambda api: {"job_id": "nosuchjob"}, allowed_status=404),
    Case("DELETE", "/api/v1/models/jobs/{job_id}", "models:train",
         prepare=lambda api: {"job_id": "nosuchjob"}, allowed_status=404),
    Case("GET", "/api/v1/models/{name}", "models:read",
         prepare=lambda api: {"name": "lstm-SPX"}, allowed_status=404),
    Case("POST", "/api/v1/models/{name}/promote", "models:admin", body={"version": 1},
         prepare=lambda api: {"name": "lstm-SPX"}, allowed_status=404),
    Case("POST", "/api/v1/models/{name}/rollback", "models:admin",
         prepare=lambda api: {"name": "lstm-SPX"}, allowed_status=404),
    # No model is registered here: an allowed caller passes the permission check and gets the
    # registry's answer (422: no such model) instead of a forecast.
    Case("POST", "/api/v1/models/{model}/predict", "models:predict", body={"symbol": "SPX"},
         prepare=lambda api: {"model": "lstm"}, allowed_status=422),
    Case("GET", "/api/v1/users", "users:admin"),
    Case("GET", "/api/v1/keys", "users:admin"),
    Case("GET", "/api/v1/audit", "audit:read"),
    Case("GET", "/api/v1/audit/verify", "audit:read"),
]  # fmt: skip
PUBLIC = {
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/revoke"),
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/metrics"),
    ("GET", "/problems/{slug}"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
}
NOT_IN_SCHEMA = {("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect")}


def allowed(role: str, permission: str | None) -> bool:
    return permission is None or permission in ROLE_PERMISSIONS[Role(role)]


def call(api: Api, case: Case, headers: dict[str, str]) -> Any:
    path = case.path.format(**case.prepare(api))
    return api.client.request(case.method, path, json=case.body, headers=headers)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.path}")
def test_route_by_role(api: Api, case: Case, role: str) -> None:
    r = call(api, case, api.headers(role))
    if allowed(role, case.permission):
        assert r.status_code == (case.allowed_status or case.ok), r.text
    else:
        assert r.status_code == 403, r.text
        problem = r.json()
        assert r.headers["content-type"] == "application/problem+json"
        assert problem["type"] == "/problems/forbidden"
        assert problem["required"] == [case.permission]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.path}")
def test_route_without_credentials_is_401(api: Api, case: Case) -> None:
    path = case.path.format(**{k: "x" for k in ("order_id", "job_id", "name", "model")})
    r = api.client.request(case.method, path, json=case.body)
    assert r.status_code == 401
    assert r.json()["type"] == "/problems/unauthorized"
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("method", "path"),
    sorted(PUBLIC - {("POST", "/api/v1/auth/token"), ("POST", "/api/v1/auth/revoke")}),
)
def test_public_routes_answer_anyone(api: Api, method: str, path: str) -> None:
    r = api.client.request(method, path.format(slug="forbidden"))
    assert r.status_code == 200


def test_the_table_covers_every_route_and_openapi_names_each_permission(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    routes = {(m.upper(), path) for path, ops in spec["paths"].items() for m in ops}
    assert routes == {(c.method, c.path) for c in CASES} | (PUBLIC - NOT_IN_SCHEMA)
    for case in CASES:
        security = spec["paths"][case.path][case.method.lower()]["security"]
        scopes = {s for req in security for names in req.values() for s in names}
        assert scopes == ({case.permission} if case.permission else set()), case.path
