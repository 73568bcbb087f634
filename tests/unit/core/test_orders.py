"""The order state machine and fill accounting, against a transition table written out here by
hand from the diagram in ``core/orders.py`` (not imported from the module under test)."""

from __future__ import annotations

import itertools
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce
from neural_trader.errors import OrderError

S = OrderStatus

# The documented table, written out independently of orders.TRANSITIONS.
LEGAL: dict[OrderStatus, set[OrderStatus]] = {
    S.INITIALIZED: {S.SUBMITTED, S.DENIED},
    S.SUBMITTED: {S.ACCEPTED, S.REJECTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED},
    S.ACCEPTED: {S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED},
    S.PARTIALLY_FILLED: {S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED},
    S.FILLED: set(),
    S.CANCELED: set(),
    S.REJECTED: set(),
    S.EXPIRED: set(),
    S.DENIED: set(),
}
TERMINAL = {S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED, S.DENIED}
OPEN = {S.SUBMITTED, S.ACCEPTED, S.PARTIALLY_FILLED}

# A legal path from INITIALIZED to every status, used to put an order into that status.
PATH_TO: dict[OrderStatus, list[OrderStatus]] = {
    S.INITIALIZED: [],
    S.DENIED: [S.DENIED],
    S.SUBMITTED: [S.SUBMITTED],
    S.ACCEPTED: [S.SUBMITTED, S.ACCEPTED],
    S.REJECTED: [S.SUBMITTED, S.REJECTED],
    S.PARTIALLY_FILLED: [S.SUBMITTED, S.ACCEPTED, S.PARTIALLY_FILLED],
    S.FILLED: [S.SUBMITTED, S.ACCEPTED, S.FILLED],
    S.CANCELED: [S.SUBMITTED, S.ACCEPTED, S.CANCELED],
    S.EXPIRED: [S.SUBMITTED, S.ACCEPTED, S.EXPIRED],
}

ALL_PAIRS = list(itertools.product(list(OrderStatus), repeat=2))
LEGAL_PAIRS = [(a, b) for a, b in ALL_PAIRS if b in LEGAL[a]]
ILLEGAL_PAIRS = [(a, b) for a, b in ALL_PAIRS if b not in LEGAL[a]]


def new_order(qty: str = "10", **kw: object) -> Order:
    return Order("c-1", "strat", "AAA", OrderSide.BUY, Decimal(qty), **kw)  # type: ignore[arg-type]


def order_in(status: OrderStatus) -> Order:
    order = new_order()
    for ts, step in enumerate(PATH_TO[status], start=1):
        order.transition(step, ts)
    assert order.status is status
    return order


def test_table_sizes() -> None:
    # 9 statuses -> 81 ordered pairs; the diagram allows 16 of them.
    assert len(ALL_PAIRS) == 81
    assert len(LEGAL_PAIRS) == 16
    assert len(ILLEGAL_PAIRS) == 65


@pytest.mark.parametrize(("start", "new"), LEGAL_PAIRS, ids=lambda s: s.value)
def test_every_legal_transition_works(start: OrderStatus, new: OrderStatus) -> None:
    order = order_in(start)
    order.transition(new, 1_000, reason="why")
    assert order.status is new
    assert order.ts_last == 1_000
    assert order.reason == "why"


@pytest.mark.parametrize(("start", "new"), ILLEGAL_PAIRS, ids=lambda s: s.value)
def test_every_illegal_transition_raises_and_changes_nothing(
    start: OrderStatus, new: OrderStatus
) -> None:
    order = order_in(start)
    ts_before = order.ts_last
    with pytest.raises(OrderError, match="illegal order transition"):
        order.transition(new, 1_000, reason="nope")
    assert order.status is start
    assert order.ts_last == ts_before
    assert order.reason == ""


@pytest.mark.parametrize("terminal", sorted(TERMINAL, key=lambda s: s.value), ids=str)
def test_terminal_states_accept_nothing(terminal: OrderStatus) -> None:
    order = order_in(terminal)
    assert order.is_terminal and not order.is_open
    for new in OrderStatus:
        with pytest.raises(OrderError):
            order.transition(new, 5)
    assert order.status is terminal


@pytest.mark.parametrize("status", list(OrderStatus), ids=str)
def test_open_and_terminal_flags(status: OrderStatus) -> None:
    order = order_in(status)
    assert order.is_open == (status in OPEN)
    assert order.is_terminal == (status in TERMINAL)


# -- fill accounting ------------------------------------------------------------------------------


def test_partial_fills_weight_the_average_price_by_quantity() -> None:
    order = order_in(S.ACCEPTED)
    order.fill(Decimal(3), Decimal("100"), 10)
    assert order.status is S.PARTIALLY_FILLED
    assert order.filled_quantity == 3
    assert order.leaves_quantity == 7
    assert order.avg_price == Decimal("100")
    order.fill(Decimal(7), Decimal("110"), 11)
    # (3*100 + 7*110) / 10 = 1070 / 10
    assert order.status is S.FILLED
    assert order.avg_price == Decimal("107")
    assert order.filled_quantity == 10
    assert order.leaves_quantity == 0
    assert order.ts_last == 11


def test_three_partials_with_fractional_prices() -> None:
    order = order_in(S.ACCEPTED)
    order.fill(Decimal(2), Decimal("10.25"), 1)
    order.fill(Decimal(3), Decimal("10.50"), 2)
    assert order.status is S.PARTIALLY_FILLED
    order.fill(Decimal(5), Decimal("10.10"), 3)
    # (20.50 + 31.50 + 50.50) / 10 = 102.50 / 10
    assert order.avg_price == Decimal("10.25")
    assert order.status is S.FILLED


