"""The simulated venue's fill rules, driven through the real kernel wiring with hand-built bars
and quotes. Every expected price, quantity and fee below is worked out by hand from the rules in
``brokers/paper.py``'s module docstring."""

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
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
)
from neural_trader.core.instruments import Equity, InstrumentRegistry
from neural_trader.core.market_data import Bar, QuoteTick
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce
from neural_trader.core.portfolio import Portfolio
from neural_trader.risk.gate import PreTradeGate, RiskLimits
from neural_trader.strategies.base import Strategy
from neural_trader.trading.kernel import Kernel

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
MKT, LMT, STP, STPLMT = OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT
HOUR = 3_600 * 10**9
DAY = 24 * HOUR
DAY0 = 19_000 * DAY  # 2022-01-08 00:00 UTC
START_CASH = D(1_000_000)
EVENTS = (
    OrderSubmitted,
    OrderAccepted,
    OrderRejected,
    OrderDenied,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
)


class Scripted(Strategy):
    """Places the orders listed for the n-th bar (or quote) it sees, counted from 0."""

    def __init__(self, script: dict[int, list[dict[str, Any]]], strategy_id: str = "S") -> None:
        super().__init__(strategy_id=strategy_id)
        self.script = script
        self.seen = -1
        self.placed: list[Order | None] = []
        self.fills: list[Fill] = []

    def _act(self, symbol: str) -> None:
        self.seen += 1
        for spec in self.script.get(self.seen, []):
            kw = dict(spec)
            sym = kw.pop("symbol", symbol)
            side = kw.pop("side")
            qty = kw.pop("qty")
            self.placed.append(self.order(sym, side, qty, **kw))

    def on_bar(self, bar: Bar) -> None:
        self._act(bar.symbol)

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)


class QuoteScripted(Scripted):
    def on_bar(self, bar: Bar) -> None:  # bars are not used by this one
        pass

    def on_quote(self, quote: QuoteTick) -> None:
        self._act(quote.symbol)


@dataclass
class Env:
    bus: MessageBus
    clock: SimulatedClock
    portfolio: Portfolio
    venue: PaperVenue
    kernel: Kernel
    strategy: Scripted
    events: list[object] = field(default_factory=list)

    def feed(self, *items: Bar | QuoteTick) -> None:
        for item in items:
            self.clock.advance_to(item.ts)
            if isinstance(item, Bar):
                self.kernel.on_bar(item)
            else:
                self.kernel.on_quote(item)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if type(e) is kind]

    @property
    def fills(self) -> list[Fill]:
        return [e.fill for e in self.of(OrderFilled)]

    @property
    def order(self) -> Order:
        placed = self.strategy.placed
        assert len(placed) == 1 and placed[0] is not None
        return placed[0]


def build(
    script: dict[int, list[dict[str, Any]]] | None = None,
    *,
    fees: FeeModel | None = None,
    slippage_bps: str = "0",
    participation: float | None = None,
    quotes: bool = False,
) -> Env:
    bus = MessageBus()
    clock = SimulatedClock()
    reg = InstrumentRegistry()
    reg.add(Equity("AAA"))
    reg.add(Equity("BBB"))
    portfolio = Portfolio(START_CASH, reg)
    venue = PaperVenue(bus, reg, fees, D(slippage_bps), participation)
    strategy = (QuoteScripted if quotes else Scripted)(script or {})
    kernel = Kernel(
        bus=bus,
        clock=clock,
        venue=venue,
        gate=PreTradeGate(RiskLimits()),
        portfolio=portfolio,
        strategies=[strategy],
    )
    env = Env(bus, clock, portfolio, venue, kernel, strategy)
    for kind in EVENTS:  # after the kernel, so events are seen with the kernel's updates applied
        bus.subscribe(kind, env.events.append)
    return env


