"""The gate's limits, one by one, and as a property: no sequence of orders takes the book past
a limit (prices held constant, so a limit checked at order time must hold afterwards)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from neural_trader.brokers.paper import PaperVenue
from neural_trader.core.bus import MessageBus
from neural_trader.core.clock import SimulatedClock
from neural_trader.core.events import OrderDenied
from neural_trader.core.instruments import Equity, InstrumentRegistry
from neural_trader.core.market_data import Bar
from neural_trader.core.orders import OrderSide
from neural_trader.core.portfolio import Portfolio
from neural_trader.risk.gate import PreTradeGate, RiskLimits, TradingState
from neural_trader.strategies.base import Strategy
from neural_trader.trading.kernel import Kernel

SYMBOLS = ("AAA", "BBB")
PRICES = {"AAA": 100.0, "BBB": 40.0}
DAY = 86_400_000_000_000


class Orders(Strategy):
    """Sends the orders scripted for each bar index (side, symbol, quantity)."""

    def __init__(
        self,
        script: list[list[tuple[OrderSide, str, int]]],
        gate: PreTradeGate,
        switch: dict[int, TradingState],
    ) -> None:
        super().__init__("S")
        self.script = script
        self.gate = gate
        self.switch = switch
        self.i = -1

    def on_bar(self, bar: Bar) -> None:
        if bar.symbol != SYMBOLS[-1]:
            return
        self.i += 1
        if self.i in self.switch:
            self.gate.set_state(self.switch[self.i])
        for side, sym, qty in self.script[self.i] if self.i < len(self.script) else []:
            self.order(sym, side, qty)


def run(  # type: ignore[no-untyped-def]
    limits: RiskLimits,
    script: list[list[tuple[OrderSide, str, int]]],
    state: TradingState | None = None,
    switch: dict[int, TradingState] | None = None,
):
    bus = MessageBus()
    clock = SimulatedClock()
    reg = InstrumentRegistry()
    for s in SYMBOLS:
        reg.add(Equity(s))
    pf = Portfolio(Decimal(100_000), reg)
    gate = PreTradeGate(limits)
    if state is not None:
        gate.set_state(state)
    kernel = Kernel(bus=bus, clock=clock, venue=PaperVenue(bus, reg), gate=gate, portfolio=pf)
    denials: list[OrderDenied] = []
    bus.subscribe(OrderDenied, denials.append)
    kernel.add_strategy(Orders(script, gate, switch or {}))
    kernel.start()
    for i in range(len(script) + 2):
        for s in SYMBOLS:
            p = PRICES[s]
            clock.ts = i * DAY
            kernel.on_bar(Bar(s, i * DAY, p, p, p, p, 1e9))
    return pf, denials


orders = st.lists(
    st.lists(
        st.tuples(st.sampled_from(list(OrderSide)), st.sampled_from(SYMBOLS), st.integers(1, 400)),
        max_size=3,
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(orders)
def test_no_order_sequence_breaches_the_limits(script) -> None:  # type: ignore[no-untyped-def]
    limits = RiskLimits(
        max_position_size=Decimal(20_000),
        max_order_notional=Decimal(15_000),
        max_position_quantity=Decimal(150),
        max_concentration=0.18,
        max_gross_leverage=0.3,
        max_net_leverage=0.2,
    )
    pf, _ = run(limits, script)
    equity = pf.equity()
    gross = net = 0.0
    for s in SYMBOLS:
        q = float(pf.quantity(s))
        value = q * PRICES[s]
        assert abs(q) <= 150
        assert abs(value) <= 20_000 + 1e-9
        assert abs(value) / equity <= 0.18 + 1e-12
        gross += abs(value)
        net += value
    assert gross / equity <= 0.3 + 1e-12
    assert abs(net) / equity <= 0.2 + 1e-12


def test_each_limit_names_its_rule_and_figures() -> None:
    buy, sell = OrderSide.BUY, OrderSide.SELL
    cases = [
        (
            RiskLimits(max_position_quantity=Decimal(10)),
            [[(buy, "AAA", 11)]],
            "max_position_quantity",
        ),
        (RiskLimits(max_concentration=0.05), [[(buy, "AAA", 60)]], "max_concentration"),
        (
            RiskLimits(max_gross_leverage=0.1),
            [[(buy, "AAA", 60), (sell, "BBB", 200)]],
            "max_gross_leverage",
        ),
        (RiskLimits(max_net_leverage=0.05), [[(buy, "AAA", 60)]], "max_net_leverage"),
        (RiskLimits(max_open_orders=1), [[(buy, "AAA", 1), (buy, "BBB", 1)]], "max_open_orders"),
        (RiskLimits(max_orders_per_second=2), [[(buy, "AAA", 1)] * 3], "max_orders_per_second"),
        (RiskLimits(allowed_symbols=frozenset({"AAA"})), [[(buy, "BBB", 1)]], "allowed_symbols"),
    ]
    for limits, script, rule in cases:
        _, denials = run(limits, script)
        assert [d.rule for d in denials] == [rule], rule
        if rule not in ("allowed_symbols",):
            assert "limit" in denials[0].figures


def test_rate_limit_window_slides_with_the_clock() -> None:
    buy = OrderSide.BUY
    pf, denials = run(RiskLimits(max_orders_per_second=2), [[(buy, "AAA", 1)] * 2] * 3)
    assert denials == [] and pf.quantity("AAA") == 6  # a new day is a new second


def test_reducing_state_allows_only_shrinking_orders() -> None:
    buy, sell = OrderSide.BUY, OrderSide.SELL
    script = [
        [(buy, "AAA", 10)],
        [],
        [(sell, "AAA", 4), (sell, "AAA", 7), (buy, "BBB", 1)],
        [],
        [(sell, "AAA", 6)],
    ]
    pf, denials = run(RiskLimits(), script, switch={2: TradingState.REDUCING})
    # sell 7 after a working sell 4 would pass flat; buying BBB opens exposure.
    assert [d.rule for d in denials] == ["reducing", "reducing"]
    assert pf.quantity("AAA") == 0 and pf.quantity("BBB") == 0


def test_halted_denies_everything() -> None:
    _, denials = run(RiskLimits(), [[(OrderSide.BUY, "AAA", 1)]], TradingState.HALTED)
    assert [d.rule for d in denials] == ["kill_switch"]
