"""The kernel's wiring (ids, idempotency, warm-up, fills to the ledger and the strategy) and the
pre-trade risk gate in the order path, with the real bus, clock, venue, ledger and gate."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from neural_trader.brokers.paper import FeeModel, PaperVenue
from neural_trader.core.bus import MessageBus
from neural_trader.core.clock import SimulatedClock
from neural_trader.core.events import (
    Fill,
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    PositionChanged,
)
from neural_trader.core.instruments import Equity, InstrumentRegistry
from neural_trader.core.market_data import Bar
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType
from neural_trader.core.portfolio import Portfolio
from neural_trader.risk.gate import PreTradeGate, RiskLimits
from neural_trader.strategies.base import Strategy
from neural_trader.trading.kernel import Kernel

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
HOUR = 3_600 * 10**9
DAY = 24 * HOUR
DAY0 = 19_000 * DAY
START_CASH = D(1_000_000)
EVENTS = (
    OrderSubmitted,
    OrderAccepted,
    OrderRejected,
    OrderDenied,
    OrderCanceled,
    OrderFilled,
    PositionChanged,
)


class Scripted(Strategy):
    """Places the orders listed for the n-th bar it sees; records fills and what it saw."""

    def __init__(
        self,
        script: dict[int, list[dict[str, Any]]],
        strategy_id: str = "S",
        symbols: list[str] | None = None,
    ) -> None:
        super().__init__(strategy_id=strategy_id, symbols=symbols)
        self.script = script
        self.seen: list[Bar] = []
        self.placed: list[Order | None] = []
        self.fills: list[tuple[Fill, Decimal]] = []
        self.position_at_bar: list[Decimal] = []

    def on_bar(self, bar: Bar) -> None:
        self.seen.append(bar)
        self.position_at_bar.append(self.position(bar.symbol))
        for spec in self.script.get(len(self.seen) - 1, []):
            kw = dict(spec)
            sym = kw.pop("symbol", bar.symbol)
            self.placed.append(self.order(sym, kw.pop("side"), kw.pop("qty"), **kw))

    def on_fill(self, fill: Fill) -> None:
        self.fills.append((fill, self.position(fill.symbol)))


@dataclass
class Env:
    clock: SimulatedClock
    portfolio: Portfolio
    venue: PaperVenue
    gate: PreTradeGate
    kernel: Kernel
    events: list[Any] = field(default_factory=list)

    def feed(self, *bars: Bar) -> None:
        for b in bars:
            self.clock.advance_to(b.ts)
            self.kernel.on_bar(b)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if type(e) is kind]

    @property
    def fills(self) -> list[Fill]:
        return [e.fill for e in self.of(OrderFilled)]


def build(
    *strategies: Strategy, limits: RiskLimits | None = None, fees: FeeModel | None = None
) -> Env:
    bus = MessageBus()
    clock = SimulatedClock()
    reg = InstrumentRegistry()
    reg.add(Equity("AAA"))
    reg.add(Equity("BBB"))
    portfolio = Portfolio(START_CASH, reg)
    venue = PaperVenue(bus, reg, fees)
    gate = PreTradeGate(limits or RiskLimits())
    kernel = Kernel(
        bus=bus,
        clock=clock,
        venue=venue,
        gate=gate,
        portfolio=portfolio,
        strategies=strategies,
    )
    env = Env(clock, portfolio, venue, gate, kernel)
    for kind in EVENTS:
        bus.subscribe(kind, env.events.append)
    return env


def bar(i: int, o: float, c: float | None = None, sym: str = "AAA") -> Bar:
    c = o if c is None else c
    return Bar(sym, DAY0 + i * DAY + 21 * HOUR, o, max(o, c) + 1, min(o, c) - 1, c, 1e6)


def ts(i: int) -> int:
    return DAY0 + i * DAY + 21 * HOUR


def buy(qty: float, **kw: Any) -> dict[str, Any]:
    return dict(side=BUY, qty=qty, **kw)


def sell(qty: float, **kw: Any) -> dict[str, Any]:
    return dict(side=SELL, qty=qty, **kw)


# -- ids and idempotency --------------------------------------------------------------------------


def test_same_client_order_id_twice_returns_the_first_order_and_submits_once() -> None:
    env = build()
    env.feed(bar(0, 100))
    first = Order("X-1", "S", "AAA", BUY, D(10))
    again = Order("X-1", "S", "AAA", BUY, D(99))
    assert env.kernel.submit(first) is first
    assert env.kernel.submit(again) is first
    assert [e.order for e in env.of(OrderSubmitted)] == [first]
    assert env.of(OrderRejected) == []
    assert env.venue.open_orders() == [first]
    assert again.status is OrderStatus.INITIALIZED
    env.feed(bar(1, 101))
    assert [f.quantity for f in env.fills] == [D(10)]


def run_script() -> tuple[list[str], list[tuple[str, Decimal, Decimal]]]:
    strat = Scripted(
        {0: [buy(10), buy(5, order_type=OrderType.LIMIT, limit_price=99)], 2: [sell(15)]}
    )
    env = build(strat)
    env.feed(bar(0, 100), bar(1, 101, 98), bar(2, 99), bar(3, 102))
    ids = [o.client_order_id for o in strat.placed if o is not None]
    return ids, [(f.client_order_id, f.quantity, f.price) for f in env.fills]


def test_order_ids_are_deterministic_across_identical_runs() -> None:
    ids_a, fills_a = run_script()
    ids_b, fills_b = run_script()
    # strategy id, data time, n-th order of the strategy at that time
    expected = [f"S-{ts(0)}-1", f"S-{ts(0)}-2", f"S-{ts(2)}-1"]
    assert ids_a == ids_b == expected
    assert (
        fills_a
        == fills_b
        == [
            (f"S-{ts(0)}-1", D(10), D("101.00")),  # market at bar 1's open
            (f"S-{ts(0)}-2", D(5), D("99.00")),  # limit 99 reached by bar 1's low (97)
            (f"S-{ts(2)}-1", D(15), D("102.00")),
        ]
    )


def test_each_strategy_numbers_its_own_orders() -> None:
    a = Scripted({0: [buy(1), buy(1)]}, strategy_id="A")
    b = Scripted({0: [buy(1)]}, strategy_id="B")
    build(a, b).feed(bar(0, 100))
    assert [o.client_order_id for o in a.placed if o] == [f"A-{ts(0)}-1", f"A-{ts(0)}-2"]
    assert [o.client_order_id for o in b.placed if o] == [f"B-{ts(0)}-1"]


# -- warm-up and restarts -------------------------------------------------------------------------


def test_warming_up_drops_orders() -> None:
    strat = Scripted({0: [buy(10)]})
    env = build(strat)
    env.kernel.warming_up = True
    env.feed(bar(0, 100))
    [order] = strat.placed
    assert order is not None and order.status is OrderStatus.INITIALIZED
    assert env.kernel.orders == {}
    assert env.events == []
    env.kernel.warming_up = False
    env.feed(bar(1, 101), bar(2, 102))
    assert env.fills == []
    assert env.venue.open_orders() == []


def test_working_orders_are_not_matched_against_warm_up_data() -> None:
    strat = Scripted({0: [buy(10)]})
    env = build(strat)
    env.feed(bar(0, 100))
    env.kernel.warming_up = True
    env.feed(bar(1, 101))
    assert env.fills == []
    env.kernel.warming_up = False
    env.feed(bar(2, 102))
    assert [f.price for f in env.fills] == [D("102.00")]


def test_a_replayed_decision_with_a_known_id_is_not_resent() -> None:
    first_run = Scripted({0: [buy(10)]})
    build(first_run).feed(bar(0, 100))
    [sent] = first_run.placed
    assert sent is not None

    replay = Scripted({0: [buy(10)]})
    env = build(replay)
    env.kernel.adopt([sent.client_order_id], [])
    env.feed(bar(0, 100), bar(1, 101))
    [again] = replay.placed
    assert again is not None and again.client_order_id == sent.client_order_id
    assert again.status is OrderStatus.INITIALIZED
    assert env.of(OrderSubmitted) == []
    assert env.fills == []


def test_retired_orders_are_forgotten_but_their_ids_still_refuse_a_resend() -> None:
    env = build()
    env.feed(bar(0, 100))
    filled = Order("X-1", "S", "AAA", BUY, D(10))
    resting = Order("X-2", "S", "AAA", BUY, D(5), OrderType.LIMIT, limit_price=D(50))
    env.kernel.submit(filled)
    env.kernel.submit(resting)
    env.feed(bar(1, 101))
    assert filled.status is OrderStatus.FILLED and resting.is_open
    assert env.kernel.retire_finished() == 1
    assert list(env.kernel.orders) == ["X-2"]  # the working one stays, with its state
    again = Order("X-1", "S", "AAA", BUY, D(10))
    assert env.kernel.submit(again) is again and again.status is OrderStatus.INITIALIZED
    assert [e.order for e in env.of(OrderSubmitted)] == [filled, resting]  # not sent twice
    env.feed(bar(2, 49))
    assert [f.client_order_id for f in env.fills] == ["X-1", "X-2"]  # the working one fills
    assert env.kernel.retire_finished() == 1 and env.kernel.orders == {}
    assert env.kernel.known_order_ids >= {"X-1", "X-2"}


# -- fills to the ledger and the strategy ---------------------------------------------------------


def test_fills_reach_ledger_position_changed_and_strategy() -> None:
    strat = Scripted({0: [buy(10)], 1: [sell(4)]})
    other = Scripted({}, strategy_id="OTHER")
    env = build(strat, other, fees=FeeModel(per_share=D("0.01"), minimum=D("1.00")))
    env.feed(bar(0, 100), bar(1, 103), bar(2, 110))
    changes = env.of(PositionChanged)
    # buy 10 @ 103, fee 1.00: cash 1,000,000 − 1030 − 1
    # sell 4 @ 110, fee 1.00: realized 4·7 = 28, cash + 440 − 1
    assert [(c.symbol, c.quantity, c.avg_price, c.realized_pnl, c.cash, c.ts) for c in changes] == [
        ("AAA", D(10), D(103), D(0), D(998_969), ts(1)),
        ("AAA", D(6), D(103), D(28), D(999_408), ts(2)),
    ]
    assert env.portfolio.cash == D(999_408)
    # on_fill reaches the owner only, after the ledger applied the fill
    assert [(f.quantity, f.price, pos) for f, pos in strat.fills] == [
        (D(10), D("103.00"), D(10)),
        (D(4), D("110.00"), D(6)),
    ]
    assert all(f.strategy_id == "S" for f, _ in strat.fills)
    assert other.fills == []


def test_strategy_sees_the_fill_and_the_mark_of_the_bar_it_is_handed() -> None:
    strat = Scripted({0: [buy(10)]})
    env = build(strat)
    env.feed(bar(0, 100), bar(1, 103, 107))
    # on bar 1 the venue matched first (fill at the open), then the strategy ran
    assert strat.position_at_bar == [D(0), D(10)]
    assert env.portfolio.last_price["AAA"] == 107
    assert env.kernel.equity() == pytest.approx(1_000_000 - 1030 + 1070)


def test_strategies_only_see_their_symbols() -> None:
    only_aaa = Scripted({}, strategy_id="A", symbols=["AAA"])
    everything = Scripted({}, strategy_id="ALL")
    only_bbb = Scripted({}, strategy_id="B", symbols=["BBB"])
    env = build(only_aaa, everything, only_bbb)
    env.feed(bar(0, 100), bar(0, 50, sym="BBB"), bar(1, 101), bar(1, 51, sym="BBB"))
    assert [b.symbol for b in only_aaa.seen] == ["AAA", "AAA"]
    assert [b.symbol for b in only_bbb.seen] == ["BBB", "BBB"]
    assert [b.symbol for b in everything.seen] == ["AAA", "BBB", "AAA", "BBB"]


def test_cancel_of_a_finished_order_is_a_no_op() -> None:
    strat = Scripted({0: [buy(10)]})
    env = build(strat)
    env.feed(bar(0, 100), bar(1, 101))
    [order] = strat.placed
    assert order is not None and order.status is OrderStatus.FILLED
    env.kernel.cancel(order.client_order_id)
    env.kernel.cancel("unknown")
    assert env.of(OrderCanceled) == []
    assert order.status is OrderStatus.FILLED


# -- the risk gate in the order path --------------------------------------------------------------


def test_kill_switch_denies_and_nothing_reaches_the_venue() -> None:
    strat = Scripted({0: [buy(10)]})
    env = build(strat)
    env.gate.set_kill_switch(True)
    env.feed(bar(0, 100), bar(1, 101))
    [order] = strat.placed
    [denied] = env.of(OrderDenied)
    assert denied.order is order
    assert denied.rule == "kill_switch"
    assert order is not None and order.status is OrderStatus.DENIED
    assert env.of(OrderSubmitted) == []
    assert env.of(OrderAccepted) == []
    assert env.venue.open_orders() == []
    assert env.fills == []
    assert env.portfolio.cash == START_CASH


def test_kill_switch_off_again_lets_orders_through() -> None:
    strat = Scripted({0: [buy(1)], 1: [buy(1)]})
    env = build(strat)
    env.gate.set_kill_switch(True)
    env.feed(bar(0, 100))
    env.gate.set_kill_switch(False)
    env.feed(bar(1, 100), bar(2, 100))
    assert [o.status for o in strat.placed if o] == [OrderStatus.DENIED, OrderStatus.FILLED]


def test_max_order_notional_denies_with_its_figures() -> None:
    strat = Scripted({0: [buy(101), buy(100)]})
    env = build(strat, limits=RiskLimits(max_order_notional=D(10_000)))
    env.feed(bar(0, 100), bar(1, 100))
    big, exact = strat.placed
    [denied] = env.of(OrderDenied)
    assert denied.order is big and denied.rule == "max_order_notional"
    assert denied.figures == {"notional": 10_100.0, "limit": 10_000.0}  # 101 · 100 (last close)
    assert big is not None and big.status is OrderStatus.DENIED
    assert exact is not None and exact.status is OrderStatus.FILLED  # 100 · 100 is at the limit


def test_limit_orders_are_priced_at_their_limit_for_the_gate() -> None:
    strat = Scripted({0: [buy(200, order_type=OrderType.LIMIT, limit_price=40), buy(200)]})
    env = build(strat, limits=RiskLimits(max_order_notional=D(10_000)))
    env.feed(bar(0, 100))
    limit_order, market_order = strat.placed
    assert limit_order is not None and limit_order.status is OrderStatus.ACCEPTED  # 200·40
    assert market_order is not None and market_order.status is OrderStatus.DENIED  # 200·100


def test_max_position_size_denies_growth_beyond_the_limit() -> None:
    strat = Scripted({0: [buy(100)], 1: [buy(60), buy(50)]})
    env = build(strat, limits=RiskLimits(max_position_size=D(15_000)))
    env.feed(bar(0, 100), bar(1, 100), bar(2, 100))
    _, too_much, fits = strat.placed
    [denied] = env.of(OrderDenied)
    assert denied.order is too_much and denied.rule == "max_position_size"
    assert denied.figures == {"position_notional": 16_000.0, "limit": 15_000.0}  # 160 · 100
    assert fits is not None and fits.status is OrderStatus.FILLED  # 150 · 100 = the limit
    assert env.portfolio.quantity("AAA") == 150


def test_reducing_orders_pass_even_above_the_position_limit() -> None:
    strat = Scripted({0: [buy(100)], 1: [sell(30), buy(1)]})
    env = build(strat, limits=RiskLimits(max_position_size=D(15_000)))
    # filled at 100, then the price doubles: the 100 shares are worth 20,000 > 15,000
    env.feed(bar(0, 100), bar(1, 100, 200), bar(2, 200))
    _, reduce, grow = strat.placed
    assert reduce is not None and reduce.status is OrderStatus.FILLED
    assert grow is not None and grow.status is OrderStatus.DENIED
    [denied] = env.of(OrderDenied)
    assert denied.figures["position_notional"] == 20_200.0  # 101 · 200
    assert env.portfolio.quantity("AAA") == 70


def test_a_flip_is_checked_on_the_size_of_the_new_side() -> None:
    strat = Scripted({0: [buy(100)], 1: [sell(260), sell(250)]})
    env = build(strat, limits=RiskLimits(max_position_size=D(15_000)))
    env.feed(bar(0, 100), bar(1, 100), bar(2, 100))
    _, flip_big, flip_ok = strat.placed
    assert flip_big is not None and flip_big.status is OrderStatus.DENIED  # −160 · 100
    assert flip_ok is not None and flip_ok.status is OrderStatus.FILLED  # −150 · 100
    assert env.portfolio.quantity("AAA") == -150


def test_working_orders_count_toward_the_position_limit() -> None:
    strat = Scripted({0: [buy(90), buy(90)]})
    env = build(strat, limits=RiskLimits(max_position_size=D(15_000)))
    env.feed(bar(0, 100), bar(1, 100))
    assert env.portfolio.quantity("AAA") * 100 <= 15_000


def test_market_order_on_an_unpriced_symbol_is_not_approved_blind() -> None:
    strat = Scripted({0: [buy(1_000_000_000, symbol="BBB")]})
    env = build(strat, limits=RiskLimits(max_order_notional=D(10_000)))
    env.feed(bar(0, 100))  # AAA's bar; BBB has never been seen
    [order] = strat.placed
    assert order is not None and order.status is OrderStatus.DENIED
    assert env.of(OrderSubmitted) == []
