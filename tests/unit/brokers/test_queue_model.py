"""The simulated venue's queue model (``brokers/queue.py``) on hand-built quotes and trades,
through the real kernel, gate and ledger. Every expected quantity is worked out by hand from
the rules in that module's docstring: the size ahead from the joining quote, trade volume at
the price consuming it first, trades through the price filling completely, quotes only
shortening the queue, nothing filling on data stamped at the placing time."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from neural_trader.brokers.paper import PaperVenue
from neural_trader.brokers.queue import QueueModel
from neural_trader.core.bus import MessageBus
from neural_trader.core.clock import SimulatedClock
from neural_trader.core.events import Fill, OrderCanceled, OrderFilled
from neural_trader.core.instruments import Equity, InstrumentRegistry
from neural_trader.core.market_data import QuoteTick, TradeTick
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce
from neural_trader.core.portfolio import Portfolio
from neural_trader.errors import ConfigError
from neural_trader.risk.gate import PreTradeGate, RiskLimits
from neural_trader.strategies.base import Strategy
from neural_trader.trading.kernel import Kernel

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
LMT = OrderType.LIMIT
SEC = 10**9
T0 = 19_000 * 86_400 * SEC + 10 * 3_600 * SEC  # 2022-01-08 10:00 UTC
START_CASH = D(1_000_000)


class QuoteScript(Strategy):
    """On the n-th quote it sees (from 0) it places the orders listed for n; an entry
    ``{"cancel": i}`` cancels the i-th order it placed."""

    def __init__(self, script: dict[int, list[dict[str, Any]]]) -> None:
        super().__init__(strategy_id="S")
        self.script = script
        self.seen = -1
        self.placed: list[Order] = []

    def on_quote(self, quote: QuoteTick) -> None:
        self.seen += 1
        for spec in self.script.get(self.seen, []):
            kw = dict(spec)
            if "cancel" in kw:
                self.ctx.cancel(self.placed[kw["cancel"]].client_order_id)
                continue
            order = self.order("AAA", kw.pop("side"), kw.pop("qty"), order_type=LMT, **kw)
            assert order is not None
            self.placed.append(order)


@dataclass
class Env:
    clock: SimulatedClock
    kernel: Kernel
    portfolio: Portfolio
    strategy: QuoteScript
    fills: list[Fill] = field(default_factory=list)
    canceled: list[Order] = field(default_factory=list)

    def feed(self, *items: QuoteTick | TradeTick) -> None:
        for item in items:
            self.clock.advance_to(item.ts)
            if isinstance(item, QuoteTick):
                self.kernel.on_quote(item)
            else:
                self.kernel.on_trade(item)

    def order(self, i: int = 0) -> Order:
        return self.strategy.placed[i]

    def filled(self, i: int = 0) -> list[tuple[Decimal, Decimal]]:
        """(quantity, price) of each fill of the i-th order, in order."""
        cid = self.order(i).client_order_id
        return [(f.quantity, f.price) for f in self.fills if f.client_order_id == cid]


def build(script: dict[int, list[dict[str, Any]]], queue: QueueModel | None = None) -> Env:
    bus = MessageBus()
    clock = SimulatedClock()
    reg = InstrumentRegistry()
    reg.add(Equity("AAA"))
    portfolio = Portfolio(START_CASH, reg)
    venue = PaperVenue(bus, reg, queue=queue)
    strategy = QuoteScript(script)
    kernel = Kernel(
        bus=bus,
        clock=clock,
        venue=venue,
        gate=PreTradeGate(RiskLimits()),
        portfolio=portfolio,
        strategies=[strategy],
    )
    env = Env(clock, kernel, portfolio, strategy)
    bus.subscribe(OrderFilled, lambda e: env.fills.append(e.fill))
    bus.subscribe(OrderCanceled, lambda e: env.canceled.append(e.order))
    return env


def quote(i: int, bid: float, ask: float, bid_size: float, ask_size: float) -> QuoteTick:
    return QuoteTick("AAA", T0 + i * SEC, bid, ask, bid_size, ask_size)


def trade(i: int, price: float, size: float, aggressor: str = "") -> TradeTick:
    return TradeTick("AAA", T0 + i * SEC, price, size, aggressor)


def buy(qty: int, price: float, **kw: Any) -> dict[str, Any]:
    return {"side": BUY, "qty": qty, "limit_price": price, **kw}


def sell(qty: int, price: float) -> dict[str, Any]:
    return {"side": SELL, "qty": qty, "limit_price": price}


def test_order_waits_behind_the_displayed_size_then_fills_partly() -> None:
    env = build({0: [buy(100, 100.00)]})
    # Nothing is working before this quote; the venue still sees it and queues the order
    # behind the 300 displayed at its price.
    env.feed(quote(0, 100.00, 100.05, 300, 200))
    env.feed(trade(1, 100.00, 200, "sell"))  # 300 ahead -> 100 ahead
    assert env.fills == []
    env.feed(trade(2, 100.00, 150, "sell"))  # 100 ahead consumed, 50 reach the order
    assert env.filled() == [(D(50), D("100.00"))]
    assert env.order().status is OrderStatus.PARTIALLY_FILLED
    env.feed(trade(3, 100.00, 80, "sell"))  # 50 fill the rest, 30 go behind it
    assert env.filled() == [(D(50), D("100.00")), (D(50), D("100.00"))]
    assert env.order().status is OrderStatus.FILLED
    assert {f.liquidity for f in env.fills} == {"maker"}
    assert env.portfolio.quantity("AAA") == D(100)
    assert env.portfolio.cash == START_CASH - D(100) * D("100.00")


def test_nothing_fills_on_ticks_stamped_at_the_placing_time() -> None:
    env = build({0: [buy(100, 100.00)]})
    env.feed(quote(0, 100.00, 100.05, 0, 200))
    # Same timestamp as the decision: a trade through the price and a crossing ask.
    env.feed(trade(0, 99.90, 1_000, "sell"), quote(0, 99.80, 99.90, 500, 500))
    assert env.fills == []
    env.feed(trade(1, 99.95, 1, "sell"))  # one second later a trade through fills it
    assert env.filled() == [(D(100), D("100.00"))]


def test_a_trade_through_the_price_fills_completely_whatever_its_size() -> None:
    env = build({0: [buy(100, 100.00), sell(40, 100.05)]})
    env.feed(quote(0, 100.00, 100.05, 300, 500))  # 300 ahead of the bid, 500 of the offer
    env.feed(trade(1, 99.99, 1, "sell"))
    assert env.filled(0) == [(D(100), D("100.00"))]
    env.feed(trade(2, 100.06, 1, "buy"))
    assert env.filled(1) == [(D(40), D("100.05"))]
    assert env.portfolio.quantity("AAA") == D(60)


def test_a_buyer_trade_at_the_price_does_not_take_the_bids() -> None:
    env = build({0: [buy(10, 100.02)]})
    env.feed(quote(0, 100.00, 100.05, 300, 300))  # improves on the bid: nothing ahead
    env.feed(trade(1, 100.02, 50, "buy"))  # a buyer lifted an offer at 100.02
    assert env.fills == []
    env.feed(trade(2, 100.02, 4, ""))  # unknown aggressor: counts for both sides
    assert env.filled() == [(D(4), D("100.02"))]
    env.feed(trade(3, 100.02, 50, "sell"))
    assert env.filled() == [(D(4), D("100.02")), (D(6), D("100.02"))]


def test_a_larger_displayed_size_does_not_lengthen_the_queue() -> None:
    env = build({0: [buy(100, 100.00)]})
    env.feed(quote(0, 100.00, 100.05, 300, 300))  # 300 ahead
    env.feed(quote(1, 100.00, 100.05, 500, 300))  # the 200 more joined behind us
    env.feed(trade(2, 100.00, 320, "sell"))  # 300 ahead, 20 to the order
    assert env.filled() == [(D(20), D("100.00"))]


def test_a_smaller_displayed_size_shortens_the_queue() -> None:
    env = build({0: [buy(100, 100.00)]})
    env.feed(quote(0, 100.00, 100.05, 300, 300))
    env.feed(quote(1, 100.00, 100.05, 40, 300))  # cancellations ahead: at most 40 left
    env.feed(trade(2, 100.00, 60, "sell"))  # 40 ahead, 20 to the order
    assert env.filled() == [(D(20), D("100.00"))]


def test_a_bid_below_the_order_means_nothing_is_ahead_of_it() -> None:
    env = build({0: [buy(100, 100.00)]})
    env.feed(quote(0, 100.00, 100.05, 300, 300))
    env.feed(quote(1, 99.99, 100.05, 700, 300))  # the level ahead of us has gone
    env.feed(trade(2, 100.00, 30, "sell"))
    assert env.filled() == [(D(30), D("100.00"))]


def test_behind_the_touch_the_level_is_assumed_as_deep_as_the_touch() -> None:
    env = build({0: [buy(10, 99.98)]})
    env.feed(quote(0, 100.00, 100.05, 300, 300))  # 99.98 is not displayed: 300 assumed
    env.feed(trade(1, 99.98, 305, "sell"))
    assert env.filled() == [(D(5), D("99.98"))]


def test_the_unknown_depth_assumption_can_be_stated() -> None:
    env = build({0: [buy(10, 99.98)]}, QueueModel(unknown_depth=25))
    env.feed(quote(0, 100.00, 100.05, 300, 300))
    env.feed(trade(1, 99.98, 31, "sell"))  # 25 assumed ahead, 6 to the order
    assert env.filled() == [(D(6), D("99.98"))]
    with pytest.raises(ConfigError, match="unknown_depth"):
        QueueModel(unknown_depth=-1.0)


def test_our_later_order_at_the_same_price_queues_behind_our_earlier_one() -> None:
    env = build({0: [buy(100, 100.00), buy(100, 100.00)]})
    env.feed(quote(0, 100.00, 100.05, 50, 300))  # [50 market][A 100][B 100]
    env.feed(trade(1, 100.00, 120, "sell"))  # 50 ahead, then 70 of A; B untouched
    assert env.filled(0) == [(D(70), D("100.00"))]
    assert env.filled(1) == []
    env.feed(trade(2, 100.00, 100, "sell"))  # A's last 30, then 70 of B
    assert env.filled(0) == [(D(70), D("100.00")), (D(30), D("100.00"))]
    assert env.filled(1) == [(D(70), D("100.00"))]


def test_time_priority_holds_when_the_later_order_joins_a_thinner_book() -> None:
    env = build({0: [buy(100, 100.00)], 1: [buy(100, 100.00)]})
    env.feed(quote(0, 100.00, 100.05, 300, 300))  # A joins behind 300
    # The bid moved up; B's level is behind the touch, assumed 20 deep, but A (300 ahead of
    # it) still stands before B.
    env.feed(quote(1, 100.01, 100.05, 20, 300))
    env.feed(trade(2, 100.00, 350, "sell"))  # 300 ahead of A, then 50 of A; none for B
    assert env.filled(0) == [(D(50), D("100.00"))]
    assert env.filled(1) == []


def test_a_cancel_takes_the_order_out_of_the_queue() -> None:
    env = build({0: [buy(100, 100.00), buy(100, 100.00)], 1: [{"cancel": 0}]})
    env.feed(quote(0, 100.00, 100.05, 50, 300), quote(1, 100.00, 100.05, 50, 300))
    assert env.canceled == [env.order(0)]
    env.feed(trade(2, 100.00, 120, "sell"))  # A is gone: 50 ahead, then 70 of B
    assert env.filled(1) == [(D(70), D("100.00"))]
    env.feed(trade(3, 99.00, 1, "sell"))  # a trade through fills B, never the canceled A
    assert env.filled(0) == []
    assert env.filled(1) == [(D(70), D("100.00")), (D(30), D("100.00"))]
    assert env.portfolio.quantity("AAA") == D(100)


def test_orders_that_never_rest_are_not_matched_by_trades() -> None:
    env = build({0: [buy(10, 100.00, time_in_force=TimeInForce.IOC)]})
    env.feed(quote(0, 100.00, 100.05, 0, 300))
    env.feed(trade(1, 99.90, 100, "sell"))  # an IOC has no place in a queue
    assert env.fills == []
    env.feed(quote(2, 99.90, 99.95, 100, 4))  # its first quote: 4 at the ask, rest canceled
    assert env.filled() == [(D(4), D("99.95"))]
    assert env.order().status is OrderStatus.CANCELED
