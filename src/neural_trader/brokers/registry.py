"""From settings to adapters and a pool: which venue names exist, which have an adapter, and
what a configured venue needs before it can be built.

``paper`` is always available (the simulated venue, from the ``[paper]`` section). Venue names
of the platform that have no adapter yet are known here so that asking for one gives a clear
``BrokerError`` saying so, instead of "unknown venue".
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from neural_trader.brokers.alpaca import CAPABILITIES as ALPACA_CAPABILITIES
from neural_trader.brokers.alpaca import AlpacaBroker
from neural_trader.brokers.base import Broker, Capabilities, Failure, VenueError
from neural_trader.brokers.binance import CAPABILITIES as BINANCE_CAPABILITIES
from neural_trader.brokers.binance import BinanceBroker
from neural_trader.brokers.ccxt_broker import CcxtBroker
from neural_trader.brokers.coinbase import CAPABILITIES as COINBASE_CAPABILITIES
from neural_trader.brokers.coinbase import CoinbaseBroker
from neural_trader.brokers.etrade import CAPABILITIES as ETRADE_CAPABILITIES
from neural_trader.brokers.etrade import EtradeBroker
from neural_trader.brokers.ibkr import CAPABILITIES as IBKR_CAPABILITIES
from neural_trader.brokers.ibkr import IbkrBroker
from neural_trader.brokers.ibkr_records import endpoint as ibkr_endpoint
from neural_trader.brokers.kraken import CAPABILITIES as KRAKEN_CAPABILITIES
from neural_trader.brokers.kraken import KrakenBroker
from neural_trader.brokers.paper import FeeModel
from neural_trader.brokers.paper_adapter import PAPER_CAPABILITIES, PaperBroker
from neural_trader.brokers.pool import BrokerPool, PoolSettings
from neural_trader.brokers.robinhood import CAPABILITIES as ROBINHOOD_CAPABILITIES
from neural_trader.brokers.robinhood import RobinhoodBroker
from neural_trader.brokers.robinhood_crypto import BASE_URL as ROBINHOOD_CRYPTO_URL
from neural_trader.brokers.robinhood_crypto import CryptoClient
from neural_trader.brokers.robinhood_stocks import StocksClient
from neural_trader.brokers.routing import Router
from neural_trader.brokers.schwab import CAPABILITIES as SCHWAB_CAPABILITIES
from neural_trader.brokers.schwab import build_schwab, td_ameritrade_notice
from neural_trader.brokers.webull import CAPABILITIES as WEBULL_CAPABILITIES
from neural_trader.brokers.webull import WebullBroker
from neural_trader.config import BrokerSettings, Settings
from neural_trader.core.bus import MessageBus
from neural_trader.core.instruments import InstrumentRegistry
from neural_trader.core.portfolio import Portfolio
from neural_trader.errors import ConfigError

Factory = Callable[[str, BrokerSettings, Settings, InstrumentRegistry], Broker]

# Venues of the platform without an adapter yet, and what to know about each.
NOT_AVAILABLE = {
    "fidelity": "Fidelity offers no public API for retail trading, so there is no adapter; "
    "aggregators reach Fidelity accounts only read-only and after Fidelity's approval (SnapTrade "
    "lists Fidelity outside its read-and-trade brokers), which cannot place orders. Trade on "
    "another configured venue (e.g. schwab, alpaca, interactive_brokers, etrade)",
}

# Venues whose name is served by another venue's adapter, and why.
NOTES = {
    "td_ameritrade": "TD Ameritrade's API was retired into Schwab's: this name uses the Schwab "
    "adapter (configure it as for schwab)",
}


def _secret(name: str, cfg: BrokerSettings, key: str) -> SecretStr:
    value = getattr(cfg, key)
    if value is None or not value.get_secret_value():
        env = f"NT_BROKERS__{name.upper()}__{key.upper()}"
        raise ConfigError(f"brokers.{name}.{key} is not set (set it in the file or in {env})")
    assert isinstance(value, SecretStr)
    return value


def _paper(
    name: str, cfg: BrokerSettings, settings: Settings, instruments: InstrumentRegistry
) -> Broker:
    p = settings.paper
    fees = FeeModel(p.commission_per_share, p.commission_bps, p.commission_min)
    return PaperBroker(
        instruments,
        p.starting_cash,
        p.currency,
        fees,
        p.slippage_bps,
        p.max_volume_participation,
        name=name,
    )


def _alpaca(
    name: str, cfg: BrokerSettings, settings: Settings, instruments: InstrumentRegistry
) -> Broker:
    return AlpacaBroker(
        _secret(name, cfg, "api_key"),
        _secret(name, cfg, "api_secret"),
        paper=cfg.paper_trading,
        base_url=cfg.base_url,
        timeout_s=cfg.timeout_s,
        name=name,
    )


def _ibkr(
    name: str, cfg: BrokerSettings, settings: Settings, instruments: InstrumentRegistry
) -> Broker:
    """TWS / IB Gateway: no keys (the login is in TWS); ``base_url`` ``tws://host:port`` or
    ``extra`` host, port, client_id, and account when TWS manages several."""
    try:
        where = ibkr_endpoint(cfg.base_url, cfg.extra, paper=cfg.paper_trading)
    except VenueError as exc:
        raise ConfigError(f"brokers.{name}: {exc.message}") from None
    return IbkrBroker(where, timeout_s=cfg.timeout_s, name=name)


def _schwab(
    name: str, cfg: BrokerSettings, settings: Settings, instruments: InstrumentRegistry
) -> Broker:
    """Schwab's Trader API: app key and secret, and the token file schwab-py's login flow
    wrote (``extra.token_path``); see :func:`~neural_trader.brokers.schwab.build_schwab`."""
    return build_schwab(
        name,
        _secret(name, cfg, "api_key"),
        _secret(name, cfg, "api_secret"),
        cfg.paper_trading,
        cfg.base_url,
        cfg.extra,
        cfg.timeout_s,
    )


def _td_ameritrade(
    name: str, cfg: BrokerSettings, settings: Settings, instruments: InstrumentRegistry
) -> Broker:
    """TD Ameritrade's API was retired into Schwab's: the Schwab adapter, with a notice."""
    td_ameritrade_notice(name)
    return _schwab(name, cfg, settings, instruments)


def _robinhood(
    name: str, cfg: BrokerSettings, settings: Settings, instruments: InstrumentRegistry
) -> Broker:
    """Robinhood: ``api_key``/``api_secret`` are the Crypto Trading API key and base64 ed25519
    seed (crypto pairs); ``extra.username`` with ``password`` and ``mfa_secret`` log in for
    equities (``extra.account_number``, ``extra.session_path`` optional). Either or both."""
    if cfg.paper_trading:
        raise ConfigError(
            f"brokers.{name}: Robinhood has no paper environment; set paper_trading = false"
        )
    crypto = None
    if cfg.api_key is not None or cfg.api_secret is not None:
        crypto = CryptoClient(
            _secret(name, cfg, "api_key"),
            _secret(name, cfg, "api_secret"),
            base_url=cfg.base_url or ROBINHOOD_CRYPTO_URL,
            timeout_s=cfg.timeout_s,
        )
    stocks = None
    if cfg.extra.get("username"):
        stocks = StocksClient(
            cfg.extra["username"],
            _secret(name, cfg, "password"),
            cfg.mfa_secret,
            account_number=cfg.extra.get("account_number"),
            session_path=cfg.extra.get("session_path"),
            timeout_s=cfg.timeout_s,
        )
    if crypto is None and stocks is None:
        raise ConfigError(
            f"brokers.{name} needs api_key and api_secret (crypto) or extra.username (equities)"
        )
    return RobinhoodBroker(crypto, stocks, name=name)


def _etrade(
    name: str, cfg: BrokerSettings, settings: Settings, instruments: InstrumentRegistry
) -> Broker:
    """E*TRADE: consumer key and secret plus the day's OAuth access token and secret;
    ``extra.account_id_key`` picks the account when there are several; ``paper_trading``
    uses the sandbox."""
    return EtradeBroker(
        _secret(name, cfg, "api_key"),
        _secret(name, cfg, "api_secret"),
        _secret(name, cfg, "access_token"),
        _secret(name, cfg, "access_token_secret"),
        paper=cfg.paper_trading,
        base_url=cfg.base_url,
        timeout_s=cfg.timeout_s,
        account_id_key=cfg.extra.get("account_id_key"),
        name=name,
    )


def _webull(
    name: str, cfg: BrokerSettings, settings: Settings, instruments: InstrumentRegistry
) -> Broker:
    """Webull's OpenAPI: app key and secret; ``extra.account_id`` picks the account when the
    key reaches several; ``paper_trading`` uses Webull's test environment."""
    return WebullBroker(
        _secret(name, cfg, "api_key"),
        _secret(name, cfg, "api_secret"),
        account_id=cfg.extra.get("account_id"),
        paper=cfg.paper_trading,
        base_url=cfg.base_url,
        timeout_s=cfg.timeout_s,
        name=name,
    )


