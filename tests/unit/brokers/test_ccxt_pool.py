"""Binance, Coinbase and Kraken through BrokerPool end to end: the real kernel and ledger on one
side, the real adapter and ccxt client against a stateful fake of the venue's REST API (in its
documented format) on the other. An order is placed, the venue fills it in two parts while the
pool polls, and reconciliation then finds the ledger equal to the venue's balances: the pair's
position and the cash in the quote currency, to the last digit."""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fake_crypto_venues import FakeBinance, FakeCoinbase, FakeKraken, FakeSpot
from pydantic import SecretStr

from neural_trader.brokers.base import Broker
from neural_trader.brokers.binance import BinanceBroker
from neural_trader.brokers.ccxt_broker import CcxtBroker
from neural_trader.brokers.coinbase import CoinbaseBroker
from neural_trader.brokers.events import PositionMismatch, ReconciliationReport
from neural_trader.brokers.execution import PoolVenue
from neural_trader.brokers.kraken import KrakenBroker
from neural_trader.brokers.pool import BrokerPool, PoolSettings
from neural_trader.brokers.routing import Router
from neural_trader.core.bus import MessageBus
from neural_trader.core.clock import LiveClock
from neural_trader.core.events import OrderFilled
from neural_trader.core.instruments import CryptoPair, Instrument, InstrumentRegistry
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType
from neural_trader.core.portfolio import Portfolio
from neural_trader.risk.gate import PreTradeGate, RiskLimits
from neural_trader.trading.kernel import Kernel

D = Decimal
FAST = PoolSettings(health_check_interval_s=3600, reconnect_base_s=0.01, reconnect_max_s=0.05)
EC_KEY = (
    ec.generate_private_key(ec.SECP256R1())
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    .decode()
)
KRAKEN_SECRET = base64.b64encode(b"s" * 64).decode()
Build = Callable[[list[Instrument]], CcxtBroker]
VENUES: dict[str, tuple[Callable[[dict[str, Decimal]], FakeSpot], Build, str]] = {
    "binance": (
        FakeBinance,
        lambda pairs: BinanceBroker(SecretStr("k"), SecretStr("s"), False, instruments=pairs),
        "USDT",
    ),
    "coinbase": (
        FakeCoinbase,
        lambda pairs: CoinbaseBroker(
            SecretStr("organizations/o/apiKeys/k"), SecretStr(EC_KEY), False, instruments=pairs
        ),
        "USD",
    ),
    "kraken": (
        FakeKraken,
        lambda pairs: KrakenBroker(
            SecretStr("k"), SecretStr(KRAKEN_SECRET), False, instruments=pairs
        ),
        "USD",
    ),
}


async def until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    async def wait() -> None:
        while not check():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(wait(), timeout)


@pytest.fixture(params=sorted(VENUES))
def venue(request: pytest.FixtureRequest) -> Iterator[tuple[str, FakeSpot, CcxtBroker, str]]:
    fake_cls, build, quote = VENUES[request.param]
    fake = fake_cls({quote: D("10000.00"), "BTC": D(0)})
    pair = CryptoPair(f"BTC/{quote}", base_currency="BTC", currency=quote)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        fake.install(http, fake.routes())
        broker = build([pair])
        broker.poll_interval_s = 0.01
        yield request.param, fake, broker, quote


async def test_place_fill_and_reconcile_equal_to_the_venue(
    venue: tuple[str, FakeSpot, CcxtBroker, str],
) -> None:
    name, fake, broker, quote = venue
    symbol = f"BTC/{quote}"
    instruments = InstrumentRegistry()
    instruments.add(CryptoPair(symbol, base_currency="BTC", currency=quote))
    bus = MessageBus()
    ledger = Portfolio(D("10000.00"), instruments)  # the same cash as the venue holds
    ledger.last_price[symbol] = 30_000.0
    clients: dict[str, list[Broker]] = {name: [broker]}
    pool = BrokerPool(
        bus, clients, Router.from_rules({}, [name]), ledger, FAST, rng=random.Random(3),
        requests_per_s={name: 1000.0},
    )  # fmt: skip
    kernel = Kernel(bus=bus, clock=LiveClock(), venue=PoolVenue(pool),
                    gate=PreTradeGate(RiskLimits()), portfolio=ledger)  # fmt: skip
    events: list[Any] = []
    for kind in (OrderFilled, ReconciliationReport, PositionMismatch):
        bus.subscribe(kind, events.append)
    await pool.start()
    assert pool.health()["status"] == "ok", pool.health()
    try:
        order = kernel.submit(
            Order("cx-1", "s1", symbol, OrderSide.BUY, D("0.01"), OrderType.LIMIT,
                  limit_price=D("30000"))
        )  # fmt: skip
        await until(lambda: order.status is OrderStatus.ACCEPTED)
        assert fake.posts == 1 and fake.by_cid("cx-1") is not None
        fake.fill("cx-1", "0.004", "30000", fee="0.12")
        fake.fill("cx-1", "0.006", "29999.5", fee="0.18")
        await until(lambda: order.status is OrderStatus.FILLED)
        assert [e.fill.quantity for e in events if isinstance(e, OrderFilled)] == [
            D("0.004"),
            D("0.006"),
        ]
        report = await pool.reconciler.run(pool.venue(name))
        assert report.clean, report
        assert not [e for e in events if isinstance(e, PositionMismatch)]
        assert {p.symbol: p.quantity for p in ledger.open_positions()} == {symbol: D("0.01")}
        assert {p.symbol: p.quantity for p in await broker.positions()} == {symbol: D("0.01")}
        assert ledger.cash == fake.balances[quote] == D("10000.00") - D("299.997") - D("0.30")
        assert fake.posts == 1  # sent once, however often the pool polled and reconciled
    finally:
        await pool.stop()
