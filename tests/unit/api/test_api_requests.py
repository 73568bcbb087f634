"""Bad requests get 4xx problem+json and change nothing; credentials that are expired,
tampered with or revoked get 401; the token endpoint's grants over HTTP; the audit trail of
what changed; and no secret ever reaches a log."""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Any

import pytest
from apitest_support import PASSWORDS, Api

from neural_trader.security import Accounts, Passwords, Role
from neural_trader.security.tokens import TokenSigner
from neural_trader.storage import Store

BOOK = ("orders", "fills", "positions", "accounts", "events", "jobs", "users", "api_keys",
        "refresh_tokens", "models")  # fmt: skip
GOOD_ORDER = {"symbol": "SPX", "side": "buy", "quantity": "1", "type": "limit", "limit_price": "1"}


def snapshot(api: Api) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(api.url.removeprefix("sqlite:///")) as con:
        return {t: sorted(con.execute(f"select * from {t}").fetchall(), key=repr) for t in BOOK}


def problem(r: Any, status: int, kind: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == f"/problems/{kind}" and body["status"] == status
    assert "Traceback" not in r.text and 'File "' not in r.text
    return dict(body)


BAD_BODIES = [
    ("malformed JSON", b'{"symbol": "SPX", "side": ', "malformed-request", 400),
    ("not an object", b"[1, 2, 3]", "validation", 422),
    ("wrong type", b'{"symbol": "SPX", "side": "buy", "quantity": [1]}', "validation", 422),
    ("not a number", b'{"symbol": "SPX", "side": "buy", "quantity": "lots"}', "validation", 422),
    ("NaN", b'{"symbol": "SPX", "side": "buy", "quantity": "NaN"}', "validation", 422),
    ("bad enum", b'{"symbol": "SPX", "side": "hold", "quantity": "1"}', "validation", 422),
    ("unknown field", b'{"symbol": "SPX", "side": "buy", "quantity": "1", "leverage": 50}',
     "validation", 422),
    ("missing field", b'{"symbol": "SPX", "side": "buy"}', "validation", 422),
    ("negative", b'{"symbol": "SPX", "side": "buy", "quantity": "-5"}', "validation", 422),
    ("empty", b"", "validation", 422),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "body", "kind", "status"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
def test_bad_order_bodies_are_problems_and_store_nothing(
    api: Api, what: str, body: bytes, kind: str, status: int
) -> None:
    before = snapshot(api)
    r = api.client.post(
        "/api/v1/orders", content=body,
        headers={**api.headers("trader"), "content-type": "application/json"},
    )  # fmt: skip
    found = problem(r, status, kind)
    assert found["errors"] and all("input" not in e for e in found["errors"])
    if what == "unknown field":
        assert found["errors"][0]["loc"] == ["body", "leverage"]
    assert snapshot(api) == before


def test_oversized_bodies_are_413_declared_or_streamed(api: Api) -> None:
    before = snapshot(api)
    huge = b'{"symbol": "SPX", "side": "buy", "quantity": "1", "pad": "' + b"x" * 2_000_000 + b'"}'
    headers = {**api.headers("trader"), "content-type": "application/json"}
    problem(
        api.client.post("/api/v1/orders", content=huge, headers=headers), 413, "payload-too-large"
    )

    def chunks() -> Any:  # no Content-Length: the limit is enforced while reading
        for i in range(0, len(huge), 65536):
            yield huge[i : i + 65536]

    streamed = api.client.post("/api/v1/orders", content=chunks(), headers=headers)
    problem(streamed, 413, "payload-too-large")
    assert snapshot(api) == before


def test_other_errors_are_problems_too(api: Api) -> None:
    problem(api.client.get("/api/v1/nothing-here", headers=api.headers("admin")), 404, "not-found")
    problem(api.client.put("/api/v1/orders", headers=api.headers("admin")), 405,
            "method-not-allowed")  # fmt: skip
    r = api.client.get("/api/v1/orders/no-such-order", headers=api.headers("viewer"))
    assert "no-such-order" in problem(r, 404, "not-found")["detail"]
    r = api.client.post(
        "/api/v1/backtests", json={"strategy": "astrology"}, headers=api.headers("trader")
    )
    assert "unknown strategy" in problem(r, 422, "strategy")["detail"]
    r = api.client.post("/api/v1/backtests", json={"strategy": "sma_cross", "params": {"fast": 0}},
                        headers=api.headers("trader"))  # fmt: skip
    problem(r, 422, "strategy")
    described = api.client.get("/problems/order-denied").json()
    assert described["status"] == 422 and described["type"] == "/problems/order-denied"


# -- credentials --------------------------------------------------------------------------------
def ctx_of(api: Api) -> Any:
    return api.client.app.state.ctx  # type: ignore[attr-defined]


def test_expired_tampered_and_wrong_kind_tokens_get_401(api: Api) -> None:
    ctx = ctx_of(api)
    past = TokenSigner(ctx.auth.signer._keys, 60, clock=lambda: time.time() - 3600)
    expired = past.issue(2, "trader-user", Role.TRADER, frozenset({"orders:read"}), "password")
    good = api.tokens["trader"]
    head, body, sig = good.split(".")
    tampered = f"{head}.{body[:-4]}AAAA.{sig}"
    refresh = api.client.post("/api/v1/auth/token", data={
        "grant_type": "password", "username": "trader-user", "password": PASSWORDS["trader"],
    }).json()["refresh_token"]  # fmt: skip
    for token, why in ((expired, "expired"), (tampered, "not valid"), (refresh, "not valid"),
                       ("garbage", "not valid")):  # fmt: skip
        r = api.client.get("/api/v1/orders", headers={"Authorization": f"Bearer {token}"})
        assert why in problem(r, 401, "unauthorized")["detail"]
        assert "invalid_token" in r.headers["www-authenticate"]


def test_api_keys_work_until_revoked(api: Api) -> None:
    store = Store(api.url)
    accounts = Accounts(store, Passwords())
    key = accounts.create_key("viewer-user", "dash", ["portfolio:read"])
    assert api.client.get("/api/v1/portfolio", headers={"X-API-Key": key.token}).status_code == 200
    bearer = {"Authorization": f"Bearer {key.token}"}
    assert api.client.get("/api/v1/positions", headers=bearer).status_code == 200
    r = api.client.get("/api/v1/orders", headers={"X-API-Key": key.token})
    assert problem(r, 403, "forbidden")["required"] == ["orders:read"]
    accounts.revoke_key(key.record.id)
    store.close()
    r = api.client.get("/api/v1/portfolio", headers={"X-API-Key": key.token})
    assert "revoked" in problem(r, 401, "unauthorized")["detail"]


def test_token_endpoint_grants_over_http(api: Api) -> None:
    login = {"grant_type": "password", "username": "trader-user", "password": PASSWORDS["trader"]}
    r = api.client.post("/api/v1/auth/token", data=login)
    assert r.headers["cache-control"] == "no-store" and r.json()["token_type"] == "bearer"
    refreshed = api.client.post("/api/v1/auth/token", data={
        "grant_type": "refresh_token", "refresh_token": r.json()["refresh_token"]})  # fmt: skip
    assert refreshed.status_code == 200
    replay = api.client.post("/api/v1/auth/token", data={
        "grant_type": "refresh_token", "refresh_token": r.json()["refresh_token"]})  # fmt: skip
    assert problem(replay, 400, "oauth")["error"] == "invalid_grant"
    wrong = api.client.post("/api/v1/auth/token", data={**login, "password": "nope nope nope"})
    assert problem(wrong, 400, "oauth")["error"] == "invalid_grant"
    odd = api.client.post("/api/v1/auth/token", data={"grant_type": "implicit"})
    assert problem(odd, 400, "oauth")["error"] == "unsupported_grant_type"
    store = Store(api.url)
    key = Accounts(store).create_key("trader-user", "robot", ["orders:read"])
    store.close()
    cc = api.client.post(
        "/api/v1/auth/token", data={"grant_type": "client_credentials"},
        auth=(key.record.id, key.token),
    )  # fmt: skip
    assert cc.status_code == 200 and "refresh_token" not in cc.json()
    me = api.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {cc.json()['access_token']}"}
    )
    assert me.json()["permissions"] == ["orders:read"] and me.json()["via"] == "client_credentials"
    bad = api.client.post("/api/v1/auth/token", data={"grant_type": "client_credentials"},
                          auth=(key.record.id, "ntk_nope"))  # fmt: skip
    assert problem(bad, 401, "oauth")["error"] == "invalid_client"


# -- audit and logs -----------------------------------------------------------------------------
def test_state_changing_requests_are_audited_with_who_what_and_result(api: Api) -> None:
    ok = api.client.post("/api/v1/orders", json=GOOD_ORDER, headers=api.headers("trader"))
    refused = api.client.put("/api/v1/risk/kill-switch", json={"engaged": True},
                             headers=api.headers("viewer"))  # fmt: skip
    assert ok.status_code == 201 and refused.status_code == 403
    entries = api.client.get("/api/v1/audit?limit=1000", headers=api.headers("admin")).json()[
        "entries"
    ]
    posted = [e for e in entries if e["action"] == "POST /api/v1/orders"
              and e["detail"].get("order_id") == ok.json()["id"]]  # fmt: skip
    assert len(posted) == 1
    assert posted[0]["actor"] == "trader-user" and posted[0]["result"] == "ok"
    assert posted[0]["source"] == "testclient" and posted[0]["detail"]["status"] == 201
    events = [e for e in entries if e["target"] == ok.json()["id"]]
    assert {e["action"] for e in events} >= {"order.submitted", "order.accepted"}
    assert all(e["actor"] == "trader-user" for e in events)
    denied = [e for e in entries if e["action"] == "PUT /api/v1/risk/kill-switch"]
    assert denied[-1]["actor"] == "viewer-user" and denied[-1]["result"] == "refused"
    logins = [e for e in entries if e["action"] == "POST /api/v1/auth/token"]
    assert logins and all(p not in str(e) for e in logins for p in PASSWORDS.values())
    assert {e["actor"] for e in logins} >= {"viewer-user", "trader-user", "admin-user"}
    verified = api.client.get("/api/v1/audit/verify", headers=api.headers("admin")).json()
    assert verified["ok"] is True and verified["entries"] == len(entries)


def test_secrets_never_reach_the_logs(
    api: Api, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = PASSWORDS["admin"]
    r = api.client.post("/api/v1/auth/token", data={
        "grant_type": "password", "username": "admin-user", "password": password})  # fmt: skip
    token, refresh = r.json()["access_token"], r.json()["refresh_token"]
    wrong = {"grant_type": "password", "username": "admin-user", "password": password + "x"}
    api.client.post("/api/v1/auth/token", data=wrong)
    store = Store(api.url)
    key = Accounts(store).create_key("admin-user", "logs")
    store.close()
    api.client.get(f"/api/v1/portfolio?token={token}", headers={"X-API-Key": key.token})
    api.client.get("/api/v1/orders", headers={"Authorization": "Bearer " + token[:-3] + "abc"})
    with api.client.websocket_connect(f"/ws?token={token}") as ws:
        assert ws.receive_json()["type"] == "welcome"
    api.client.post(
        "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh}
    )
    out = capsys.readouterr()
    # Everything the server side logged (httpx's lines are the test client's own requests).
    server_records = [r for r in caplog.records if not r.name.startswith("httpx")]
    logged = out.out + out.err + "\n".join(r.getMessage() for r in server_records)
    assert "route=/api/v1/auth/token" in logged or "/api/v1/auth/token" in logged
    for secret in (password, token, refresh, key.token, key.token.split(".")[1], token[:-3]):
        assert secret not in logged
