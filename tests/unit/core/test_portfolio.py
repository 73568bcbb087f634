"""The ledger: netting positions, average cost, realized PnL and the Decimal cash book.

Expectations come from closed forms, from an exact average-cost reference written here with
``fractions.Fraction``, and (for the million-fill run) from integer arithmetic in micro-dollars.
"""

from __future__ import annotations

import time
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_trader.core.events import Fill
from neural_trader.core.instruments import (
    AssetClass,
    CryptoPair,
    Equity,
    Instrument,
    InstrumentRegistry,
)
from neural_trader.core.orders import OrderSide
from neural_trader.core.portfolio import Portfolio, Position
from neural_trader.errors import OrderError

BUY, SELL = OrderSide.BUY, OrderSide.SELL
D = Decimal


def registry() -> InstrumentRegistry:
    reg = InstrumentRegistry()
    reg.add(Equity("EQ"))
    reg.add(CryptoPair("BTC"))
    reg.add(Instrument("ES", AssetClass.INDEX, multiplier=D(50), price_increment=D("0.25")))
    return reg


def fill(symbol: str, side: OrderSide, qty: object, price: object, fee: object = "0") -> Fill:
    return Fill("f", "o", "s", symbol, side, D(str(qty)), D(str(price)), D(str(fee)), 0)


def portfolio(cash: str = "100000") -> Portfolio:
    return Portfolio(D(cash), registry())


# -- closed forms ---------------------------------------------------------------------------------


def test_long_partial_close_realizes_the_difference() -> None:
    pf = portfolio()
    pf.apply_fill(fill("EQ", BUY, 10, 100))
    pos = pf.apply_fill(fill("EQ", SELL, 4, 110))
    assert pos.realized_pnl == 40  # 4 * (110 - 100)
    assert pf.realized_pnl == 40
    assert pos.quantity == 6
    assert pos.avg_price == 100
    assert pf.cash == D(100000) - 1000 + 440


def test_short_partial_cover_realizes_the_difference() -> None:
    pf = portfolio()
    pf.apply_fill(fill("EQ", SELL, 10, 100))
    pos = pf.apply_fill(fill("EQ", BUY, 4, 90))
    assert pos.realized_pnl == 40  # 4 * (100 - 90)
    assert pos.quantity == -6
    assert pos.avg_price == 100
    assert pf.cash == D(100000) + 1000 - 360


def test_flip_long_to_short_realizes_the_closed_part_and_reopens_at_the_fill_price() -> None:
    pf = portfolio()
    pf.apply_fill(fill("EQ", BUY, 10, 100))
    pos = pf.apply_fill(fill("EQ", SELL, 15, 110))
    assert pos.realized_pnl == 100  # 10 * (110 - 100)
    assert pos.quantity == -5
    assert pos.avg_price == 110
    # The new short is marked against 110: at 104 it is up 5 * 6.
    assert pos.unrealized_pnl(D(104), D(1)) == 30


def test_flip_short_to_long() -> None:
    pf = portfolio()
    pf.apply_fill(fill("EQ", SELL, 8, "50.50"))
    pos = pf.apply_fill(fill("EQ", BUY, 20, "48.25"))
    assert pos.realized_pnl == D("18.00")  # 8 * (50.50 - 48.25)
    assert pos.quantity == 12
    assert pos.avg_price == D("48.25")


def test_scaling_in_averages_cost() -> None:
    pf = portfolio()
    pf.apply_fill(fill("EQ", BUY, 10, 100))
    pos = pf.apply_fill(fill("EQ", BUY, 30, 120))
    assert pos.avg_price == 115  # (1000 + 3600) / 40
    pos = pf.apply_fill(fill("EQ", SELL, 40, 125))
    assert pos.realized_pnl == 400  # 40 * (125 - 115)
    assert pos.is_flat
    assert pos.avg_price == 0
    assert pos.cost_basis == 0


def test_multiplier_scales_pnl_and_cash() -> None:
    pf = portfolio()
    pf.apply_fill(fill("ES", BUY, 2, "4000.25", "4.20"))
    pos = pf.apply_fill(fill("ES", SELL, 2, "4010.50", "4.20"))
    assert pos.realized_pnl == D("1025.00")  # 10.25 * 2 * 50
    assert pf.cash == D(100000) + D("1025.00") - D("8.40")
    assert pf.total_commissions == D("8.40")
    assert pos.commissions == D("8.40")


