"""The port's tables and guards, and the pool's resilience parts, checked against worked
numbers: state and error tables, capabilities, exact parsing of venue numbers and times,
routing rules, the token bucket's spacing, backoff bounds, and the breaker's transitions."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from neural_trader.brokers.base import (
    Capabilities,
    ErrorRule,
    Failure,
    StatusTable,
    VenueError,
    classify,
    decimal_field,
    iso_ns,
)
from neural_trader.brokers.resilience import Backoff, BreakerState, CircuitBreaker, TokenBucket
from neural_trader.brokers.routing import Router
from neural_trader.core.instruments import AssetClass
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce

D = Decimal
S = OrderStatus
TABLE = StatusTable(
    "v", {"NEW": S.ACCEPTED, "PENDING": S.SUBMITTED, "DONE": S.FILLED, "KILLED": S.CANCELED}
)


# -- order states -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "filled", "expected"),
    [
        ("NEW", "0", S.ACCEPTED),
        ("NEW", "4", S.PARTIALLY_FILLED),  # open with some filled
        ("NEW", "10", S.FILLED),  # open by name, complete by quantity
        ("PENDING", "3", S.PARTIALLY_FILLED),
        ("KILLED", "4", S.CANCELED),  # terminal states are kept: the remainder was canceled
        ("DONE", "10", S.FILLED),
    ],
)
def test_status_table_refines_open_states_by_fill(raw: str, filled: str, expected: S) -> None:
    assert TABLE.map(raw, D(10), D(filled)) is expected


def test_unknown_state_names_the_raw_state_and_the_order() -> None:
    with pytest.raises(VenueError) as info:
        TABLE.map("HALTED_BY_LULD", D(1), D(0), "o-9")
    err = info.value
    assert err.failure is Failure.UNKNOWN_STATE and not err.transient
    assert err.context == {
        "venue": "v",
        "order": "o-9",
        "state": "HALTED_BY_LULD",
        "failure": "unknown_state",
    }
    assert "HALTED_BY_LULD" in str(err)


# -- errors -----------------------------------------------------------------------------------
RULES = (
    ErrorRule(Failure.DUPLICATE, contains="duplicate"),
    ErrorRule(Failure.INSUFFICIENT_FUNDS, code="-2010", contains="balance"),
    ErrorRule(Failure.RATE_LIMITED, status=429),
)


@pytest.mark.parametrize(
    ("status", "code", "message", "expected"),
    [
        (400, "-2010", "Account has insufficient balance", Failure.INSUFFICIENT_FUNDS),
        (400, "-2010", "Duplicate order sent.", Failure.DUPLICATE),  # first rule wins
        (400, "-2010", "Order would trigger immediately.", Failure.REJECTED),  # no rule: a no
        (429, None, "Too many requests", Failure.RATE_LIMITED),
        (503, None, "Service Unavailable", Failure.UNAVAILABLE),  # no rule, 5xx
        (None, None, "whatever", Failure.REJECTED),
    ],
)
def test_error_rules_first_match_then_status(
    status: int | None, code: str | None, message: str, expected: Failure
) -> None:
    assert classify(RULES, status, code, message) is expected


def test_transient_failures() -> None:
    transient = {f for f in Failure if VenueError("x", f).transient}
    assert transient == {Failure.RATE_LIMITED, Failure.UNAVAILABLE, Failure.TIMEOUT}


# -- capabilities -----------------------------------------------------------------------------
CAPS = Capabilities(
    order_types=frozenset({OrderType.MARKET, OrderType.LIMIT}),
    time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC}),
    asset_classes=frozenset({AssetClass.EQUITY}),
    fractional=False,
    shorting=False,
    extended_hours=False,
    replace=False,
    market_data=False,
    sandbox=True,
    requests_per_s=5.0,
)


@pytest.mark.parametrize(
    ("order", "problem"),
    [
        (Order("a", "s", "X", OrderSide.BUY, D(1), OrderType.STOP, stop_price=D(5)), "stop"),
        (Order("b", "s", "X", OrderSide.BUY, D(1), time_in_force=TimeInForce.DAY), "day"),
        (Order("c", "s", "X", OrderSide.BUY, D("1.5")), "whole quantities"),
    ],
)
def test_capabilities_refuse_what_the_venue_cannot_take(order: Order, problem: str) -> None:
    with pytest.raises(VenueError, match=problem) as info:
        CAPS.check(order, "v")
    assert info.value.failure is Failure.UNSUPPORTED


def test_capabilities_accept_what_it_can() -> None:
    CAPS.check(Order("d", "s", "X", OrderSide.SELL, D(3), OrderType.LIMIT, D("9.5")), "v")
    assert CAPS.describe()["order_types"] == ["limit", "market"]


# -- parsing ----------------------------------------------------------------------------------
def test_decimal_fields_are_exact_and_malformed_is_refused() -> None:
    assert decimal_field({"px": "0.1"}, "px", "v") + decimal_field({"q": 0.2}, "q", "v") == D("0.3")
    for bad in ({"px": "12a"}, {"px": "NaN"}, {}):
        with pytest.raises(VenueError) as info:
            decimal_field(bad, "px", "v")
        assert info.value.failure is Failure.MALFORMED


def test_iso_timestamps_to_nanoseconds() -> None:
    base = 1615919881 * 10**9  # 2021-03-16T18:38:01Z
    assert iso_ns("2021-03-16T18:38:01Z", "v") == base
    assert iso_ns("2021-03-16T18:38:01.942282Z", "v") == base + 942_282_000
    assert iso_ns("2021-03-16T18:38:01.123456789Z", "v") == base + 123_456_789
    assert iso_ns("2021-03-16T14:38:01.5-04:00", "v") == base + 500_000_000
    with pytest.raises(VenueError):
        iso_ns("16/03/2021", "v")


# -- routing ----------------------------------------------------------------------------------
def test_routes_symbol_before_asset_class_and_single_venue_default() -> None:
    router = Router.from_rules(
        {"crypto": ["binance", "kraken"], "BTC/USD": ["coinbase"], "equity": ["alpaca"]},
        ["alpaca", "binance", "coinbase", "kraken"],
    )
    assert router.venues_for("BTC/USD", AssetClass.CRYPTO) == ("coinbase",)
    assert router.venues_for("ETH/USDT", AssetClass.CRYPTO) == ("binance", "kraken")
    assert router.venues_for("AAPL", AssetClass.EQUITY) == ("alpaca",)
    with pytest.raises(VenueError, match="no route for EURUSD"):
        router.venues_for("EURUSD", AssetClass.FX)
    assert Router.from_rules({}, ["paper"]).venues_for("ANY", None) == ("paper",)


def test_route_to_an_unconfigured_venue_is_refused() -> None:
    with pytest.raises(VenueError, match="route 'crypto' names kraken"):
        Router.from_rules({"crypto": ["kraken"]}, ["binance"])


# -- resilience -------------------------------------------------------------------------------
class FakeTime:
    """A clock that moves only when the bucket sleeps; records each sleep."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_token_bucket_spaces_calls_after_the_burst() -> None:
    t = FakeTime()
    bucket = TokenBucket(rate=4.0, burst=2, clock=t.clock, sleep=t.sleep)
    for _ in range(5):
        await bucket.acquire()
    assert t.sleeps == pytest.approx([0.25, 0.25, 0.25])  # two free, then one per 1/4 s
    t.now += 10  # idle: refills to the burst, not beyond
    for _ in range(2):
        await bucket.acquire()
    assert len(t.sleeps) == 3


def test_backoff_grows_to_the_cap_with_bounded_jitter() -> None:
    backoff = Backoff(0.5, 8.0, random.Random(1))
    for attempt, ceiling in enumerate([0.5, 1, 2, 4, 8, 8, 8]):
        delay = backoff.delay(attempt)
        assert ceiling / 2 <= delay <= ceiling
    delays = {round(Backoff(0.5, 8.0, random.Random(s)).delay(3), 6) for s in range(20)}
    assert len(delays) == 20  # jitter: clients do not reconnect in step


def test_breaker_opens_after_threshold_and_probes_close_or_reopen() -> None:
    breaker = CircuitBreaker(failures=3)
    assert not breaker.failure() and not breaker.failure()
    assert breaker.failure() and breaker.state is BreakerState.OPEN and breaker.trips == 1
    breaker.probe()
    assert breaker.failure() and breaker.state is BreakerState.OPEN  # a failed probe re-opens
    assert breaker.trips == 1  # still the same outage
    breaker.probe()
    breaker.success()
    assert breaker.closed and breaker.consecutive == 0
    breaker.failure()
    breaker.success()  # a success between failures resets the count
    assert not breaker.failure() and breaker.closed
