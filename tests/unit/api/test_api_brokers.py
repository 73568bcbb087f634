"""``GET /api/v1/brokers``: the same venues and facts as ``neural-trader brokers list --json``
for the same config file, credentials only as set/missing, and the session's venue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apitest_support import FAST_HASHER, ROLES, Api, login, make_users
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from neural_trader.api import ApiOptions, create_app
from neural_trader.cli import app as cli_app
from neural_trader.config import load_settings

SECRET = "alpaca-key-never-shown-0123"
CONFIG = f"""
[run]
symbols = ["SPX"]
start = "2005-01-01"
speed = 50

[strategies]
enabled = []

[brokers]
routes = {{ equity = ["paper"] }}

[brokers.alpaca]
api_key = "{SECRET}"
paper_trading = true
"""


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("brokers")
    path = root / "config.toml"
    path.write_text(CONFIG + f'\n[database]\nurl = "sqlite:///{root / "nt.db"}"\n')
    return path


@pytest.fixture(scope="module")
def api(config_file: Path) -> Iterator[Api]:
    settings = load_settings(config_file, {}, env={})
    make_users(settings.database.url)
    app = create_app(settings, ApiOptions.from_settings(settings), hasher=FAST_HASHER)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, settings.database.url, {r: login(client, r) for r in ROLES})


def _cli_list(config_file: Path) -> dict[str, Any]:
    result = CliRunner().invoke(
        cli_app, ["brokers", "list", "--json", "--config", str(config_file)]
    )
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def test_the_api_shows_what_brokers_list_shows(api: Api, config_file: Path) -> None:
    r = api.client.get("/api/v1/brokers", headers=api.headers("trader"))
    assert r.status_code == 200, r.text
    body = r.json()
    cli = _cli_list(config_file)
    assert body["brokers"] == cli["brokers"]
    assert body["routes"] == cli["routes"] == {"equity": ["paper"]}
    names = [b["name"] for b in body["brokers"]]
    assert names == sorted(names) and {"paper", "alpaca", "fidelity"} <= set(names)


def test_each_venue_says_adapter_capabilities_and_credentials(api: Api) -> None:
    rows = {b["name"]: b for b in api.client.get("/api/v1/brokers", headers=api.headers("admin"))
            .json()["brokers"]}  # fmt: skip
    assert rows["paper"]["enabled"] is True and rows["paper"]["adapter"] is True
    alpaca = rows["alpaca"]
    assert alpaca["enabled"] is False and alpaca["adapter"] is True
    assert alpaca["credentials"] == {"api_key": "set", "api_secret": "missing"}
    assert "market" in alpaca["capabilities"]["order_types"]
    fidelity = rows["fidelity"]
    assert fidelity["adapter"] is False and "no public API" in fidelity["note"]
    assert "capabilities" not in fidelity


def test_no_secret_is_ever_in_the_answer(api: Api) -> None:
    r = api.client.get("/api/v1/brokers", headers=api.headers("admin"))
    assert SECRET not in r.text


def test_the_session_venue_is_shown(api: Api) -> None:
    session = api.client.get("/api/v1/brokers", headers=api.headers("trader")).json()["session"]
    assert session["venue"] and isinstance(session["running"], bool)


def test_a_viewer_may_not_read_the_venues(api: Api) -> None:
    r = api.client.get("/api/v1/brokers", headers=api.headers("viewer"))
    assert r.status_code == 403
    assert r.json()["required"] == ["brokers:read"]