def test_avg_price_of_a_multiplied_contract_is_the_fill_price() -> None:
    pf = portfolio()
    pos = pf.apply_fill(fill("ES", BUY, 2, "4000.25"))
    assert pos.avg_price == D("4000.25")


def test_fractional_crypto_quantities_are_exact() -> None:
    pf = portfolio()
    pf.apply_fill(fill("BTC", BUY, "0.12345678", "65000.12", "1.23"))
    pos = pf.apply_fill(fill("BTC", SELL, "0.02345678", "66000.00", "0.50"))
    assert pos.quantity == D("0.10000000")
    assert pf.cash == (
        D(100000)
        - D("0.12345678") * D("65000.12")
        - D("1.23")
        + D("0.02345678") * D("66000.00")
        - D("0.50")
    )
    # Closed part: 0.02345678 * (66000.00 - 65000.12)
    assert pos.realized_pnl == D("0.02345678") * D("999.88")


def test_equity_exact_and_float_mark() -> None:
    pf = portfolio()
    pf.apply_fill(fill("EQ", BUY, 10, 100, "1"))
    pf.apply_fill(fill("ES", SELL, 1, 4000, "2"))
    # cash = 100000 - 1000 - 1 + 200000 - 2
    assert pf.cash == D(298997)
    assert pf.equity_exact({"EQ": D(105), "ES": D(3990)}) == D(298997) + 1050 - 199500
    pf.mark("EQ", 105.0)
    pf.mark("ES", 3990.0)
    assert pf.equity() == pytest.approx(298997 + 1050 - 199500, abs=1e-9)
    assert pf.book()[1] == pytest.approx(1050 + 199500, abs=1e-9)
    assert pf.quantity("EQ") == 10
    assert pf.quantity_f("ES") == -1.0
    assert pf.quantity("NOPE") == 0
    assert [p.symbol for p in pf.open_positions()] == ["EQ", "ES"]


def test_unknown_symbol_fill_is_an_error() -> None:
    pf = portfolio()
    with pytest.raises(OrderError, match="unknown instrument"):
        pf.apply_fill(fill("ZZZ", BUY, 1, 1))
    assert pf.cash == D(100000)
    assert pf.fill_count == 0


def test_restore_replaces_state() -> None:
    pf = portfolio()
    pf.apply_fill(fill("EQ", BUY, 10, 100))
    saved = Position("ES")
    saved.apply(D(-3), D(4000), D(50))
    saved.realized_pnl = D("125.5")
    pf.restore(D("5000.25"), [saved], D("7.5"))
    assert pf.cash == D("5000.25")
    assert pf.total_commissions == D("7.5")
    assert pf.quantity("EQ") == 0
    assert pf.quantity("ES") == -3
    assert pf.realized_pnl == D("125.5")
    assert pf.equity_exact({"ES": D(3990)}) == D("5000.25") - 3 * 3990 * 50


# -- an exact average-cost reference --------------------------------------------------------------


class RefPosition:
    """Average-cost netting in exact rationals, written from the textbook definition."""

    def __init__(self) -> None:
        self.q = Fraction(0)
        self.avg = Fraction(0)
        self.realized = Fraction(0)

    def apply(self, signed: Fraction, price: Fraction, mult: Fraction) -> None:
        if self.q == 0 or (self.q > 0) == (signed > 0):
            new_q = self.q + signed
            self.avg = (self.avg * abs(self.q) + price * abs(signed)) / abs(new_q)
            self.q = new_q
            return
        closing = min(abs(signed), abs(self.q))
        direction = 1 if self.q > 0 else -1
        self.realized += closing * (price - self.avg) * direction * mult
        rest = abs(signed) - closing
        if rest:  # flipped: the remainder opens at the fill price
            self.q = rest * (1 if signed > 0 else -1)
            self.avg = price
        else:
            self.q -= closing * direction
            if self.q == 0:
                self.avg = Fraction(0)


MULT = {"EQ": 1, "BTC": 1, "ES": 50}


