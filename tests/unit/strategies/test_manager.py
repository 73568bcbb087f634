"""The StrategyManager on the real kernel, venue and gate: schemas, shares of the account,
pause (data flows, orders denied by the gate), stop (no more events, optional flatten)."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from neural_trader.brokers.paper import PaperVenue
from neural_trader.core.bus import MessageBus
from neural_trader.core.clock import SimulatedClock
from neural_trader.core.events import OrderDenied
from neural_trader.core.instruments import InstrumentRegistry
from neural_trader.core.market_data import Bar, BarSeries
from neural_trader.core.portfolio import Portfolio
from neural_trader.data import load_bars
from neural_trader.errors import StrategyError
from neural_trader.risk.gate import PreTradeGate, RiskLimits
from neural_trader.strategies import REGISTRY, SmaCross
from neural_trader.strategies.manager import (
    StrategyManager,
    StrategyStatus,
    parameter_schema,
    summary,
)
from neural_trader.trading.instruments import default_instrument
from neural_trader.trading.kernel import Kernel

CASH = 100_000


class Rig:
    def __init__(self, series: BarSeries) -> None:
        instruments = InstrumentRegistry()
        instruments.add(default_instrument(series.symbol))
        self.series = series
        self.bus = MessageBus()
        self.clock = SimulatedClock()
        self.portfolio = Portfolio(Decimal(CASH), instruments)
        venue = PaperVenue(self.bus, instruments)
        gate = PreTradeGate(RiskLimits(Decimal("1e18"), Decimal("1e18"), False))
        self.kernel = Kernel(
            bus=self.bus, clock=self.clock, venue=venue, gate=gate, portfolio=self.portfolio
        )
        self.manager = StrategyManager(self.kernel)
        self.denials: list[OrderDenied] = []
        self.bus.subscribe(OrderDenied, self.denials.append)

    def run(self, start: int = 0, stop: int | None = None) -> None:
        for i in range(start, len(self.series) if stop is None else stop):
            bar = self.series.bar(i)
            self.clock.advance_to(bar.ts)
            self.kernel.on_bar(bar)


class Counting(SmaCross):
    name = "counting"

    def on_start(self) -> None:
        super().on_start()
        self.bars = 0

    def on_bar(self, bar: Bar) -> None:
        self.bars += 1
        super().on_bar(bar)


@pytest.fixture(scope="module")
def spx() -> BarSeries:
    return load_bars("SPX", start="2005-01-01", end="2010-12-31")


def test_every_registered_strategy_lists_its_parameters() -> None:
    fast, slow = parameter_schema(SmaCross)
    assert (fast.name, fast.type, fast.default, fast.minimum) == ("fast", "integer", 10, 1)
    assert (slow.name, slow.default, slow.minimum) == ("slow", 30, 2)
    assert "fast SMA period" in fast.description
    for name, cls in REGISTRY.items():
        params = parameter_schema(cls)
        assert params and summary(cls), name
        built = cls(**{p.name: p.default for p in params})  # the defaults are valid together
        assert set(built.params) == {p.name for p in params}


def test_a_share_of_the_account_sizes_the_strategy(spx: BarSeries) -> None:
    rig = Rig(spx)
    half = SmaCross("half", fast=10, slow=30)
    rig.manager.add(half, 0.5)
    rig.manager.start("half")
    rig.kernel.start()
    rig.run()
    first = min(rig.kernel.orders.values(), key=lambda o: o.ts_created)
    i = int((spx.ts == first.ts_created).nonzero()[0][0])
    assert first.quantity == math.floor(0.5 * CASH / spx.close[i])  # whole units of half
    assert rig.manager.status()["half"] == {
        "status": "running", "allocation": 0.5, "strategy": "sma_cross",
    }  # fmt: skip


def test_pause_keeps_data_flowing_and_the_gate_denies_orders(spx: BarSeries) -> None:
    rig = Rig(spx)
    paused = Counting("p", fast=5, slow=20)
    rig.manager.add(paused, 1.0)
    rig.manager.start("p")
    rig.kernel.start()
    rig.run(0, 300)
    rig.manager.pause("p")
    assert not rig.kernel.open_orders("p")
    before = len(rig.kernel.orders)
    rig.run(300, 600)
    assert paused.bars == 600  # it saw every bar while paused
    asked = [o for o in list(rig.kernel.orders.values())[before:]]
    assert asked and all(o.status.value == "denied" for o in asked)
    assert {d.rule for d in rig.denials} == {"strategy_halted"}
    rig.manager.start("p")  # resume
    rig.run(600)
    assert any(o.status.value == "filled" for o in list(rig.kernel.orders.values())[before:])


def test_stop_ends_events_and_can_flatten(spx: BarSeries) -> None:
    rig = Rig(spx)
    s = Counting("s", fast=5, slow=20)
    rig.manager.add(s)
    rig.manager.start("s")
    rig.kernel.start()
    i = 0
    while not rig.portfolio.quantity(spx.symbol):
        rig.run(i, i + 1)
        i += 1
    rig.manager.stop("s", flatten=True)
    rig.run(i, i + 1)  # the closing order fills at the next open
    assert rig.portfolio.quantity(spx.symbol) == 0
    seen = s.bars
    rig.run(i + 1)
    assert s.bars == seen and rig.manager.get("s").status is StrategyStatus.STOPPED


def test_bad_lifecycle_requests_are_clear_errors(spx: BarSeries) -> None:
    rig = Rig(spx)
    rig.manager.add(SmaCross("a"), 0.6)
    with pytest.raises(StrategyError, match="already registered"):
        rig.manager.add(SmaCross("a"), 0.1)
    with pytest.raises(StrategyError, match=r"add up to 1\.1 of the account"):
        rig.manager.add(SmaCross("b"), 0.5)
    with pytest.raises(StrategyError, match=r"allocation of 'c' must be in \(0, 1\]"):
        rig.manager.add(SmaCross("c"), 0.0)
    with pytest.raises(StrategyError, match="no managed strategy 'x'; registered: a"):
        rig.manager.pause("x")
    with pytest.raises(StrategyError, match="is registered, not running"):
        rig.manager.pause("a")
    rig.manager.start("a")
    rig.manager.stop("a")
    with pytest.raises(StrategyError, match="is stopped; register it anew"):
        rig.manager.start("a")


def test_allocation_decisions_are_recorded_and_resize(spx: BarSeries) -> None:
    rig = Rig(spx)
    rig.manager.add(SmaCross("a"), 0.5)
    rig.manager.add(SmaCross("b", fast=5, slow=20), 0.5)
    rig.manager.start("a")
    rig.manager.start("b")
    rig.kernel.start()
    rig.run(0, 100)
    rig.manager.allocate({"a": 0.8, "b": 0.2}, int(spx.ts[99]), "manual", "operator")
    assert rig.manager.get("a").context.equity() == pytest.approx(0.8 * rig.kernel.equity())  # type: ignore[union-attr]
    [d] = rig.manager.decisions
    assert d.weights == {"a": 0.8, "b": 0.2} and d.rule == "manual"
    with pytest.raises(StrategyError, match=r"add up to 1\.3"):
        rig.manager.allocate({"b": 0.5}, 0, "manual", "too much")
