"""Instruments (rounding, checks, notional, betting and prediction payoffs), the message bus and
the clocks."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from neural_trader.core.bus import MessageBus
from neural_trader.core.clock import LiveClock, SimulatedClock
from neural_trader.core.instruments import (
    AssetClass,
    BetSide,
    BettingSelection,
    CryptoPair,
    Equity,
    Instrument,
    InstrumentRegistry,
    OutcomeShare,
)
from neural_trader.errors import OrderError

D = Decimal

# -- instruments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (D("100.125"), D("100.12")),  # half to even: 2 is even
        (D("100.135"), D("100.14")),  # half to even: 4 is even
        (D("100.1251"), D("100.13")),
        (D("99.994"), D("99.99")),
        (0.1 + 0.2, D("0.30")),  # float goes through its shortest repr, 0.30000000000000004
        (101, D("101.00")),
    ],
)
def test_round_price_to_tick_half_even(raw: object, expected: Decimal) -> None:
    assert Equity("AAA").round_price(raw) == expected  # type: ignore[arg-type]


def test_check_price_accepts_quarter_ticks() -> None:
    es = Instrument("ES", AssetClass.INDEX, price_increment=D("0.25"), multiplier=D(50))
    es.check_price(D("4000.25"))
    es.check_price(D("4000.50"))
    with pytest.raises(OrderError, match=r"not a multiple of the tick 0\.25"):
        es.check_price(D("4000.13"))


@pytest.mark.parametrize(
    ("tick", "raw", "expected"),
    [
        ("0.25", "4000.13", "4000.25"),  # 0.12 from 4000.25, 0.13 from 4000.00
        ("0.25", "4000.10", "4000.00"),
        ("0.05", "1.23", "1.25"),
        ("0.5", "7.2", "7.0"),
    ],
)
def test_round_price_snaps_to_non_decimal_ticks(tick: str, raw: str, expected: str) -> None:
    inst = Instrument("X", AssetClass.INDEX, price_increment=D(tick))
    assert inst.round_price(D(raw)) == D(expected)


@pytest.mark.parametrize(
    ("instrument", "raw", "expected"),
    [
        (Equity("AAA"), 1.9, D(1)),
        (Equity("AAA"), 10, D(10)),
        (Equity("AAA"), 0.99, D(0)),
        (CryptoPair("BTC"), D("0.123456789"), D("0.12345678")),
        (CryptoPair("BTC"), 1.5, D("1.5")),
        (BettingSelection("RUN"), D("10.239"), D("10.23")),
    ],
)
def test_round_quantity_never_rounds_up(
    instrument: Instrument, raw: object, expected: Decimal
) -> None:
    got = instrument.round_quantity(raw)  # type: ignore[arg-type]
    assert got == expected
    assert got <= D(str(raw))


def test_check_price_bounds_and_tick() -> None:
    eq = Equity("AAA")
    eq.check_price(D("10.01"))
    eq.check_price(D("0"))
    with pytest.raises(OrderError, match="below"):
        eq.check_price(D("-0.01"))
    with pytest.raises(OrderError, match=r"not a multiple of the tick 0\.01"):
        eq.check_price(D("10.005"))
    share = OutcomeShare("YES-1")
    share.check_price(D("0.999"))
    share.check_price(D("1"))
    with pytest.raises(OrderError, match="above 1"):
        share.check_price(D("1.001"))
    with pytest.raises(OrderError, match="not a multiple"):
        share.check_price(D("0.5005"))
    bet = BettingSelection("RUN")
    with pytest.raises(OrderError, match=r"below 1\.01"):
        bet.check_price(D("1.00"))
    with pytest.raises(OrderError, match="above 1000"):
        bet.check_price(D("1000.01"))


def test_check_quantity() -> None:
    eq = Equity("AAA")
    eq.check_quantity(D(3))
    for bad in ("0", "-1"):
        with pytest.raises(OrderError, match="quantity must be positive"):
            eq.check_quantity(D(bad))
    with pytest.raises(OrderError, match="not a multiple of the lot 1"):
        eq.check_quantity(D("1.5"))
    CryptoPair("BTC").check_quantity(D("0.00000001"))
    with pytest.raises(OrderError, match="lot"):
        CryptoPair("BTC").check_quantity(D("0.000000001"))


def test_notional_uses_multiplier() -> None:
    es = Instrument("ES", AssetClass.INDEX, multiplier=D(50))
    assert es.notional(D(3), D("4000.25")) == D("600037.50")  # 3 * 4000.25 * 50
    assert Equity("AAA").notional(D(7), D("12.34")) == D("86.38")


def test_instrument_defaults() -> None:
    assert Equity("AAA").asset_class is AssetClass.EQUITY
    btc = CryptoPair("BTC/USDT")
    assert (btc.asset_class, btc.currency, btc.size_increment) == (
        AssetClass.CRYPTO,
        "USDT",
        D("0.00000001"),
    )
    assert BettingSelection("R").asset_class is AssetClass.BETTING
    assert OutcomeShare("O").max_price == 1


@pytest.mark.parametrize(
    ("side", "stake", "odds", "win", "lose", "liability"),
    [
        # back 10 @ 3.0 wins 10·2, loses 10; liability is the stake
        (BetSide.BACK, "10", "3.0", "20", "-10", "10"),
        # lay 10 @ 3.0 loses 10·2 if the runner wins, wins the stake if it loses
        (BetSide.LAY, "10", "3.0", "-20", "10", "20"),
        (BetSide.BACK, "2.50", "1.01", "0.025", "-2.50", "2.50"),
        (BetSide.LAY, "4", "11.5", "-42", "4", "42"),
    ],
)
def test_betting_payoffs(
    side: BetSide, stake: str, odds: str, win: str, lose: str, liability: str
) -> None:
    assert BettingSelection.profit_if_wins(side, D(stake), D(odds)) == D(win)
    assert BettingSelection.profit_if_loses(side, D(stake)) == D(lose)
    assert BettingSelection.liability(side, D(stake), D(odds)) == D(liability)


def test_registry() -> None:
    reg = InstrumentRegistry()
    reg.add(Equity("BBB"))
    reg.add(Equity("AAA"))
    assert reg.get("AAA").symbol == "AAA"
    assert "AAA" in reg
    assert "ZZZ" not in reg
    with pytest.raises(OrderError, match="unknown instrument 'ZZZ'") as err:
        reg.get("ZZZ")
    assert err.value.context["known"] == ["AAA", "BBB"]


# -- bus ------------------------------------------------------------------------------------------


class Ping:
    def __init__(self, n: int) -> None:
        self.n = n


class SubPing(Ping):
    pass


def test_bus_delivers_in_subscription_order() -> None:
    bus = MessageBus()
    seen: list[tuple[str, int]] = []
    bus.subscribe(Ping, lambda e: seen.append(("a", e.n)))
    bus.subscribe(Ping, lambda e: seen.append(("b", e.n)))
    bus.publish(Ping(1))
    bus.publish(Ping(2))
    assert seen == [("a", 1), ("b", 1), ("a", 2), ("b", 2)]


def test_bus_dispatches_on_exact_class_only() -> None:
    bus = MessageBus()
    seen: list[str] = []
    bus.subscribe(Ping, lambda e: seen.append("ping"))
    bus.subscribe(SubPing, lambda e: seen.append("sub"))
    bus.publish(SubPing(1))
    assert seen == ["sub"]
    bus.publish(object())  # nobody listens: nothing happens
    assert seen == ["sub"]


def test_bus_unsubscribe_and_has_subscribers() -> None:
    bus = MessageBus()
    seen: list[int] = []

    def handler(e: Ping) -> None:
        seen.append(e.n)

    assert not bus.has_subscribers(Ping)
    bus.subscribe(Ping, handler)
    assert bus.has_subscribers(Ping)
    bus.publish(Ping(1))
    bus.unsubscribe(Ping, handler)
    bus.unsubscribe(Ping, handler)  # a second unsubscribe is harmless
    assert not bus.has_subscribers(Ping)
    bus.publish(Ping(2))
    assert seen == [1]


def test_bus_handler_exception_reaches_the_publisher() -> None:
    bus = MessageBus()
    seen: list[int] = []

    def boom(e: Ping) -> None:
        raise ValueError("handler failed")

    bus.subscribe(Ping, boom)
    bus.subscribe(Ping, lambda e: seen.append(e.n))
    with pytest.raises(ValueError, match="handler failed"):
        bus.publish(Ping(1))
    assert seen == []  # later handlers do not run after a failure


def test_bus_nested_publish_runs_in_the_publishers_stack() -> None:
    bus = MessageBus()
    order: list[str] = []
    bus.subscribe(Ping, lambda e: (order.append("ping"), bus.publish(SubPing(e.n))))
    bus.subscribe(SubPing, lambda e: order.append("sub"))
    bus.subscribe(Ping, lambda e: order.append("ping2"))
    bus.publish(Ping(0))
    assert order == ["ping", "sub", "ping2"]


# -- clocks ---------------------------------------------------------------------------------------


def test_simulated_clock_moves_only_forward() -> None:
    clock = SimulatedClock(100)
    assert clock.now_ns() == 100
    clock.advance_to(100)  # standing still is fine
    clock.advance_to(250)
    assert clock.now_ns() == 250
    with pytest.raises(ValueError, match="cannot go back from 250 to 249"):
        clock.advance_to(249)
    assert clock.now_ns() == 250
    assert SimulatedClock().now_ns() == 0


def test_live_clock_reads_wall_time_in_ns() -> None:
    before = time.time_ns()
    now = LiveClock().now_ns()
    after = time.time_ns()
    assert before <= now <= after