@st.composite
def fill_specs(draw: st.DrawFn) -> tuple[str, OrderSide, Decimal, Decimal, Decimal]:
    symbol = draw(st.sampled_from(["EQ", "BTC", "ES"]))
    side = draw(st.sampled_from([BUY, SELL]))
    if symbol == "BTC":
        qty = D(draw(st.integers(1, 10 * 10**8))).scaleb(-8)  # 0.00000001 .. 10
    elif symbol == "ES":
        qty = D(draw(st.integers(1, 20)))
    else:
        qty = D(draw(st.integers(1, 500)))
    places = draw(st.integers(2, 8))
    price = D(draw(st.integers(1, 10_000 * 10**places))).scaleb(-places)  # up to 10,000
    fee = D(draw(st.integers(0, 2_000))).scaleb(-2)
    return symbol, side, qty, price, fee


@settings(max_examples=300, deadline=None)
@given(
    st.lists(fill_specs(), min_size=1, max_size=60),
    st.fixed_dictionaries(
        {s: st.integers(1, 10_000 * 10**4).map(lambda n: D(n).scaleb(-4)) for s in MULT}
    ),
)
def test_ledger_reconciles_exactly(
    specs: list[tuple[str, OrderSide, Decimal, Decimal, Decimal]], marks: dict[str, Decimal]
) -> None:
    start = D("1000000")
    pf = Portfolio(start, registry())
    ref = {s: RefPosition() for s in MULT}
    expected_qty = dict.fromkeys(MULT, D(0))
    with localcontext() as ctx:
        # The reference sums are computed with enough digits never to round.
        ctx.prec = 200
        expected_cash = start
        fees = D(0)
        for symbol, side, qty, price, fee in specs:
            sign = 1 if side is BUY else -1
            expected_cash -= sign * qty * price * MULT[symbol]
            expected_cash -= fee
            fees += fee
            expected_qty[symbol] += sign * qty
            ref[symbol].apply(sign * Fraction(qty), Fraction(price), Fraction(MULT[symbol]))
    for symbol, side, qty, price, fee in specs:
        pf.apply_fill(Fill("f", "o", "s", symbol, side, qty, price, fee, 0))

    # Cash and quantities: sums of exact products, so exact equality.
    assert pf.cash == expected_cash
    assert pf.total_commissions == fees
    assert pf.fill_count == len(specs)
    for symbol in MULT:
        assert pf.quantity(symbol) == expected_qty[symbol]

    # Realized PnL and average cost: avg-cost needs one Decimal division per partial close
    # (cost_basis * closing / |qty|), rounded to the context's 28 significant digits; with
    # amounts below 1e9 each rounding is below 1e-18, so 1e-12 is a wide bound.
    tol = Fraction(1, 10**12)
    for symbol in MULT:
        pos = pf.position(symbol)
        r = ref[symbol]
        got_realized = Fraction(pos.realized_pnl) if pos else Fraction(0)
        assert abs(got_realized - r.realized) < tol
        if pos is not None and pos.quantity:
            basis_per_unit = Fraction(pos.cost_basis) / Fraction(pos.quantity)
            assert abs(basis_per_unit - r.avg * MULT[symbol]) < tol
            assert abs(Fraction(pos.avg_price) - r.avg) < tol
    assert abs(Fraction(pf.realized_pnl) - sum(r.realized for r in ref.values())) < tol

    # realized + unrealized - commissions == equity - starting cash, at any price vector.
    unrealized = sum(
        (p.unrealized_pnl(marks[s], D(MULT[s])) for s, p in pf.positions.items()), D(0)
    )
    lhs = pf.realized_pnl + unrealized - pf.total_commissions
    rhs = pf.equity_exact(marks) - start
    assert abs(Fraction(lhs) - Fraction(rhs)) < tol
    with localcontext() as ctx:
        ctx.prec = 200
        exact_equity = expected_cash + sum(
            (expected_qty[s] * marks[s] * MULT[s] for s in MULT), D(0)
        )
    assert pf.equity_exact(marks) == exact_equity


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 1000), st.integers(1, 2000), st.integers(100, 100_000), st.integers(100, 100_000)
)
def test_flip_closed_form(q1: int, q2: int, p1_cents: int, p2_cents: int) -> None:
    """Buy q1 @ p1 then sell q2 @ p2: realized = min(q1,q2)·(p2−p1); the rest opens at p2."""
    p1, p2 = D(p1_cents).scaleb(-2), D(p2_cents).scaleb(-2)
    pf = portfolio()
    pf.apply_fill(fill("EQ", BUY, q1, p1))
    pos = pf.apply_fill(fill("EQ", SELL, q2, p2))
    assert pos.realized_pnl == min(q1, q2) * (p2 - p1)
    assert pos.quantity == q1 - q2
    if q2 > q1:
        assert pos.avg_price == p2
    elif q2 < q1:
        assert pos.avg_price == p1
    else:
        assert pos.avg_price == 0


