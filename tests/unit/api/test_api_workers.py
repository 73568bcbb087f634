"""What each of several ``serve --workers N`` processes builds: the app from the config file
and overrides handed over in the environment, without the paper session (one account, one
kernel), so reads work and orders answer 503 with a problem that says why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apitest_support import login, make_users
from fastapi.testclient import TestClient

from neural_trader.api import server


def test_a_worker_app_reads_but_does_not_trade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'nt.db'}"
    make_users(url)
    config = tmp_path / "config.toml"
    config.write_text('[run]\nsymbols = ["SPX"]\n[strategies]\nenabled = []\n')
    monkeypatch.setenv(server.SERVE_ENV, json.dumps(
        {"config": str(config), "overrides": {"database.url": url}}))  # fmt: skip
    app = server.app_from_env()
    with TestClient(app) as client:
        token = login(client, "trader")
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/strategies", headers=headers).status_code == 200
        r = client.post("/api/v1/orders", headers=headers,
                        json={"symbol": "SPX", "side": "buy", "quantity": "1"})  # fmt: skip
        assert r.status_code == 503 and "several workers" in r.json()["detail"]
        ready = client.get("/health/ready").json()
        assert ready["status"] == "ok" and ready["components"]["trading"] == {"status": "disabled"}
        assert app.state.ctx.trader.settings.database.url == url