def bar(
    i: int,
    o: float,
    h: float,
    low: float,
    c: float,
    v: float = 1e6,
    sym: str = "AAA",
    ts: int | None = None,
) -> Bar:
    """Daily bar i, stamped at its 21:00 UTC close."""
    return Bar(sym, DAY0 + i * DAY + 21 * HOUR if ts is None else ts, o, h, low, c, v)


def one(side: OrderSide, qty: float, order_type: OrderType = MKT, **kw: Any) -> dict[int, Any]:
    """Script: one order on the first bar."""
    return {0: [dict(side=side, qty=qty, order_type=order_type, **kw)]}


FLAT = bar(0, 100, 101, 99, 100)  # the decision bar used by most tests


# -- no look-ahead --------------------------------------------------------------------------------


def test_market_order_fills_at_next_bar_open_not_at_decision_close() -> None:
    env = build(one(BUY, 10))
    env.feed(bar(0, 100, 102, 99, 101))
    assert env.fills == []
    assert env.order.status is OrderStatus.ACCEPTED
    assert env.portfolio.quantity("AAA") == 0
    env.feed(bar(1, 103, 105, 102, 104))
    [f] = env.fills
    assert (f.price, f.quantity, f.side, f.ts) == (D("103.00"), D(10), BUY, bar(1, 0, 0, 0, 0).ts)
    assert f.price != D("101")  # the close the decision saw
    assert env.order.status is OrderStatus.FILLED
    assert env.portfolio.quantity("AAA") == 10
    assert env.portfolio.cash == START_CASH - D(1030)


def test_order_for_another_symbol_waits_for_strictly_later_data() -> None:
    """Decided on AAA's bar at t: BBB's bar also stamped t is not after the decision."""
    env = build({1: [dict(symbol="BBB", side=BUY, qty=5)]})  # BBB is priced before the decision
    env.feed(
        bar(-1, 50, 51, 49, 50, sym="BBB"),
        bar(0, 100, 101, 99, 100, sym="AAA"),
        bar(0, 50, 51, 49, 50, sym="BBB"),
    )
    assert env.fills == []
    env.feed(bar(1, 100, 101, 99, 100, sym="AAA"), bar(1, 52, 53, 51, 52.5, sym="BBB"))
    [f] = env.fills
    assert (f.symbol, f.price, f.quantity) == ("BBB", D("52.00"), D(5))


def test_orders_only_fill_on_later_bars_even_when_a_bar_repeats_the_timestamp() -> None:
    env = build(one(BUY, 1))
    b0 = bar(0, 100, 101, 99, 100)
    env.feed(b0)
    env.feed(Bar("AAA", b0.ts, 90, 91, 89, 90, 1e6))  # same stamp: not strictly later
    assert env.fills == []


# -- limit orders ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "limit", "next_bar", "expected"),
    [
        # buy limit 95: the open gaps below the limit -> price improvement to the open
        (BUY, 95, (94, 96, 93, 95.5), "94.00"),
        # the low reaches the limit -> the limit
        (BUY, 95, (97, 98, 94.5, 96), "95.00"),
        (BUY, 95, (97, 98, 95, 96), "95.00"),  # exactly touched
        (BUY, 95, (97, 98, 95.01, 96), None),  # never reached
        # sell limit 105 mirrors
        (SELL, 105, (106, 107, 104, 105), "106.00"),
        (SELL, 105, (103, 105.5, 102, 104), "105.00"),
        (SELL, 105, (103, 105, 102, 104), "105.00"),
        (SELL, 105, (103, 104.99, 102, 104), None),
    ],
)
def test_limit_fill_rules(
    side: OrderSide, limit: float, next_bar: tuple[float, ...], expected: str | None
) -> None:
    env = build(one(side, 10, LMT, limit_price=limit))
    env.feed(FLAT, bar(1, *next_bar))
    if expected is None:
        assert env.fills == []
        assert env.order.status is OrderStatus.ACCEPTED
        assert env.venue.open_orders() == [env.order]
    else:
        [f] = env.fills
        assert f.price == D(expected)
        assert f.quantity == 10
        assert f.liquidity == "maker"
        assert env.order.status is OrderStatus.FILLED
        assert env.venue.open_orders() == []


