"""BrokerPool end to end: the real kernel and ledger on one side, the simulated venue (through
its port adapter) or the real Alpaca adapter against a stateful fake of Alpaca's HTTP API on
the other. The fault tests end the same way: every order exists exactly once at the venue, no
order is lost, and the ledger's positions equal the venue's."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import responses
from fake_alpaca_venue import FakeAlpaca
from pydantic import SecretStr

from neural_trader.brokers.alpaca import AlpacaBroker
from neural_trader.brokers.base import Broker
from neural_trader.brokers.events import (
    BrokerDown,
    BrokerUp,
    ForeignOrder,
    OrderUnresolved,
    PositionMismatch,
    ReconciliationReport,
    VenueStateUnknown,
)
from neural_trader.brokers.execution import PoolVenue
from neural_trader.brokers.paper_adapter import PaperBroker
from neural_trader.brokers.pool import BrokerPool, PoolSettings
from neural_trader.brokers.routing import Router
from neural_trader.core.bus import MessageBus
from neural_trader.core.clock import LiveClock
from neural_trader.core.events import OrderFilled, OrderRejected
from neural_trader.core.instruments import CryptoPair, Equity, InstrumentRegistry
from neural_trader.core.market_data import Bar
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType
from neural_trader.core.portfolio import Portfolio
from neural_trader.risk.gate import PreTradeGate, RiskLimits
from neural_trader.trading.kernel import Kernel

D = Decimal
FAST = PoolSettings(
    health_check_interval_s=3600, reconnect_base_s=0.01, reconnect_max_s=0.05, breaker_failures=3
)
RECORDED = (
    BrokerUp,
    BrokerDown,
    ForeignOrder,
    OrderUnresolved,
    PositionMismatch,
    ReconciliationReport,
    VenueStateUnknown,
    OrderFilled,
    OrderRejected,
)


class Rig:
    """A kernel trading through a pool; ``events`` records everything published."""

    def __init__(
        self,
        venues: dict[str, list[Broker]],
        routes: dict[str, list[str]] | None = None,
        settings: PoolSettings = FAST,
    ) -> None:
        self.instruments = InstrumentRegistry()
        for sym in ("AAPL", "MSFT"):
            self.instruments.add(Equity(sym))
        self.instruments.add(CryptoPair("BTC/USD", currency="USD"))
        self.bus = MessageBus()
        self.ledger = Portfolio(D(100_000), self.instruments)
        self.ledger.last_price.update({"AAPL": 150.0, "MSFT": 300.0, "BTC/USD": 40_000.0})
        router = Router.from_rules(routes or {}, list(venues))
        # Alpaca's documented budget is 200 requests a minute; the storms here need more.
        rates = dict.fromkeys(venues, 1000.0)
        self.pool = BrokerPool(
            self.bus,
            venues,
            router,
            self.ledger,
            settings,
            rng=random.Random(7),
            requests_per_s=rates,
        )
        self.kernel = Kernel(
            bus=self.bus,
            clock=LiveClock(),
            venue=PoolVenue(self.pool),
            gate=PreTradeGate(RiskLimits()),
            portfolio=self.ledger,
        )
        self.events: list[Any] = []
        for kind in RECORDED:
            self.bus.subscribe(kind, self.events.append)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def order(self, cid: str, symbol: str = "AAPL", qty: str = "10", **kw: Any) -> Order:
        return self.kernel.submit(Order(cid, "s1", symbol, OrderSide.BUY, D(qty), **kw))


async def until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    """Let the pool's tasks run until ``check()`` holds (bounded, generously for a loaded
    machine: a hang is a failure)."""

    async def wait() -> None:
        while not check():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(wait(), timeout)


def bar(symbol: str, price: float) -> Bar:
    return Bar(symbol, 1, price, price + 1, price - 1, price, 1_000_000)


def submitted(cid: str, qty: str = "10") -> Order:
    order = Order(cid, "s1", "AAPL", OrderSide.BUY, D(qty))
    order.transition(OrderStatus.SUBMITTED, 1)
    return order


# -- the paper venue end to end --------------------------------------------------------------
@pytest.fixture
async def paper_rig() -> AsyncIterator[tuple[Rig, PaperBroker]]:
    instruments = InstrumentRegistry()
    instruments.add(Equity("AAPL"))
    paper = PaperBroker(instruments, D(100_000))
    rig = Rig({"paper": [paper]})
    await rig.pool.start()
    yield rig, paper
    await rig.pool.stop()


async def test_paper_order_fills_and_ledger_equals_venue(
    paper_rig: tuple[Rig, PaperBroker],
) -> None:
    rig, paper = paper_rig
    order = rig.order("o1")
    await until(lambda: order.status is OrderStatus.ACCEPTED)
    paper.on_bar(bar("AAPL", 151.0))
    await until(lambda: order.status is OrderStatus.FILLED)
    assert order.avg_price == D("151.00")
    assert rig.ledger.quantity("AAPL") == D(10)
    assert rig.ledger.cash == D(100_000) - D(1510)
    assert {p.symbol: p.quantity for p in await paper.positions()} == {"AAPL": D(10)}
    assert rig.pool.health()["status"] == "ok"
    start_report = rig.of(ReconciliationReport)[0]
    assert start_report.clean and start_report.fills_applied == 0


async def test_concurrent_duplicate_submits_send_once(
    paper_rig: tuple[Rig, PaperBroker],
) -> None:
    rig, paper = paper_rig
    order = submitted("dup", "5")
    results = await asyncio.gather(*(rig.pool.submit(order) for _ in range(20)))
    assert all(r is results[0] for r in results)
    assert len(await paper.open_orders()) == 1
    paper.on_bar(bar("AAPL", 100.0))
    await until(lambda: rig.ledger.quantity("AAPL") == D(5))
    await asyncio.sleep(0.02)
    assert rig.ledger.quantity("AAPL") == D(5) and len(rig.of(OrderFilled)) == 1


async def test_cancel_through_the_kernel(paper_rig: tuple[Rig, PaperBroker]) -> None:
    rig, paper = paper_rig
    order = rig.order("lim", order_type=OrderType.LIMIT, limit_price=D("90.00"))
    await until(lambda: order.status is OrderStatus.ACCEPTED)
    rig.kernel.cancel("lim")
    await until(lambda: order.status is OrderStatus.CANCELED)
    assert await paper.open_orders() == []


async def test_failover_only_while_the_primary_is_down() -> None:
    instruments = InstrumentRegistry()
    instruments.add(Equity("AAPL"))
    primary, backup = PaperBroker(instruments, D(1000)), PaperBroker(instruments, D(1000))
    rig = Rig(
        {"a": [primary], "b": [backup]},
        routes={"equity": ["a", "b"]},
        settings=PoolSettings(reconnect_base_s=30, reconnect_max_s=60),
    )
    await rig.pool.start()
    first = rig.order("f1", qty="1")
    await until(lambda: first.status is OrderStatus.ACCEPTED)
    assert [o.client_order_id for o in await primary.open_orders()] == ["f1"]
    await primary.close()  # the connection drops
    assert await rig.pool.check("a") is False
    second = rig.order("f2", qty="1")
    await until(lambda: second.status is OrderStatus.ACCEPTED)
    assert [o.client_order_id for o in await backup.open_orders()] == ["f2"]
    assert rig.pool.health()["status"] == "degraded"
    assert rig.of(BrokerDown)[0].venue == "a"
    await rig.pool.stop()


async def test_no_route_is_a_clear_rejection(paper_rig: tuple[Rig, PaperBroker]) -> None:
    rig, _ = paper_rig
    rig.pool.router = Router.from_rules({}, ["paper", "other"])
    order = rig.order("nr")
    await until(lambda: order.status is OrderStatus.REJECTED)
    assert "no route for AAPL (equity)" in order.reason


# -- faults against Alpaca's HTTP API --------------------------------------------------------
@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    venue = FakeAlpaca()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        venue.install(http)
        yield venue


async def alpaca_rig(settings: PoolSettings = FAST) -> Rig:
    rig = Rig({"alpaca": [AlpacaBroker(SecretStr("key"), SecretStr("secret"))]}, settings=settings)
    await rig.pool.start()
    return rig


def venue_positions(venue: FakeAlpaca) -> dict[str, Decimal]:
    return {s: q for s, q in venue.positions.items() if q}


def ledger_positions(rig: Rig) -> dict[str, Decimal]:
    return {p.symbol: p.quantity for p in rig.ledger.open_positions()}


async def test_dropped_before_the_venue_saw_it_is_sent_again_once(fake: FakeAlpaca) -> None:
    rig = await alpaca_rig()
    fake.fail("POST", "/orders", "drop")
    order = rig.order("drop1")
    await until(lambda: order.status is OrderStatus.ACCEPTED)
    assert fake.posts == 1 and fake.by_cid("drop1") is not None
    unresolved = rig.of(OrderUnresolved)
    assert len(unresolved) == 1 and "connection failed" in unresolved[0].reason
    await rig.pool.stop()


async def test_reply_lost_after_the_venue_took_it_is_adopted_not_resent(
    fake: FakeAlpaca,
) -> None:
    """The duplicate-submit-after-timeout case: the venue has the order, we never heard."""
    rig = await alpaca_rig()
    fake.fail("POST", "/orders", "lose_reply")
    order = rig.order("lost1")
    await until(lambda: order.status is OrderStatus.ACCEPTED)
    assert fake.posts == 1
    # the strategy (or a restart) submits the same id again: nothing goes out
    await rig.pool.submit(submitted("lost1"))
    assert fake.posts == 1 and fake.hits.get("POST /orders") == 1
    fake.fill("lost1", "10", "150.5")
    await until(lambda: order.status is OrderStatus.FILLED)
    assert ledger_positions(rig) == venue_positions(fake) == {"AAPL": D(10)}
    await rig.pool.stop()


async def test_venue_drops_mid_order_then_fills_while_we_reconnect(fake: FakeAlpaca) -> None:
    rig = await alpaca_rig()
    order = rig.order("mid1")
    await until(lambda: order.status is OrderStatus.ACCEPTED)
    # the connection goes: every request fails until the venue is back
    fake.fail("GET", "/", "drop", count=6)
    assert await rig.pool.check("alpaca") is False
    fake.fill("mid1", "4", "150")  # executions while we are disconnected
    fake.fill("mid1", "6", "151")
    await until(lambda: order.status is OrderStatus.FILLED)
    await until(lambda: rig.pool.health()["status"] == "ok")
    assert order.filled_quantity == D(10) and order.avg_price == D("150.6")
    assert len(rig.of(OrderFilled)) == 2
    assert ledger_positions(rig) == venue_positions(fake) == {"AAPL": D(10)}
    assert rig.of(BrokerUp)[-1].reconnects == 1 and len(rig.of(BrokerDown)) == 1
    await rig.pool.stop()


async def test_reconnect_storm_runs_one_loop_and_loses_nothing(fake: FakeAlpaca) -> None:
    rig = await alpaca_rig()
    orders = [rig.order(f"st{i}", qty="1") for i in range(5)]
    await until(lambda: all(o.status is OrderStatus.ACCEPTED for o in orders))
    fake.fail("GET", "/", "drop", count=40)  # 25 checks in flight, then 15 failed reconnects
    checks = await asyncio.gather(*(rig.pool.check("alpaca") for _ in range(25)))
    assert not any(checks)
    # an order decided during the outage is refused at once, not queued or doubled
    refused = rig.order("st-down", qty="1")
    await until(lambda: refused.status is OrderStatus.REJECTED)
    assert "alpaca is down" in refused.reason
    for o in orders:
        fake.fill(o.client_order_id, "1", "150")
    await until(lambda: rig.pool.health()["status"] == "ok", timeout=30)
    await until(lambda: all(o.status is OrderStatus.FILLED for o in orders))
    assert len(rig.of(BrokerDown)) == 1 and len(rig.of(BrokerUp)) == 2  # start + one recovery
    assert rig.pool.venue("alpaca").reconnects == 1 and not fake.faults
    assert fake.posts == 5 and fake.by_cid("st-down") is None
    assert ledger_positions(rig) == venue_positions(fake) == {"AAPL": D(5)}
    await rig.pool.stop()


async def test_fill_arriving_during_reconciliation_is_booked_once(fake: FakeAlpaca) -> None:
    rig = await alpaca_rig()
    order = rig.order("race1")
    await until(lambda: order.status is OrderStatus.ACCEPTED)
    fake.fill("race1", "3", "150")

    def fill_meanwhile() -> None:
        """The rest executes between the reconciliation's fills read and its orders read."""
        placed = fake.by_cid("race1")
        if placed is not None and placed["filled_qty"] == "3":
            fake.fill("race1", "7", "152")

    fake.before_list = fill_meanwhile
    await rig.pool.reconciler.run(rig.pool.venue("alpaca"))
    await until(lambda: order.status is OrderStatus.FILLED)
    await asyncio.sleep(0.05)
    assert [f.fill.quantity for f in rig.of(OrderFilled)] == [D(3), D(7)]
    assert ledger_positions(rig) == venue_positions(fake) == {"AAPL": D(10)}
    await rig.pool.stop()