def test_fill_straight_from_submitted_is_allowed() -> None:
    order = order_in(S.SUBMITTED)
    order.fill(Decimal(10), Decimal("99.5"), 3)
    assert order.status is S.FILLED
    assert order.avg_price == Decimal("99.5")


@pytest.mark.parametrize("qty", ["11", "10.0001", "0", "-1"])
def test_overfill_and_non_positive_fill_are_rejected_without_change(qty: str) -> None:
    order = order_in(S.ACCEPTED)
    with pytest.raises(OrderError):
        order.fill(Decimal(qty), Decimal("100"), 5)
    assert order.filled_quantity == 0
    assert order.avg_price == 0
    assert order.status is S.ACCEPTED


def test_overfill_after_partial_is_rejected() -> None:
    order = order_in(S.ACCEPTED)
    order.fill(Decimal(6), Decimal("100"), 1)
    with pytest.raises(OrderError):
        order.fill(Decimal(5), Decimal("100"), 2)
    assert order.filled_quantity == 6
    assert order.status is S.PARTIALLY_FILLED


def test_fill_on_filled_order_is_rejected() -> None:
    order = order_in(S.ACCEPTED)
    order.fill(Decimal(10), Decimal("100"), 1)
    with pytest.raises(OrderError):
        order.fill(Decimal(1), Decimal("100"), 2)
    assert order.filled_quantity == 10


@pytest.mark.parametrize("status", [S.CANCELED, S.EXPIRED, S.REJECTED, S.DENIED, S.INITIALIZED])
def test_late_fill_on_an_order_that_cannot_fill_raises(status: OrderStatus) -> None:
    order = order_in(status)
    with pytest.raises(OrderError):
        order.fill(Decimal(1), Decimal("100"), 9)
    assert order.status is status


@pytest.mark.parametrize("status", [S.CANCELED, S.INITIALIZED])
def test_refused_late_fill_leaves_fill_accounting_unchanged(status: OrderStatus) -> None:
    order = order_in(status)
    with pytest.raises(OrderError):
        order.fill(Decimal(4), Decimal("100"), 9)
    assert order.filled_quantity == 0
    assert order.avg_price == 0
    assert order.leaves_quantity == 10


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 1_000), st.integers(1, 10_000_000)), min_size=1, max_size=20)
)
def test_random_partial_fills_match_weighted_average(parts: list[tuple[int, int]]) -> None:
    """Quantities are integer lots, prices have 4 decimals; the reference is exact (Fraction)."""
    total = sum(q for q, _ in parts)
    order = Order("h", "s", "AAA", OrderSide.SELL, Decimal(total))
    order.transition(S.SUBMITTED, 0)
    cum_q = 0
    cum_value = Fraction(0)
    for i, (q, p_units) in enumerate(parts):
        price = Decimal(p_units).scaleb(-4)
        order.fill(Decimal(q), price, i)
        cum_q += q
        cum_value += q * Fraction(price)
        assert order.filled_quantity == cum_q
        assert order.leaves_quantity == total - cum_q
        expected_avg = cum_value / cum_q
        # Decimal division rounds to 28 significant digits; prices are < 1000.
        assert abs(Fraction(order.avg_price) - expected_avg) < Fraction(1, 10**20)
        assert order.status is (S.FILLED if cum_q == total else S.PARTIALLY_FILLED)


# -- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_type", "limit", "stop", "message"),
    [
        (OrderType.LIMIT, None, None, "limit order needs limit price"),
        (OrderType.MARKET, Decimal("10"), None, "market order takes no limit price"),
        (OrderType.MARKET, None, Decimal("10"), "market order takes no stop price"),
        (OrderType.STOP, None, None, "stop order needs stop price"),
        (OrderType.STOP, Decimal("10"), Decimal("10"), "stop order takes no limit price"),
        (OrderType.LIMIT, Decimal("10"), Decimal("10"), "limit order takes no stop price"),
        (OrderType.STOP_LIMIT, Decimal("10"), None, "stop_limit order needs stop price"),
        (OrderType.STOP_LIMIT, None, Decimal("10"), "stop_limit order needs limit price"),
    ],
)
def test_price_fields_must_match_order_type(
    order_type: OrderType, limit: Decimal | None, stop: Decimal | None, message: str
) -> None:
    with pytest.raises(OrderError, match=message):
        Order("v", "s", "AAA", OrderSide.BUY, Decimal(1), order_type, limit, stop)


@pytest.mark.parametrize(
    ("order_type", "limit", "stop"),
    [
        (OrderType.MARKET, None, None),
        (OrderType.LIMIT, Decimal("10"), None),
        (OrderType.STOP, None, Decimal("10")),
        (OrderType.STOP_LIMIT, Decimal("10"), Decimal("11")),
    ],
)
def test_well_formed_orders_start_initialized(
    order_type: OrderType, limit: Decimal | None, stop: Decimal | None
) -> None:
    order = Order(
        "v", "s", "AAA", OrderSide.BUY, Decimal(5), order_type, limit, stop, TimeInForce.DAY, 77
    )
    assert order.status is S.INITIALIZED
    assert order.filled_quantity == 0
    assert order.leaves_quantity == 5
    assert order.ts_created == order.ts_last == 77
    assert not order.is_open and not order.is_terminal


@pytest.mark.parametrize("qty", ["0", "-1", "-0.5"])
def test_non_positive_quantity_is_rejected(qty: str) -> None:
    with pytest.raises(OrderError, match="quantity must be positive"):
        Order("v", "s", "AAA", OrderSide.SELL, Decimal(qty))


def test_side_sign() -> None:
    assert OrderSide.BUY.sign == 1
    assert OrderSide.SELL.sign == -1
