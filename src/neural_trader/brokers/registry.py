"""From settings to adapters and a pool: which venue names exist, which have an adapter, and
what a configured venue needs before it can be built.

``paper`` is always available (the simulated venue, from the ``[paper]`` section). Venue names
of the platform that have no adapter yet are known here so that asking for one gives a clear
``BrokerError`` saying so, instead of "unknown venue".
"""

from __future__ import annotations

import random
from collections.abc import Callable

from pydantic import SecretStr

from neural_trader.brokers.alpaca import CAPABILITIES as ALPACA_CAPABILITIES
from neural_trader.brokers.alpaca import AlpacaBroker
from neural_trader.brokers.base import Broker, Capabilities, Failure, VenueError
from neural_trader.brokers.binance import CAPABILITIES as BINANCE_CAPABILITIES
from neural_trader.brokers.binance import BinanceBroker
from neural_trader.brokers.ccxt_broker import CcxtBroker
from neural_trader.brokers.coinbase import CAPABILITIES as COINBASE_CAPABILITIES
from neural_trader.brokers.coinbase import CoinbaseBroker
from neural_trader.brokers.kraken import CAPABILITIES as KRAKEN_CAPABILITIES
from neural_trader.brokers.kraken import KrakenBroker
from neural_trader.brokers.paper import FeeModel
from neural_trader.brokers.paper_adapter import PAPER_CAPABILITIES, PaperBroker
from neural_trader.brokers.pool import BrokerPool, PoolSettings
from neural_trader.brokers.routing import Router
from neural_trader.config import BrokerSettings, Settings
from neural_trader.core.bus import MessageBus
from neural_trader.core.instruments import InstrumentRegistry
from neural_trader.core.portfolio import Portfolio
from neural_trader.errors import ConfigError

Factory = Callable[[str, BrokerSettings, Settings, InstrumentRegistry], Broker]

# Venues of the platform without an adapter yet, and what to know about each.
NOT_AVAILABLE = {
    "interactive_brokers": "the Interactive Brokers adapter (ib-async) is not built yet",
    "schwab": "the Schwab adapter (schwab-py) is not built yet",
    "td_ameritrade": "TD Ameritrade's API was retired into Schwab's; configure schwab instead "
    "(whose adapter is not built yet)",
    "robinhood": "the Robinhood adapter is not built yet",
    "webull": "the Webull OpenAPI adapter is not built yet",
    "etrade": "the E*TRADE adapter is not built yet",
    "fidelity": "Fidelity offers no public API for retail trading, so there is no adapter",
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
}
CAPABILITIES: dict[str, Capabilities] = {
    "paper": PAPER_CAPABILITIES,
    "alpaca": ALPACA_CAPABILITIES,
    "binance": BINANCE_CAPABILITIES,
    "coinbase": COINBASE_CAPABILITIES,
    "kraken": KRAKEN_CAPABILITIES,
}


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