def test_unfilled_gtc_limit_keeps_working_until_reached() -> None:
    env = build(one(BUY, 10, LMT, limit_price=95))
    env.feed(FLAT, bar(1, 99, 100, 96, 97), bar(2, 98, 99, 95.5, 96), bar(3, 97, 97, 94, 95))
    [f] = env.fills
    assert f.price == D("95.00")
    assert f.ts == bar(3, 0, 0, 0, 0).ts


# -- stop orders ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "stop", "next_bar", "expected"),
    [
        (BUY, 105, (107, 108, 106, 107.5), "107.00"),  # gap up through the stop: the open
        (BUY, 105, (103, 106, 102, 105.5), "105.00"),  # trades up through it: the stop
        (BUY, 105, (103, 104.9, 102, 104), None),
        (SELL, 95, (93, 94, 92, 93.5), "93.00"),  # gap down through the stop
        (SELL, 95, (97, 98, 94, 94.5), "95.00"),
        (SELL, 95, (97, 98, 95.1, 96), None),
    ],
)
def test_stop_fill_rules(
    side: OrderSide, stop: float, next_bar: tuple[float, ...], expected: str | None
) -> None:
    env = build(one(side, 10, STP, stop_price=stop))
    env.feed(FLAT, bar(1, *next_bar))
    if expected is None:
        assert env.fills == []
        assert env.order.status is OrderStatus.ACCEPTED
    else:
        [f] = env.fills
        assert f.price == D(expected)
        assert f.liquidity == "taker"


def test_stop_limit_buy_triggered_with_reachable_limit_fills_at_the_stop() -> None:
    env = build(one(BUY, 10, STPLMT, stop_price=105, limit_price=106))
    env.feed(FLAT, bar(1, 103, 107, 102, 106))
    [f] = env.fills
    assert f.price == D("105.00")


def test_stop_limit_buy_gapping_past_its_limit_becomes_a_limit_from_the_next_bar() -> None:
    env = build(one(BUY, 10, STPLMT, stop_price=105, limit_price=106))
    # Gap to 107: triggered, but the limit 106 is not reachable at the trigger -> no fill,
    # even though this bar later trades down to 105.5.
    env.feed(FLAT, bar(1, 107, 108, 105.5, 107))
    assert env.fills == []
    assert env.order.status is OrderStatus.ACCEPTED
    # Next bar opens back below the stop: as a plain limit 106 it fills at the open; a stop
    # that had to trigger again would not.
    env.feed(bar(2, 104, 104.5, 103, 104))
    [f] = env.fills
    assert f.price == D("104.00")


def test_stop_limit_after_trigger_fills_at_limit_when_the_low_reaches_it() -> None:
    env = build(one(BUY, 10, STPLMT, stop_price=105, limit_price=106))
    env.feed(FLAT, bar(1, 107, 108, 106.5, 107), bar(2, 108, 109, 107, 108))
    assert env.fills == []
    env.feed(bar(3, 108, 109, 105.8, 106))
    [f] = env.fills
    assert f.price == D("106.00")


def test_stop_limit_not_triggered_does_nothing() -> None:
    env = build(one(BUY, 10, STPLMT, stop_price=105, limit_price=106))
    env.feed(FLAT, bar(1, 100, 104.99, 90, 95), bar(2, 95, 104, 80, 90))
    assert env.fills == []  # the limit (106) was below the market all along but never armed