# -- a million fills ------------------------------------------------------------------------------


def test_a_million_fills_reconcile_to_the_cent() -> None:
    """1,000,000 seeded random fills across three instruments (one fractional, one with a
    multiplier 50), many flips. The expectation is integer arithmetic in micro-dollars:
    quantities in 1e-4 lots for BTC, prices and fees in cents."""
    n = 1_000_000
    rng = np.random.default_rng(20240611)
    sym_idx = rng.integers(0, 3, n)
    sides = rng.integers(0, 2, n) * 2 - 1  # +1 buy, -1 sell
    qty_units = rng.integers(1, 1_000, n)  # EQ/ES: shares; BTC: 1e-4 BTC
    price_cents = rng.integers(1_000, 500_000, n)  # 10.00 .. 4999.99
    fee_cents = rng.integers(0, 500, n)
    symbols = ("EQ", "BTC", "ES")
    qty_exp = (0, -4, 0)  # decimal exponent of one quantity unit
    mult = (1, 1, 50)
    # Value of one fill in micro-dollars: q·10^e · p/100 · m · 10^6.
    micro_per_unit = np.array([10**4, 1, 50 * 10**4], dtype=np.int64)[sym_idx]
    flow_micro = sides * qty_units * price_cents * micro_per_unit
    start_micro = 10**6 * 10**6  # $1,000,000
    expected_cash_micro = start_micro - sum(flow_micro.tolist()) - 10**4 * sum(fee_cents.tolist())
    expected_units = [int(np.sum(sides[sym_idx == k] * qty_units[sym_idx == k])) for k in range(3)]
    final_cents = [12_345, 6_543_210, 432_175]
    expected_equity_micro = expected_cash_micro + sum(
        expected_units[k] * final_cents[k] * micro_per_unit_k
        for k, micro_per_unit_k in enumerate((10**4, 1, 50 * 10**4))
    )

    pf = Portfolio(D(1_000_000), registry())
    cent_d = [D(c).scaleb(-2) for c in range(500_000)]  # one Decimal per price level
    qty_d = [[D(q).scaleb(qty_exp[k]) for q in range(1_000)] for k in range(3)]
    side_of = {1: BUY, -1: SELL}
    apply = pf.apply_fill
    t0 = time.perf_counter()
    for k, s, q, p, f in zip(
        sym_idx.tolist(),
        sides.tolist(),
        qty_units.tolist(),
        price_cents.tolist(),
        fee_cents.tolist(),
        strict=True,
    ):
        apply(Fill("f", "o", "s", symbols[k], side_of[s], qty_d[k][q], cent_d[p], cent_d[f], 0))
    elapsed = time.perf_counter() - t0
    print(f"\n1,000,000 fills applied in {elapsed:.1f} s")

    prices = {symbols[k]: D(final_cents[k]).scaleb(-2) for k in range(3)}
    assert pf.fill_count == n
    assert pf.cash == D(expected_cash_micro).scaleb(-6)
    assert pf.total_commissions == D(sum(fee_cents.tolist())).scaleb(-2)
    for k in range(3):
        assert pf.quantity(symbols[k]) == D(expected_units[k]).scaleb(qty_exp[k])
    equity = pf.equity_exact(prices)
    assert equity == D(expected_equity_micro).scaleb(-6)
    # cash + positions − fees: realized + unrealized − commissions is the equity change.
    unrealized = sum(
        (p.unrealized_pnl(prices[s], D(mult[symbols.index(s)])) for s, p in pf.positions.items()),
        D(0),
    )
    pnl = pf.realized_pnl + unrealized - pf.total_commissions
    assert abs(pnl - (equity - D(1_000_000))) < D("0.01")
    assert pnl.quantize(D("0.01")) == (equity - D(1_000_000)).quantize(D("0.01"))
