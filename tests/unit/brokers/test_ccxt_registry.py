"""The ccxt venues as configured by a user: ``[brokers.NAME]`` tables build the adapters, the
paper flag picks Binance's testnet and is refused for Coinbase and Kraken, the account
currency comes from ``extra``, and ``brokers list`` shows their capabilities without secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from neural_trader.brokers.base import VenueError
from neural_trader.brokers.binance import BinanceBroker
from neural_trader.brokers.kraken import KrakenBroker
from neural_trader.brokers.registry import build_clients
from neural_trader.cli.brokers import brokers_app
from neural_trader.config import load_settings
from neural_trader.core.instruments import CryptoPair, InstrumentRegistry
from neural_trader.errors import ConfigError

SECRET = "ccxt-registry-secret-never-printed"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NT_CONFIG", raising=False)


def config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(body)
    return path


def test_tables_build_the_adapters_with_their_options(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        f"""
        [brokers]
        enabled = ["binance", "kraken"]
        [brokers.binance]
        api_key = "bk"
        api_secret = "{SECRET}"
        extra = {{ currency = "usdc" }}
        timeout_s = 4
        connections = 8
        [brokers.kraken]
        api_key = "kk"
        api_secret = "{SECRET}"
        paper_trading = false
        connections = 3
        """,
    )
    settings = load_settings(path, env={})
    instruments = InstrumentRegistry()
    binance = build_clients("binance", settings, instruments)
    assert len(binance) == 4  # capped at the venue's max_connections
    first = binance[0]
    assert isinstance(first, BinanceBroker) and first.paper and first.currency == "USDC"
    kraken = build_clients("kraken", settings, instruments)
    assert len(kraken) == 1 and isinstance(kraken[0], KrakenBroker)  # one nonce sequence
    # the registry is seen live: an instrument added after building names the position
    instruments.add(
        CryptoPair("BTC-USD@kraken", base_currency="BTC", currency="USD", venue="kraken")
    )
    assert kraken[0].symbols.for_asset("BTC", "USD") == "BTC-USD@kraken"


def test_paper_flag_on_a_venue_without_sandbox_is_a_clear_error(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        f"""
        [brokers.coinbase]
        api_key = "organizations/o/apiKeys/k"
        api_secret = "{SECRET}"
        """,
    )
    with pytest.raises(VenueError, match="coinbase: coinbase has no sandbox") as info:
        build_clients("coinbase", load_settings(path, env={}))
    assert SECRET not in str(info.value)


def test_base_url_and_missing_keys_are_config_errors(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        """
        [brokers.binance]
        api_key = "bk"
        api_secret = "bs"
        base_url = "https://example.invalid"
        [brokers.kraken]
        paper_trading = false
        """,
    )
    settings = load_settings(path, env={})
    with pytest.raises(ConfigError, match=r"brokers\.binance\.base_url is not used"):
        build_clients("binance", settings)
    with pytest.raises(ConfigError, match="NT_BROKERS__KRAKEN__API_KEY"):
        build_clients("kraken", settings)


def test_brokers_list_shows_the_ccxt_venues(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        f"""
        [brokers.binance]
        api_key = "bk"
        api_secret = "{SECRET}"
        """,
    )
    result = runner.invoke(brokers_app, ["list", "--config", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    rows = {r["name"]: r for r in json.loads(result.output)["brokers"]}
    binance, coinbase, kraken = rows["binance"], rows["coinbase"], rows["kraken"]
    assert binance["adapter"] and binance["credentials"] == {"api_key": "set", "api_secret": "set"}
    assert binance["capabilities"]["requests_per_s"] == pytest.approx(20.0)  # ccxt: 50 ms
    assert binance["capabilities"]["sandbox"] and not binance["capabilities"]["shorting"]
    assert coinbase["adapter"] and not coinbase["capabilities"]["sandbox"]
    assert coinbase["capabilities"]["order_types"] == ["limit", "market", "stop_limit"]
    assert kraken["capabilities"]["time_in_force"] == ["gtc", "ioc"]
    assert kraken["capabilities"]["requests_per_s"] == pytest.approx(1.0)  # ccxt: 1000 ms
