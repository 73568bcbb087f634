"""The API on the real PostgreSQL: users, a trader's order through the paper session to a
fill, the book of record and the audit chain all in PostgreSQL, and ``verify`` catching an
entry edited there with raw SQL."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from neural_trader.api import ApiOptions, create_app
from neural_trader.config import load_settings
from neural_trader.security import Accounts, Passwords
from neural_trader.storage import Store
from neural_trader.storage.audit import AuditLog

pytestmark = pytest.mark.integration
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "postgres trader phrase"


def test_an_order_fills_and_the_audit_chain_holds_on_postgres(pg_url: str) -> None:
    store = Store(pg_url)
    Accounts(store, Passwords(FAST)).create_user("pat", PASSWORD, "trader")
    store.close()
    settings = load_settings(None, {
        "database.url": pg_url, "run.symbols": ["SPX"], "run.start": "2010-01-01",
        "run.speed": 50, "strategies.enabled": [],
    }, env={})  # fmt: skip
    app = create_app(settings, ApiOptions(ws_heartbeat_seconds=0.5), hasher=FAST)
    with TestClient(app) as client:
        grant = client.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": "pat", "password": PASSWORD},
        )
        auth = {"Authorization": f"Bearer {grant.json()['access_token']}"}  # fmt: skip
        for _ in range(200):
            if client.get("/api/v1/portfolio", headers=auth).json()["session"]["data_time"]:
                break
            time.sleep(0.02)
        r = client.post("/api/v1/orders", headers=auth,
                        json={"symbol": "SPX", "side": "sell", "quantity": "2"})  # fmt: skip
        assert r.status_code == 201, r.text
        oid = r.json()["id"]
        for _ in range(500):
            stored = client.get(f"/api/v1/orders/{oid}", headers=auth).json()
            if stored["status"] == "filled":
                break
            time.sleep(0.02)
        assert stored["status"] == "filled"
        book = client.get("/api/v1/portfolio", headers=auth).json()
    assert [(p["symbol"], p["quantity"]) for p in book["positions"]] == [("SPX", "-2")]
    assert Decimal(book["cash"]) == Decimal("100000") + 2 * Decimal(stored["avg_price"])
    store = Store(pg_url)
    try:
        audit = AuditLog(store)
        result = audit.verify()
        actions = {(e.action, e.actor) for e in audit.entries(limit=1000)}
        assert result.ok and result.entries >= 5
        assert {("POST /api/v1/orders", "pat"), ("order.filled", "pat")} <= actions
    finally:
        store.close()
    engine = create_engine(pg_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"))
        conn.execute(text("UPDATE audit_log SET result = 'ok', actor = 'nobody' WHERE seq = 2"))
    engine.dispose()
    store = Store(pg_url)
    try:
        broken = AuditLog(store).verify()
    finally:
        store.close()
    assert not broken.ok and broken.broken_at == 2
