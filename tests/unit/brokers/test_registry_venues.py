"""This session's venues as a user configures them: each ``[brokers.NAME]`` table builds its
adapter, a missing credential is a ConfigError naming the setting and its environment
variable, venues without a paper environment refuse ``paper_trading = true``, and
``td_ameritrade`` builds the Schwab adapter with a notice."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from neural_trader.brokers.base import VenueError
from neural_trader.brokers.etrade import EtradeBroker
from neural_trader.brokers.ibkr import IbkrBroker
from neural_trader.brokers.registry import build_clients
from neural_trader.brokers.robinhood import RobinhoodBroker
from neural_trader.brokers.schwab import SchwabBroker
from neural_trader.brokers.webull import WebullBroker
from neural_trader.config import load_settings
from neural_trader.errors import ConfigError

SEED = base64.b64encode(bytes(range(32))).decode()


def settings(**overrides: object) -> object:
    return load_settings(None, overrides, env={})


def test_webull_and_etrade_build_from_their_tables() -> None:
    (webull,) = build_clients(
        "webull",
        settings(**{"brokers.webull.api_key": "k", "brokers.webull.api_secret": "s"}),
    )
    assert isinstance(webull, WebullBroker)
    with pytest.raises(ConfigError, match="NT_BROKERS__ETRADE__ACCESS_TOKEN"):
        build_clients(
            "etrade", settings(**{"brokers.etrade.api_key": "k", "brokers.etrade.api_secret": "s"})
        )
    (etrade,) = build_clients(
        "etrade",
        settings(
            **{
                "brokers.etrade.api_key": "k",
                "brokers.etrade.api_secret": "s",
                "brokers.etrade.access_token": "t",
                "brokers.etrade.access_token_secret": "ts",
            }
        ),
    )
    assert isinstance(etrade, EtradeBroker)


def test_interactive_brokers_reads_where_tws_listens() -> None:
    (ib,) = build_clients("interactive_brokers", settings())
    assert isinstance(ib, IbkrBroker)
    with pytest.raises(ConfigError, match=r"brokers\.interactive_brokers"):
        build_clients(
            "interactive_brokers", settings(**{"brokers.interactive_brokers.base_url": "ftp://x"})
        )


def test_robinhood_needs_a_side_and_no_paper_flag() -> None:
    with pytest.raises(ConfigError, match="no paper environment"):
        build_clients("robinhood", settings())
    with pytest.raises(ConfigError, match=r"api_key and api_secret \(crypto\)"):
        build_clients("robinhood", settings(**{"brokers.robinhood.paper_trading": False}))
    crypto_only = {
        "brokers.robinhood.paper_trading": False,
        "brokers.robinhood.api_key": "rh-key",
        "brokers.robinhood.api_secret": SEED,
    }
    (broker,) = build_clients("robinhood", settings(**crypto_only))
    assert isinstance(broker, RobinhoodBroker)
    with pytest.raises(ConfigError, match="NT_BROKERS__ROBINHOOD__PASSWORD"):
        build_clients(
            "robinhood", settings(**crypto_only, **{"brokers.robinhood.extra": {"username": "u"}})
        )


def test_td_ameritrade_is_schwab_with_a_notice(tmp_path: Path) -> None:
    table = {
        "api_key": "app-key",
        "api_secret": "app-secret",
        "paper_trading": False,
        "extra": {"token_path": str(tmp_path / "token.json")},
    }
    overrides = {f"brokers.td_ameritrade.{k}": v for k, v in table.items()}
    with capture_logs() as logs:
        try:
            clients = build_clients("td_ameritrade", settings(**overrides))
        except VenueError as exc:  # a token file is read at connect, not at build
            pytest.fail(f"building must not need the token yet: {exc}")
    assert isinstance(clients[0], SchwabBroker)
    (notice,) = [e for e in logs if e["log_level"] == "warning"]
    assert "retired into Schwab" in notice["event"] and notice["venue"] == "td_ameritrade"