def test_stop_limit_sell_mirrors() -> None:
    env = build(one(SELL, 10, STPLMT, stop_price=95, limit_price=94))
    env.feed(FLAT, bar(1, 93, 94.5, 92, 93))  # gap to 93 < limit 94: triggered, no fill
    assert env.fills == []
    env.feed(bar(2, 96, 97, 95.5, 96))  # as a sell limit 94 the open 96 is better
    [f] = env.fills
    assert (f.side, f.price) == (SELL, D("96.00"))

    env = build(one(SELL, 10, STPLMT, stop_price=95, limit_price=94))
    env.feed(FLAT, bar(1, 97, 98, 93, 94))  # trades down through 95: fills at the stop
    [f] = env.fills
    assert f.price == D("95.00")


# -- costs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "order_type", "kw", "next_bar", "expected"),
    [
        (BUY, MKT, {}, (100, 101, 99, 100), "100.20"),  # 100 · 1.002
        (SELL, MKT, {}, (100, 101, 99, 100), "99.80"),  # 100 · 0.998
        (BUY, STP, {"stop_price": 105}, (103, 106, 102, 105), "105.21"),  # 105 · 1.002
        (SELL, STP, {"stop_price": 95}, (93, 94, 92, 93), "92.81"),  # 93 · 0.998 = 92.814
        (BUY, LMT, {"limit_price": 95}, (97, 98, 94, 96), "95.00"),  # limits are never slipped
        (BUY, LMT, {"limit_price": 95}, (94, 96, 93, 95), "94.00"),
        (SELL, LMT, {"limit_price": 105}, (103, 106, 102, 104), "105.00"),
    ],
)
def test_slippage_applies_to_market_and_stop_only(
    side: OrderSide,
    order_type: OrderType,
    kw: dict[str, Any],
    next_bar: tuple[float, ...],
    expected: str,
) -> None:
    env = build(one(side, 10, order_type, **kw), slippage_bps="20")
    env.feed(FLAT, bar(1, *next_bar))
    [f] = env.fills
    assert f.price == D(expected)


@pytest.mark.parametrize(
    ("qty", "open_", "expected_fee"),
    [
        (300, 50.00, "3.00"),  # 300·0.005 + 1bp·15,000 = 1.50 + 1.50
        (100, 10.00, "1.00"),  # 0.50 + 0.10 = 0.60 -> the 1.00 minimum
        (1000, 12.34, "6.23"),  # 5.00 + 1.234 = 6.234 -> 6.23
        (2000, 87.65, "27.53"),  # 10.00 + 17.53 = 27.53
    ],
)
def test_commission_max_of_minimum_and_per_share_plus_bps(
    qty: int, open_: float, expected_fee: str
) -> None:
    fees = FeeModel(per_share=D("0.005"), bps=D(1), minimum=D("1.00"))
    env = build(one(BUY, qty), fees=fees)
    env.feed(FLAT, bar(1, open_, open_ + 1, open_ - 1, open_))
    [f] = env.fills
    assert f.commission == D(expected_fee)
    notional = D(qty) * D(str(open_)).quantize(D("0.01"))
    assert env.portfolio.cash == START_CASH - notional - D(expected_fee)
    assert env.portfolio.total_commissions == D(expected_fee)


def test_fee_model_uses_absolute_notional_and_no_fee_model_is_free() -> None:
    fees = FeeModel(bps=D(10))
    assert fees.commission(D(10), D("-1234.56")) == D("1.23")  # 10bp of 1234.56 = 1.23456
    assert FeeModel().commission(D(1_000_000), D(10**9)) == 0


# -- volume participation, IOC, FOK ---------------------------------------------------------------