async def test_cancel_is_applied_after_its_fills(fake: FakeAlpaca) -> None:
    rig = await alpaca_rig()
    order = rig.order("pc1")
    await until(lambda: order.status is OrderStatus.ACCEPTED)
    fake.fill("pc1", "4", "150")
    fake.set_status("pc1", "canceled")
    await until(lambda: order.status is OrderStatus.CANCELED)
    assert order.filled_quantity == D(4)  # the partial fill was booked before the cancel
    assert ledger_positions(rig) == venue_positions(fake) == {"AAPL": D(4)}
    await rig.pool.stop()


async def test_reconciliation_reports_what_it_will_not_guess(fake: FakeAlpaca) -> None:
    fake.positions["MSFT"] = D(7)  # held at the venue, unknown to the ledger
    manual = "0f0f0f0f-0000-4000-8000-000000000000"
    fake.orders[manual] = {
        "id": manual,
        "client_order_id": "manual-1",
        "symbol": "MSFT",
        "qty": "1",
        "filled_qty": "0",
        "type": "market",
        "side": "sell",
        "status": "new",
        "filled_avg_price": None,
        "created_at": "2024-01-02T15:00:00Z",
    }
    rig = await alpaca_rig()
    report = rig.of(ReconciliationReport)[0]
    assert report.foreign_orders == ["manual-1"] and report.mismatches == ["MSFT"]
    mismatch = rig.of(PositionMismatch)[0]
    assert (mismatch.symbol, mismatch.ledger, mismatch.venue_quantity) == ("MSFT", 0, 7)
    assert rig.of(ForeignOrder)[0].order.client_order_id == "manual-1"
    # an order state Alpaca's table does not list: reported, the order left as it was
    order = rig.order("odd1")
    await until(lambda: order.status is OrderStatus.ACCEPTED)
    fake.set_status("odd1", "pending_split")
    await until(lambda: bool(rig.of(VenueStateUnknown)))
    unknown = rig.of(VenueStateUnknown)[0]
    assert (unknown.client_order_id, unknown.state) == ("odd1", "pending_split")
    assert order.status is OrderStatus.ACCEPTED
    await rig.pool.stop()


async def test_venue_reject_reaches_the_order(fake: FakeAlpaca) -> None:
    rig = await alpaca_rig()
    order = rig.order("poor1", qty="1500")  # 225,000 at 150 against 200,000 buying power
    await until(lambda: order.status is OrderStatus.REJECTED)
    assert "insufficient buying power" in order.reason
    assert rig.ledger.cash == D(100_000) and fake.posts == 0
    await rig.pool.stop()
