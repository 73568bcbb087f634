"""Bracket entries place protective stops that track the position; the gate's heat limit holds
for every order sequence (checked against heat computed here from the book)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_trader.brokers.paper import PaperVenue
from neural_trader.core.bus import MessageBus
from neural_trader.core.clock import SimulatedClock
from neural_trader.core.events import OrderDenied
from neural_trader.core.instruments import Equity, InstrumentRegistry
from neural_trader.core.market_data import Bar
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType
from neural_trader.core.portfolio import Portfolio
from neural_trader.risk.gate import PreTradeGate, RiskLimits
from neural_trader.strategies.base import Strategy
from neural_trader.trading.kernel import Kernel

DAY = 86_400_000_000_000
BUY, SELL = OrderSide.BUY, OrderSide.SELL
Step = tuple[OrderSide, str, int, float | None]  # side, symbol, quantity, stop distance


class Script(Strategy):
    def __init__(self, steps: list[list[Step]]) -> None:
        super().__init__("S")
        self.steps = steps
        self.i = -1

    def on_bar(self, bar: Bar) -> None:
        if bar.symbol != "BBB":
            return
        self.i += 1
        for side, sym, qty, dist in self.steps[self.i] if self.i < len(self.steps) else []:
            px = self.ctx.last_price(sym)
            assert px is not None
            stop = None if dist is None else px * (1 - dist * side.sign)
            self.order(sym, side, qty, stop_loss=stop)


class Book:
    def __init__(self, limits: RiskLimits, steps: list[list[Step]]) -> None:
        self.bus = MessageBus()
        self.clock = SimulatedClock()
        reg = InstrumentRegistry()
        reg.add(Equity("AAA"))
        reg.add(Equity("BBB"))
        self.portfolio = Portfolio(Decimal(100_000), reg)
        self.kernel = Kernel(
            bus=self.bus,
            clock=self.clock,
            venue=PaperVenue(self.bus, reg),
            gate=PreTradeGate(limits),
            portfolio=self.portfolio,
        )
        self.denials: list[OrderDenied] = []
        self.bus.subscribe(OrderDenied, self.denials.append)
        self.kernel.add_strategy(Script(steps))
        self.kernel.start()
        self.i = 0

    def bar(self, prices: dict[str, float]) -> None:
        self.clock.ts = self.i * DAY
        for sym, p in prices.items():
            self.kernel.on_bar(Bar(sym, self.i * DAY, p, p, p, p, 1e9))
        self.i += 1

    def stops(self, symbol: str) -> list[Order]:
        return [o for o in self.kernel.open_orders(symbol=symbol) if o.parent_id is not None]


def test_each_fill_gets_a_stop_that_fires_and_closes_the_position() -> None:
    book = Book(RiskLimits(), [[(BUY, "AAA", 100, 0.05)]])
    book.bar({"AAA": 100.0, "BBB": 10.0})  # decide
    book.bar({"AAA": 100.0, "BBB": 10.0})  # filled at 100: the stop goes in at 95
    [stop] = book.stops("AAA")
    assert (stop.side, stop.order_type, stop.quantity, stop.stop_price) == (
        SELL, OrderType.STOP, Decimal(100), Decimal(95),
    )  # fmt: skip
    assert stop.client_order_id.endswith("-sl1")
    book.bar({"AAA": 94.0, "BBB": 10.0})  # gaps through the stop: sold at the open, 94
    assert book.portfolio.quantity("AAA") == 0
    assert stop.status is OrderStatus.FILLED and stop.avg_price == Decimal(94)
    assert book.portfolio.position("AAA").realized_pnl == Decimal(-600)  # type: ignore[union-attr]


def test_closing_by_hand_cancels_the_stop_and_a_partial_exit_shrinks_it() -> None:
    steps: list[list[Step]] = [
        [(BUY, "AAA", 60, 0.05)],
        [(BUY, "AAA", 40, 0.1)],
        [(SELL, "AAA", 50, None)],
        [(SELL, "AAA", 50, None)],
    ]
    book = Book(RiskLimits(), steps)
    prices = {"AAA": 100.0, "BBB": 10.0}
    book.bar(prices)
    book.bar(prices)
    book.bar(prices)
    assert sorted((o.quantity, o.stop_price) for o in book.stops("AAA")) == [
        (Decimal(40), Decimal(90)), (Decimal(60), Decimal(95)),
    ]  # fmt: skip
    book.bar(prices)  # 50 sold: the newest stop (40) goes and 10 of the next is re-placed
    cover = sorted((o.leaves_quantity, o.stop_price) for o in book.stops("AAA"))
    assert sum(q for q, _ in cover) == book.portfolio.quantity("AAA") == Decimal(50)
    book.bar(prices)  # flat: no stop may stay to open a short later
    assert book.portfolio.quantity("AAA") == 0 and book.stops("AAA") == []


def test_wrong_side_stop_and_heat_denials_name_their_figures() -> None:
    book = Book(RiskLimits(max_portfolio_heat=0.01), [[(BUY, "AAA", 10, -0.05)]])
    book.bar({"AAA": 100.0, "BBB": 10.0})
    [d] = book.denials
    assert d.rule == "stop_loss_side" and d.figures["stop_loss"] == 105.0
    # 300 shares 10% from their stop: 3,000 at risk on 100,000 of equity, limit 1%.
    book = Book(RiskLimits(max_portfolio_heat=0.01), [[(BUY, "AAA", 300, 0.1)]])
    book.bar({"AAA": 100.0, "BBB": 10.0})
    [d] = book.denials
    assert d.rule == "max_portfolio_heat" and d.figures["heat"] == pytest.approx(0.03)
    # Without a stop the whole notional is at risk.
    book = Book(RiskLimits(max_portfolio_heat=0.05), [[(BUY, "BBB", 600, None)]])
    book.bar({"AAA": 100.0, "BBB": 10.0})
    assert [d.rule for d in book.denials] == ["max_portfolio_heat"]
    assert book.denials[0].figures["heat"] == pytest.approx(0.06)


def heat_from_book(book: Book, prices: dict[str, float]) -> float:
    """Heat from first principles: each position against the stop orders that close it."""
    total = 0.0
    for sym, price in prices.items():
        q = float(book.portfolio.quantity(sym))
        if not q:
            continue
        left = abs(q)
        stops = sorted(
            (o for o in book.kernel.open_orders(symbol=sym) if o.order_type is OrderType.STOP),
            key=lambda o: -float(o.stop_price) * (1 if q > 0 else -1),  # type: ignore[arg-type]
        )
        for o in stops:
            take = min(left, float(o.leaves_quantity))
            total += take * max(0.0, (price - float(o.stop_price)) * (1 if q > 0 else -1))  # type: ignore[arg-type]
            left -= take
        total += left * price
    return total / book.portfolio.equity()


steps = st.lists(
    st.lists(
        st.tuples(
            st.sampled_from([BUY, SELL]),
            st.sampled_from(["AAA", "BBB"]),
            st.integers(1, 300),
            st.one_of(st.none(), st.floats(0.01, 0.2)),
        ),
        max_size=3,
    ),
    min_size=1,
    max_size=10,
)


@settings(max_examples=60, deadline=None)
@given(steps)
def test_no_order_sequence_takes_heat_past_the_limit(script: list[list[Step]]) -> None:
    prices = {"AAA": 100.0, "BBB": 40.0}
    book = Book(RiskLimits(max_portfolio_heat=0.03), script)
    for _ in range(len(script) + 2):
        book.bar(prices)
        assert heat_from_book(book, prices) <= 0.03 + 1e-9
        for sym in prices:  # the stops never cover more than is held
            held = abs(book.portfolio.quantity(sym))
            assert sum(o.leaves_quantity for o in book.stops(sym)) <= held