def test_participation_cap_fills_over_several_bars() -> None:
    env = build(one(BUY, 100), participation=0.1)
    env.feed(FLAT)
    env.feed(bar(1, 100, 101, 99, 100, v=300))  # 10% of 300 = 30
    assert [f.quantity for f in env.fills] == [30]
    assert env.order.status is OrderStatus.PARTIALLY_FILLED
    env.feed(bar(2, 101, 102, 100, 101, v=0))  # unknown volume: nothing
    assert len(env.fills) == 1
    env.feed(bar(3, 102, 103, 101, 102, v=300), bar(4, 103, 104, 102, 103, v=300))
    assert env.order.status is OrderStatus.PARTIALLY_FILLED
    assert env.order.filled_quantity == 90
    env.feed(bar(5, 104, 105, 103, 104, v=300))
    assert [(f.quantity, f.price) for f in env.fills] == [
        (D(30), D("100.00")),
        (D(30), D("102.00")),
        (D(30), D("103.00")),
        (D(10), D("104.00")),
    ]
    assert env.order.status is OrderStatus.FILLED
    assert env.order.filled_quantity == 100
    # (30·100 + 30·102 + 30·103 + 10·104) / 100 = 10190 / 100
    assert env.order.avg_price == D("101.9")
    assert env.portfolio.quantity("AAA") == 100
    assert env.portfolio.cash == START_CASH - D(10190)
    assert len({f.fill_id for f in env.fills}) == 4
    assert env.venue.open_orders() == []


def test_participation_cap_is_not_eroded_by_float_error() -> None:
    env = build(one(BUY, 100), participation=0.29)
    env.feed(FLAT, bar(1, 100, 101, 99, 100, v=100))
    assert [f.quantity for f in env.fills] == [D(29)]


def test_ioc_fills_what_the_first_bar_allows_and_cancels_the_rest() -> None:
    env = build(one(BUY, 100, time_in_force=TimeInForce.IOC), participation=0.1)
    env.feed(FLAT, bar(1, 100, 101, 99, 100, v=300))
    assert [f.quantity for f in env.fills] == [D(30)]
    [cancel] = env.of(OrderCanceled)
    assert cancel.order is env.order
    assert env.order.status is OrderStatus.CANCELED
    assert env.order.filled_quantity == 30
    env.feed(bar(2, 100, 101, 99, 100, v=300))
    assert len(env.fills) == 1
    assert env.portfolio.quantity("AAA") == 30


def test_ioc_limit_not_reached_is_canceled_without_fill() -> None:
    env = build(one(BUY, 10, LMT, limit_price=90, time_in_force=TimeInForce.IOC))
    env.feed(FLAT, bar(1, 100, 101, 99, 100), bar(2, 89, 90, 88, 89))
    assert env.fills == []
    assert env.order.status is OrderStatus.CANCELED


def test_fok_fills_nothing_when_it_cannot_fill_everything() -> None:
    env = build(one(BUY, 100, time_in_force=TimeInForce.FOK), participation=0.1)
    env.feed(FLAT, bar(1, 100, 101, 99, 100, v=300), bar(2, 100, 101, 99, 100, v=10_000))
    assert env.fills == []
    assert env.order.status is OrderStatus.CANCELED
    assert env.order.filled_quantity == 0


def test_fok_fills_everything_at_once_when_it_can() -> None:
    env = build(one(BUY, 20, time_in_force=TimeInForce.FOK), participation=0.1)
    env.feed(FLAT, bar(1, 100, 101, 99, 100, v=300))
    [f] = env.fills
    assert f.quantity == 20
    assert env.order.status is OrderStatus.FILLED
    assert env.of(OrderCanceled) == []


# -- time in force DAY ----------------------------------------------------------------------------


def intraday(day: int, hour: int, o: float, h: float, low: float, c: float) -> Bar:
    return Bar("AAA", DAY0 + day * DAY + hour * HOUR, o, h, low, c, 1e6)


def test_day_order_expires_when_the_next_utc_day_arrives() -> None:
    env = build(one(BUY, 10, LMT, limit_price=95, time_in_force=TimeInForce.DAY))
    env.feed(intraday(0, 14, 100, 101, 99, 100), intraday(0, 15, 100, 101, 96, 97))
    assert env.fills == []
    # The first bar of the next day would fill the limit (open 94), but the order is gone.
    env.feed(intraday(1, 14, 94, 95, 93, 94))
    assert env.fills == []
    [expired] = env.of(OrderExpired)
    assert expired.order is env.order
    assert env.order.status is OrderStatus.EXPIRED
    assert env.venue.open_orders() == []