def _ccxt(cls: type[CcxtBroker]) -> Factory:
    """A crypto exchange on ccxt. ``extra.currency`` names the account currency (the venue's
    usual quote currency by default); ``paper_trading`` picks the venue's testnet where it has
    one and is refused where it has none (the adapter says so)."""

    def build(
        name: str, cfg: BrokerSettings, settings: Settings, instruments: InstrumentRegistry
    ) -> Broker:
        if cfg.base_url is not None:
            raise ConfigError(
                f"brokers.{name}.base_url is not used: ccxt knows {cls.exchange_id}'s endpoints "
                "(paper_trading selects a testnet where the venue has one)"
            )
        return cls(
            _secret(name, cfg, "api_key"),
            _secret(name, cfg, "api_secret"),
            paper=cfg.paper_trading,
            timeout_s=cfg.timeout_s,
            name=name,
            currency=cfg.extra.get("currency"),
            instruments=instruments.by_symbol.values(),  # live: later instruments are seen
        )

    return build


ADAPTERS: dict[str, Factory] = {
    "paper": _paper,
    "alpaca": _alpaca,
    "binance": _ccxt(BinanceBroker),
    "coinbase": _ccxt(CoinbaseBroker),
    "kraken": _ccxt(KrakenBroker),
    "webull": _webull,
    "etrade": _etrade,
    "schwab": _schwab,
    "td_ameritrade": _td_ameritrade,
    "robinhood": _robinhood,
    "interactive_brokers": _ibkr,
}
CAPABILITIES: dict[str, Capabilities] = {
    "paper": PAPER_CAPABILITIES,
    "alpaca": ALPACA_CAPABILITIES,
    "binance": BINANCE_CAPABILITIES,
    "coinbase": COINBASE_CAPABILITIES,
    "kraken": KRAKEN_CAPABILITIES,
    "webull": WEBULL_CAPABILITIES,
    "etrade": ETRADE_CAPABILITIES,
    "schwab": SCHWAB_CAPABILITIES,
    "td_ameritrade": SCHWAB_CAPABILITIES,
    "robinhood": ROBINHOOD_CAPABILITIES,
    "interactive_brokers": IBKR_CAPABILITIES,
}


