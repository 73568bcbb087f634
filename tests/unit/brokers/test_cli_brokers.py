"""``neural-trader brokers list|check``: what a user sees about the configured venues, that a
check really talks to the venue (Alpaca's API behind ``responses``), that venues without an
adapter say why, and that no credential value is ever printed."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import responses
from typer.testing import CliRunner

from neural_trader.brokers.base import VenueError
from neural_trader.brokers.registry import build_pool
from neural_trader.cli.brokers import brokers_app
from neural_trader.config import load_settings
from neural_trader.core.bus import MessageBus
from neural_trader.core.instruments import Equity, InstrumentRegistry
from neural_trader.core.portfolio import Portfolio
from neural_trader.errors import ConfigError

KEY = "PKCLIKEY99887766"
SECRET = "cli-secret-value-not-for-your-eyes"
API = "https://paper-api.alpaca.markets/v2"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("NT_CONFIG", "NT_BROKERS__ALPACA__API_KEY", "NT_BROKERS__ALPACA__API_SECRET"):
        monkeypatch.delenv(name, raising=False)


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        f"""
        [brokers]
        enabled = ["alpaca", "paper"]
        routes = {{ equity = ["alpaca", "paper"] }}
        [brokers.alpaca]
        api_key = "{KEY}"
        api_secret = "{SECRET}"
        """
    )
    return path


def test_list_json_shows_venues_capabilities_and_no_secret(tmp_path: Path) -> None:
    result = runner.invoke(brokers_app, ["list", "--config", str(write_config(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    assert KEY not in result.output and SECRET not in result.output
    data = json.loads(result.output)
    rows = {r["name"]: r for r in data["brokers"]}
    alpaca = rows["alpaca"]
    assert alpaca["enabled"] and alpaca["adapter"] and alpaca["paper_trading"]
    assert alpaca["credentials"] == {"api_key": "set", "api_secret": "set"}
    assert alpaca["capabilities"]["requests_per_s"] == pytest.approx(200 / 60)
    assert rows["fidelity"]["adapter"] is False
    assert "no public API for retail trading" in rows["fidelity"]["note"]
    assert rows["td_ameritrade"]["adapter"] and rows["schwab"]["adapter"]
    assert "retired into Schwab" in rows["td_ameritrade"]["note"]
    assert data["routes"] == {"equity": ["alpaca", "paper"]}


def test_list_table_for_people(tmp_path: Path) -> None:
    result = runner.invoke(brokers_app, ["list", "--config", str(write_config(tmp_path))])
    assert result.exit_code == 0
    assert "alpaca" in result.output and "paper" in result.output
    assert KEY not in result.output


def test_check_paper_reads_the_simulated_account() -> None:
    result = runner.invoke(brokers_app, ["check", "paper", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ok"] and data["account"]["cash"] == "100000" and data["positions"] == 0


def test_check_alpaca_talks_to_the_paper_endpoint(tmp_path: Path) -> None:
    account = {"currency": "USD", "cash": "1500.25", "buying_power": "3000.5", "equity": "1500.25"}
    with responses.RequestsMock() as http:
        http.get(f"{API}/account", json=account)
        http.get(f"{API}/clock", json={"timestamp": "2024-01-02T10:00:00-05:00", "is_open": False})
        http.get(f"{API}/positions", json=[])
        result = runner.invoke(
            brokers_app, ["check", "alpaca", "--config", str(write_config(tmp_path)), "--json"]
        )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["account"] == {
        "currency": "USD",
        "cash": "1500.25",
        "buying_power": "3000.5",
        "equity": "1500.25",
    }
    assert data["detail"] == "market closed"


def test_check_failure_is_a_broker_error_without_the_secret(tmp_path: Path) -> None:
    with responses.RequestsMock() as http:
        http.get(f"{API}/account", json={"code": 40110000, "message": "unauthorized."}, status=401)
        result = runner.invoke(
            brokers_app, ["check", "alpaca", "--config", str(write_config(tmp_path))]
        )
    assert isinstance(result.exception, VenueError)
    assert result.exception.exit_code == 7 and "unauthorized" in str(result.exception)
    assert SECRET not in str(result.exception) and KEY not in result.output


def test_check_without_credentials_names_the_missing_key() -> None:
    result = runner.invoke(brokers_app, ["check", "alpaca", "--set", "brokers.enabled=alpaca"])
    assert isinstance(result.exception, ConfigError)
    assert "brokers.alpaca.api_key is not set" in str(result.exception)
    assert "NT_BROKERS__ALPACA__API_KEY" in str(result.exception)


def test_venue_without_adapter_says_why() -> None:
    result = runner.invoke(brokers_app, ["check", "fidelity"])
    assert isinstance(result.exception, VenueError)
    assert "no public API for retail trading" in str(result.exception)


def test_pool_from_settings_uses_routes_and_pool_keys(tmp_path: Path) -> None:
    settings = load_settings(
        write_config(tmp_path),
        {"brokers.health_check_interval_s": 5, "brokers.breaker_failures": 2},
        env={},
    )
    instruments = InstrumentRegistry()
    instruments.add(Equity("AAPL"))
    pool = build_pool(settings, MessageBus(), Portfolio(Decimal(1000), instruments))
    assert sorted(pool.venues) == ["alpaca", "paper"]
    assert pool.route("AAPL") == ("alpaca", "paper")
    assert pool.settings.health_check_interval_s == 5 and pool.settings.breaker_failures == 2
    bad = load_settings(write_config(tmp_path), {"brokers.routes": {"crypto": ["kraken"]}}, env={})
    with pytest.raises(ConfigError, match=r"brokers\.routes: route .crypto. names kraken"):
        build_pool(bad, MessageBus())