def test_day_order_fills_on_its_day() -> None:
    env = build(one(BUY, 10, LMT, limit_price=95, time_in_force=TimeInForce.DAY))
    env.feed(intraday(0, 14, 100, 101, 99, 100), intraday(0, 23, 96, 96, 94, 95))
    [f] = env.fills
    assert f.price == D("95.00")


def test_day_order_decided_on_a_daily_close_trades_the_next_session_only() -> None:
    """With daily bars (stamped at the close) a DAY order's day is the first UTC day it can
    trade on, as a broker queues a DAY order placed after the close for the next session."""
    env = build(one(BUY, 10, LMT, limit_price=95, time_in_force=TimeInForce.DAY))
    env.feed(FLAT, bar(1, 99, 100, 96, 97))  # day 1: not reached, still working
    assert env.order.status is OrderStatus.ACCEPTED
    env.feed(bar(2, 94, 95, 93, 94))  # day 2 would fill, but the day-1 order has expired
    assert env.fills == []
    assert env.order.status is OrderStatus.EXPIRED


def test_gtc_order_survives_the_day_change() -> None:
    env = build(one(BUY, 10, LMT, limit_price=95, time_in_force=TimeInForce.GTC))
    env.feed(intraday(0, 14, 100, 101, 99, 100), intraday(1, 14, 94, 95, 93, 94))
    [f] = env.fills
    assert f.price == D("94.00")


# -- rejects and cancels --------------------------------------------------------------------------


def test_duplicate_client_order_id_is_rejected() -> None:
    env = build(one(BUY, 10, LMT, limit_price=90))
    env.feed(FLAT)
    first = env.order
    twin = Order(first.client_order_id, "S", "AAA", BUY, D(5), LMT, D("91"))
    twin.transition(OrderStatus.SUBMITTED, 0)
    env.venue.submit(twin, FLAT.ts)
    [rejected] = env.of(OrderRejected)
    assert rejected.order is twin
    assert rejected.reason == "duplicate client order id"
    assert twin.status is OrderStatus.REJECTED
    assert env.venue.open_orders() == [first]
    assert first.status is OrderStatus.ACCEPTED


@pytest.mark.parametrize(
    ("qty", "order_type", "limit", "stop", "reason"),
    [
        ("10", LMT, "100.005", None, "not a multiple of the tick"),
        ("10", STP, None, "100.001", "not a multiple of the tick"),
        ("1.5", MKT, None, None, "not a multiple of the lot"),
    ],
)
def test_invalid_order_is_rejected_by_the_venue(
    qty: str, order_type: OrderType, limit: str | None, stop: str | None, reason: str
) -> None:
    env = build()
    env.feed(FLAT)
    order = Order(
        "bad-1",
        "S",
        "AAA",
        BUY,
        D(qty),
        order_type,
        None if limit is None else D(limit),
        None if stop is None else D(stop),
    )
    assert env.kernel.submit(order) is order
    [rejected] = env.of(OrderRejected)
    assert rejected.order is order
    assert reason in rejected.reason
    assert order.status is OrderStatus.REJECTED
    assert env.of(OrderAccepted) == []
    assert env.venue.open_orders() == []
    env.feed(bar(1, 1, 1000, 0.5, 1))
    assert env.fills == []