def venue_rows(settings: Settings) -> list[dict[str, Any]]:
    """Every venue known here or in the settings, as ``brokers list`` and
    ``GET /api/v1/brokers`` show it: enabled, adapter, credentials set (never their values),
    capabilities or why there is no adapter."""
    names = sorted({*configured(settings), *settings.brokers.venues, *ADAPTERS, *NOT_AVAILABLE})
    return [_row(name, settings) for name in names]


def _row(name: str, settings: Settings) -> dict[str, Any]:
    cfg = venue_settings(name, settings)
    row: dict[str, Any] = {
        "name": name,
        "enabled": name in configured(settings),
        "paper_trading": cfg.paper_trading,
        "credentials": {
            "api_key": "set" if cfg.api_key is not None else "missing",
            "api_secret": "set" if cfg.api_secret is not None else "missing",
        },
    }
    try:
        adapter_for(name)
    except VenueError as exc:
        return row | {"adapter": False, "note": exc.message}
    row |= {"adapter": True, "capabilities": CAPABILITIES[name].describe()}
    note = NOTES.get(name)
    return row if note is None else row | {"note": note}


def configured(settings: Settings) -> list[str]:
    """The venues the pool runs: ``[brokers] enabled``, or just ``paper`` when none is."""
    return list(settings.brokers.enabled) or ["paper"]


def venue_settings(name: str, settings: Settings) -> BrokerSettings:
    return settings.brokers.venues.get(name) or BrokerSettings()


def adapter_for(name: str) -> Factory:
    factory = ADAPTERS.get(name)
    if factory is not None:
        return factory
    reason = NOT_AVAILABLE.get(name)
    if reason is not None:
        raise VenueError(f"{name}: {reason}", Failure.UNSUPPORTED, venue=name)
    known = sorted([*ADAPTERS, *NOT_AVAILABLE])
    raise VenueError(f"unknown venue {name!r}", Failure.UNSUPPORTED, known=known)


def build_clients(
    name: str, settings: Settings, instruments: InstrumentRegistry | None = None
) -> list[Broker]:
    """``connections`` clients of venue ``name`` (capped by what the venue allows)."""
    factory = adapter_for(name)
    cfg = venue_settings(name, settings)
    registry = instruments or InstrumentRegistry()
    first = factory(name, cfg, settings, registry)
    count = min(cfg.connections, first.capabilities.max_connections)
    return [first] + [factory(name, cfg, settings, registry) for _ in range(count - 1)]


def build_pool(
    settings: Settings,
    bus: MessageBus,
    ledger: Portfolio | None = None,
    rng: random.Random | None = None,
) -> BrokerPool:
    """The pool of every configured venue, with the ``[brokers]`` routes and pool settings."""
    names = configured(settings)
    instruments = ledger.instruments if ledger is not None else InstrumentRegistry()
    clients = {name: build_clients(name, settings, instruments) for name in names}
    try:
        router = Router.from_rules(settings.brokers.routes, names)
    except VenueError as exc:
        raise ConfigError(f"brokers.routes: {exc.message}") from None
    b = settings.brokers
    pool_settings = PoolSettings(
        health_check_interval_s=b.health_check_interval_s,
        reconnect_base_s=min(PoolSettings.reconnect_base_s, b.reconnect_max_s),
        reconnect_max_s=b.reconnect_max_s,
        breaker_failures=b.breaker_failures,
    )
    rates = {
        name: cfg.max_requests_per_s
        for name in names
        if (cfg := venue_settings(name, settings)).max_requests_per_s is not None
    }
    return BrokerPool(bus, clients, router, ledger, pool_settings, rng=rng, requests_per_s=rates)
