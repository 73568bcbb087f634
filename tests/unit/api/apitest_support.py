"""Helpers of the API tests: settings for a test server, users made the way the CLI makes
them, logging in, and waiting for the replay and for orders."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from neural_trader.config import load_settings
from neural_trader.security import Accounts, Passwords
from neural_trader.storage import Store

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORDS = {
    "viewer": "viewer password 1",
    "trader": "trader password 1",
    "admin": "admin password 1",
}
ROLES = ("viewer", "trader", "admin")


def api_settings(url: str, **extra: Any) -> Any:
    overrides = {
        "database.url": url,
        "data.results_dir": tempfile.mkdtemp(prefix="nt-api-results-"),  # backtest reports
        "run.symbols": ["SPX"],
        "run.start": "2005-01-01",
        "run.speed": 50,
        "strategies.enabled": [],
        **extra,
    }
    return load_settings(None, overrides, env={})


def make_users(url: str) -> None:
    store = Store(url)
    accounts = Accounts(store, Passwords(FAST_HASHER))
    for role in ROLES:
        accounts.create_user(f"{role}-user", PASSWORDS[role], role)
    store.close()


def login(client: TestClient, role: str) -> str:
    r = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": f"{role}-user", "password": PASSWORDS[role]},
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


@dataclass
class Api:
    client: TestClient
    url: str
    tokens: dict[str, str]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def wait_for_data(self) -> None:
        """Until the replay has produced a price (orders need one to be valued)."""
        for _ in range(200):
            book = self.client.get("/api/v1/portfolio", headers=self.headers("viewer")).json()
            if book["session"]["data_time"]:
                return
            time.sleep(0.02)
        raise AssertionError("the paper session produced no data")

    def wait_order(self, order_id: str, status: str, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.client.get(f"/api/v1/orders/{order_id}", headers=self.headers("viewer"))
            if r.status_code == 200 and r.json()["status"] == status:
                return dict(r.json())
            time.sleep(0.02)
        raise AssertionError(f"order {order_id} never became {status}")