def test_restore_refuses_used_ids_and_keeps_matching_restored_orders() -> None:
    env = build()
    resting = Order("old-2", "S", "AAA", BUY, D(10), LMT, D("95"))
    for step in (OrderStatus.SUBMITTED, OrderStatus.ACCEPTED):
        resting.transition(step, 0)
    env.kernel.adopt({"old-1", "old-2"}, [resting])
    env.venue.restore({"old-1"}, [(resting, FLAT.ts)])
    replay = Order("old-1", "S", "AAA", BUY, D(1))
    replay.transition(OrderStatus.SUBMITTED, 0)
    env.venue.submit(replay, FLAT.ts)
    assert [e.reason for e in env.of(OrderRejected)] == ["duplicate client order id"]
    env.feed(FLAT)  # the decision bar itself is not after the decision: no fill
    assert env.fills == []
    env.feed(bar(1, 96, 97, 94, 95))
    [f] = env.fills
    assert (f.client_order_id, f.price) == ("old-2", D("95.00"))
    assert resting.status is OrderStatus.FILLED


def test_cancel_removes_a_working_order() -> None:
    env = build(one(BUY, 10, LMT, limit_price=95))
    env.feed(FLAT)
    env.kernel.cancel(env.order.client_order_id)
    assert env.order.status is OrderStatus.CANCELED
    env.feed(bar(1, 90, 91, 89, 90))
    assert env.fills == []
    env.venue.cancel("no-such-id")  # unknown ids are ignored
    assert len(env.of(OrderCanceled)) == 1


# -- quotes ---------------------------------------------------------------------------------------


def quote(i: int, bid: float, ask: float, bid_size: float, ask_size: float) -> QuoteTick:
    return QuoteTick("AAA", DAY0 + 10 * HOUR + i * 10**9, bid, ask, bid_size, ask_size)


def test_market_buy_takes_the_ask_up_to_its_size() -> None:
    env = build(one(BUY, 50), quotes=True)
    env.feed(quote(0, 100.40, 100.50, 500, 500))  # the decision quote is not traded
    assert env.fills == []
    env.feed(quote(1, 100.40, 100.50, 500, 30))
    assert [(f.quantity, f.price) for f in env.fills] == [(D(30), D("100.50"))]
    assert env.order.status is OrderStatus.PARTIALLY_FILLED
    env.feed(quote(2, 100.50, 100.60, 500, 100))
    assert [(f.quantity, f.price) for f in env.fills] == [
        (D(30), D("100.50")),
        (D(20), D("100.60")),
    ]
    assert env.order.status is OrderStatus.FILLED
    assert env.order.avg_price == D("100.54")  # (3015 + 2012) / 50


def test_market_sell_hits_the_bid() -> None:
    env = build(one(SELL, 10), quotes=True)
    env.feed(quote(0, 99.90, 100.10, 100, 100), quote(1, 99.80, 100.00, 100, 100))
    [f] = env.fills
    assert (f.side, f.price, f.quantity) == (SELL, D("99.80"), D(10))


def test_limit_buy_on_quotes_fills_at_the_touch_once_it_crosses() -> None:
    env = build(one(BUY, 10, LMT, limit_price=100.00), quotes=True)
    env.feed(quote(0, 100.10, 100.30, 100, 100), quote(1, 100.05, 100.20, 100, 100))
    assert env.fills == []
    env.feed(quote(2, 99.90, 99.98, 100, 100))
    [f] = env.fills
    assert f.price == D("99.98")


def test_limit_sell_on_quotes_fills_at_the_touch() -> None:
    env = build(one(SELL, 10, LMT, limit_price=101.00), quotes=True)
    env.feed(quote(0, 100.10, 100.30, 100, 100), quote(1, 100.99, 101.10, 100, 100))
    assert env.fills == []
    env.feed(quote(2, 101.00, 101.10, 100, 100))
    [f] = env.fills
    assert f.price == D("101.00")


def test_stop_on_quotes_triggers_on_the_touch() -> None:
    env = build(one(BUY, 10, STP, stop_price=101), quotes=True)
    env.feed(quote(0, 100.00, 100.10, 100, 100), quote(1, 100.50, 100.99, 100, 100))
    assert env.fills == []
    env.feed(quote(2, 101.00, 101.05, 100, 100))
    [f] = env.fills
    assert f.price == D("101.05")
