"""Cross-venue and triangular arbitrage through the real kernel, risk gate, paper venue and
ledger.

Signal logic on hand-built quotes (entry exactly when the crossed spread beats both venues'
fees plus the threshold, never otherwise), the fee and cycle arithmetic and the limit room
against hand computations, every branch of the leg-risk rule (hedged, unwound after its age
or over its size, partial fills reversed, refusals) with hand-computed ledgers, the inventory
bound as a hypothesis property, and backtests on generated multi-venue quotes whose PnL
reconciles with the fills in Decimal, with a look-ahead check.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings, target
from hypothesis import strategies as st

from neural_trader.brokers.paper import FeeModel, PaperVenue
from neural_trader.core.bus import MessageBus
from neural_trader.core.clock import SimulatedClock
from neural_trader.core.events import Fill
from neural_trader.core.instruments import CryptoPair, InstrumentRegistry
from neural_trader.core.market_data import QuoteTick
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType
from neural_trader.core.portfolio import Portfolio
from neural_trader.data import cross_venue_quotes, triangular_quotes
from neural_trader.data.venue_quotes import QuoteSet
from neural_trader.errors import StrategyError
from neural_trader.risk.gate import PreTradeGate, RiskLimits, TradingState
from neural_trader.strategies.arbitrage import CrossVenueArbitrage, spread_edge
from neural_trader.strategies.arbitrage_base import ArbitrageStrategy
from neural_trader.strategies.arbitrage_legs import Outcome
from neural_trader.strategies.triangular_arbitrage import (
    TriangularArbitrage,
    cycle_values,
    triangle_roles,
)
from neural_trader.trading.backtest import BacktestConfig, BacktestResult, run_backtest
from neural_trader.trading.kernel import Kernel

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
MS = 1_000_000
A, B = "BTC-USD@binance", "BTC-USD@kraken"
BH, AH, AB = "BTC-USD", "ETH-USD", "ETH-BTC"
START = D(100_000)


# -- harness: the real kernel on hand-built quotes -----------------------------------------------


class Recorded(CrossVenueArbitrage):
    """The strategy, keeping every fill it is told of, to reconcile the ledger against."""

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)
        super().on_fill(fill)

    def on_start(self) -> None:
        self.fills: list[Fill] = []
        super().on_start()


class RecordedTriangle(TriangularArbitrage):
    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)
        super().on_fill(fill)

    def on_start(self) -> None:
        self.fills: list[Fill] = []
        super().on_start()


@dataclass
class Env:
    clock: SimulatedClock
    kernel: Kernel
    portfolio: Portfolio
    gate: PreTradeGate
    strategy: ArbitrageStrategy
    t: int = 0
    orders_seen: list[Order] = field(default_factory=list)

    def quote(self, sym: str, bid: float, ask: float, bsz: float = 1.0, asz: float = 1.0) -> None:
        """The next quote, 100 ms after the previous one."""
        self.t += 100 * MS
        self.clock.advance_to(self.t)
        self.kernel.on_quote(QuoteTick(sym, self.t, bid, ask, bsz, asz))

    def wait(self, ms: int) -> None:
        self.t += ms * MS

    def orders(self) -> list[tuple[str, OrderSide, Decimal, OrderType, Decimal | None, str]]:
        return [
            (o.symbol, o.side, o.quantity, o.order_type, o.limit_price, o.time_in_force.value)
            for o in self.kernel.orders.values()
        ]

    def pos(self, sym: str) -> Decimal:
        return self.portfolio.quantity(sym)


def build(
    strategy: ArbitrageStrategy,
    *,
    venue_fee_bps: str = "10",
    limits: RiskLimits | None = None,
    triangle: bool = False,
) -> Env:
    bus = MessageBus()
    clock = SimulatedClock()
    reg = InstrumentRegistry()
    lot = D("0.0001")
    if triangle:
        reg.add(CryptoPair(BH, base_currency="BTC", currency="USD", size_increment=lot))
        reg.add(CryptoPair(AH, base_currency="ETH", currency="USD", size_increment=lot))
        reg.add(
            CryptoPair(
                AB,
                base_currency="ETH",
                currency="BTC",
                size_increment=lot,
                price_increment=D("0.00001"),
            )
        )
    else:
        for sym in (A, B):
            venue = sym.split("@")[1]
            reg.add(
                CryptoPair(
                    sym, base_currency="BTC", currency="USD", size_increment=lot, venue=venue
                )
            )
    portfolio = Portfolio(START, reg)
    gate = PreTradeGate(limits or RiskLimits(D("1e18"), D("1e18")))
    kernel = Kernel(
        bus=bus,
        clock=clock,
        venue=PaperVenue(bus, reg, FeeModel(bps=D(venue_fee_bps))),
        gate=gate,
        portfolio=portfolio,
        strategies=[strategy],
    )
    kernel.start()
    return Env(clock, kernel, portfolio, gate, strategy)


def cross(**params: Any) -> Recorded:
    base: dict[str, Any] = {"fee_a_bps": 10.0, "fee_b_bps": 10.0, "threshold_bps": 5.0}
    base.update({"limit_slack": 0.0, "max_order_size": 0.5, "max_inventory": 1.0})
    base.update(params)
    return Recorded(symbols=[A, B], **base)


def ledger_matches_fills(env: Env, fills: list[Fill]) -> None:
    """The ledger's cash and positions are exactly what the fills say."""
    cash = START
    held: dict[str, Decimal] = {}
    for f in fills:
        signed = f.quantity if f.side is BUY else -f.quantity
        cash -= signed * f.price + f.commission
        held[f.symbol] = held.get(f.symbol, D(0)) + signed
    assert env.portfolio.cash == cash
    for sym, q in held.items():
        assert env.pos(sym) == q


# -- the fee and cycle arithmetic ----------------------------------------------------------------


def test_spread_edge_is_the_crossed_spread_net_of_each_venues_fee() -> None:
    # Buy at 100.00 paying 10 bps, sell at 100.50 paying 20 bps:
    # 100.50·(1 - 0.002) - 100.00·(1 + 0.001) = 100.299 - 100.1 = 0.199 per unit.
    assert spread_edge(D("100.00"), D("100.50"), D(10), D(20)) == D("0.199")
    # 100.15·0.999 - 100.1 = 100.04985 - 100.1: the spread does not pay for the fees.
    assert spread_edge(D("100.00"), D("100.15"), D(10), D(10)) == D("-0.05015")


def test_cycle_values_match_the_hand_computation() -> None:
    bh, ah, ab = (D("29990"), D("30000")), (D("2000"), D("2001")), (D("0.0659"), D("0.0660"))
    forward, reverse = cycle_values(bh, ah, ab, D(10))
    # Forward: 1 USD buys 1/(30000·1.001) BTC, which buys 1/(30000·1.001·0.066·1.001) ETH,
    # sold for 2000·0.999 USD each: 1998 / 1983.96198 = 11100000 / 11022011.
    assert Fraction(forward) == pytest.approx(Fraction(11_100_000, 11_022_011), abs=1e-26)
    assert forward > 1
    # Reverse: 1 USD buys 1/(2001·1.001) ETH, sold for 0.0659·0.999 BTC each, sold for
    # 29990·0.999 USD each: 0.0659·0.999·29990·0.999 / (2001·1.001) < 1.
    expected = Fraction("0.0659") * Fraction("0.999") * 29990 * Fraction("0.999")
    expected /= 2001 * Fraction("1.001")
    assert Fraction(reverse) == pytest.approx(expected, abs=1e-26)
    assert reverse < 1
    # Without fees and spreads the two cycles are reciprocal.
    f0, r0 = cycle_values(
        (D(30000), D(30000)), (D(2000), D(2000)), (D("0.0625"), D("0.0625")), D(0)
    )
    assert f0 == pytest.approx(D(2000) / (D(30000) * D("0.0625"))) and f0 * r0 == pytest.approx(1)


def test_triangle_roles_are_found_in_any_order_and_refused_when_not_a_triangle() -> None:
    for order in ([BH, AH, AB], [AB, BH, AH], [AH, AB, BH]):
        assert triangle_roles(order) == (BH, AH, AB, "USD", "BTC", "ETH")
    assert triangle_roles(["BTC/USDT", "ETH/USDT", "ETH/BTC"])[:3] == (
        "BTC/USDT",
        "ETH/USDT",
        "ETH/BTC",
    )
    assert "not a pair" in str(triangle_roles([BH, AH, "ETHBTC"]))
    assert "not three pairs" in str(triangle_roles([BH, AH, "SOL-USD"]))
    assert "do not close a triangle" in str(triangle_roles([BH, AH, "SOL-BTC"]))


# -- cross-venue: when it enters -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "cheap", "dear_bid", "enters"),
    [
        # fees 10 + 10 bps, threshold 5 bps of 100.00 = 0.05: edge = 0.999·bid - 100.1.
        ({}, A, 100.25, False),  # 100.14975 - 100.1 = 0.04975 <= 0.05
        ({}, A, 100.26, True),  # 100.15974 - 100.1 = 0.05974 > 0.05
        # No fees, threshold 10 bps = 0.10: an edge of exactly the threshold is not enough.
        ({"fee_a_bps": 0.0, "fee_b_bps": 0.0, "threshold_bps": 10.0}, A, 100.10, False),
        ({"fee_a_bps": 0.0, "fee_b_bps": 0.0, "threshold_bps": 10.0}, A, 100.11, True),
        # Each venue's own fee on its own leg: buy on A (10 bps), sell on B (30 bps):
        # 0.997·bid - 100.1 > 0.05  <=>  bid > 100.4513...
        ({"fee_b_bps": 30.0}, A, 100.45, False),  # 100.14865 - 100.1 = 0.04865
        ({"fee_b_bps": 30.0}, A, 100.46, True),  # 100.15862 - 100.1 = 0.05862
        # The other way round: buy on B (30 bps), sell on A (10 bps): 0.999·bid - 100.3.
        ({"fee_b_bps": 30.0}, B, 100.45, False),  # 100.34955 - 100.3 = 0.04955
        ({"fee_b_bps": 30.0}, B, 100.46, True),  # 100.35954 - 100.3 = 0.05954
        ({}, A, 99.99, False),  # not crossed at all
    ],
)
def test_enters_exactly_when_the_crossed_spread_beats_both_fees_plus_the_threshold(
    params: dict[str, Any], cheap: str, dear_bid: float, enters: bool
) -> None:
    env = build(cross(**params))
    dear = B if cheap == A else A
    env.quote(cheap, 99.90, 100.00)
    env.quote(dear, dear_bid, dear_bid + 0.10)
    if not enters:
        assert env.orders() == []
        return
    bid = env.strategy.ctx.round_price(dear, dear_bid)
    assert env.orders() == [
        (cheap, BUY, D("0.5"), OrderType.LIMIT, D("100.00"), "fok"),
        (dear, SELL, D("0.5"), OrderType.LIMIT, bid, "fok"),
    ]


def test_a_stale_quote_of_the_other_venue_is_not_traded_against() -> None:
    env = build(cross(max_quote_age_ms=1_000.0))
    env.quote(A, 99.90, 100.00)
    env.wait(1_000)  # A's quote is now 1,100 ms old when B's arrives
    env.quote(B, 100.30, 100.40)
    assert env.orders() == []
    env.quote(A, 99.90, 100.00)  # fresh again: the same cross is traded
    assert [o[:2] for o in env.orders()] == [(A, BUY), (B, SELL)]


def test_limit_room_gives_up_the_stated_share_of_the_excess_edge() -> None:
    env = build(cross(limit_slack=1.0))
    env.quote(A, 99.90, 100.00)
    env.quote(B, 100.46, 100.56)
    # edge = 100.46·0.999 - 100.1 = 0.25954; excess over the threshold (0.05) = 0.20954;
    # half to each leg: buy limit 100.00 + 0.10477/1.001 = 100.10466 -> 100.10;
    # sell limit 100.46 - 0.10477/0.999 = 100.35513 -> 100.36.
    [(_, _, _, _, buy_limit, _), (_, _, _, _, sell_limit, _)] = env.orders()
    assert (buy_limit, sell_limit) == (D("100.10"), D("100.36"))
    # With both legs at their limits the edge is still the threshold (to the tick).
    assert spread_edge(D("100.10"), D("100.36"), D(10), D(10)) == D("0.05954")


# -- cross-venue: both legs or neither -----------------------------------------------------------


def enter(env: Env) -> None:
    """A crossed quote: buy 0.5 on A at 100.00, sell 0.5 on B at 100.26 (see above)."""
    env.quote(A, 99.90, 100.00)
    env.quote(B, 100.26, 100.36)


def test_both_legs_fill_and_the_ledger_holds_the_hand_computed_profit() -> None:
    strategy = cross()
    env = build(strategy)
    enter(env)
    env.quote(A, 99.90, 100.00)  # the buy fills at the ask
    env.quote(B, 100.26, 100.36)  # the sell at the bid
    [attempt] = strategy.history
    assert attempt.outcome is Outcome.FILLED
    # Sell 50.13 - buy 50.00 - fees 0.05 (10 bps of 50.00) - 0.05 (10 bps of 50.13 = 0.05013).
    assert attempt.profit == D("0.03")
    assert env.portfolio.cash == START + D("0.03")
    assert (env.pos(A), env.pos(B)) == (D("0.5"), D("-0.5"))
    assert strategy.balances == {"BTC": D(0), "USD": D("0.03")}
    ledger_matches_fills(env, strategy.fills)


def test_a_missed_leg_is_hedged_at_its_original_price_when_it_is_shown_again() -> None:
    strategy = cross(max_leg_age_ms=5_000.0)
    env = build(strategy)
    enter(env)
    env.quote(A, 99.90, 100.00)  # buy filled
    env.quote(B, 100.10, 100.20)  # the bid fell below 100.26: the FOK sell is canceled
    assert strategy.attempt is not None and env.pos(A) + env.pos(B) == D("0.5")
    env.quote(B, 100.20, 100.30)  # still below: nothing is sent
    assert len(env.kernel.orders) == 2
    env.quote(B, 100.30, 100.40)  # shown again: IOC sell 0.5 at the original 100.26
    assert env.orders()[-1] == (B, SELL, D("0.5"), OrderType.LIMIT, D("100.26"), "ioc")
    env.quote(B, 100.28, 100.38)  # fills at the touch, 100.28
    [attempt] = strategy.history
    assert attempt.outcome is Outcome.HEDGED
    # 0.5·100.28 = 50.14 - 50.00 - 0.05 - 0.05 (50.14·0.001 = 0.05014).
    assert attempt.profit == D("0.04")
    assert (env.pos(A), env.pos(B)) == (D("0.5"), D("-0.5"))
    ledger_matches_fills(env, strategy.fills)


def test_a_missed_leg_is_unwound_at_market_once_older_than_max_leg_age() -> None:
    strategy = cross(max_leg_age_ms=1_000.0)
    env = build(strategy)
    enter(env)
    env.quote(A, 99.90, 100.00)  # buy filled (first fill: the open leg's age starts)
    env.quote(B, 100.10, 100.20)  # sell canceled
    env.wait(900)
    env.quote(B, 100.10, 100.20)  # 1,100 ms after the fill: market sell 0.5 on A
    assert env.orders()[-1] == (A, SELL, D("0.5"), OrderType.MARKET, None, "gtc")
    env.quote(A, 99.80, 99.90)  # ... fills at the bid
    [attempt] = strategy.history
    assert attempt.outcome is Outcome.UNWOUND
    # Bought 50.00 + 0.05, sold 0.5·99.80 = 49.90 - 0.05 (49.90·0.001 = 0.0499): -0.20.
    assert attempt.profit == D("-0.20")
    assert (env.pos(A), env.pos(B)) == (D(0), D(0))
    assert strategy.balances == {"BTC": D(0), "USD": D("-0.20")}
    ledger_matches_fills(env, strategy.fills)


def test_an_open_leg_worth_more_than_max_open_notional_is_unwound_at_once() -> None:
    strategy = cross(max_leg_age_ms=60_000.0, max_open_notional=40.0)
    env = build(strategy)
    enter(env)
    env.quote(A, 99.90, 100.00)
    env.quote(B, 100.10, 100.20)  # open leg 0.5 BTC at a mean mid of 100.05: 50.025 > 40
    assert env.orders()[-1] == (A, SELL, D("0.5"), OrderType.MARKET, None, "gtc")
    env.quote(A, 99.90, 100.00)
    assert strategy.history[0].outcome is Outcome.UNWOUND
    assert env.pos(A) == env.pos(B) == D(0)


def test_an_ioc_fill_beyond_the_other_legs_is_reversed_to_match_them() -> None:
    strategy = cross(fill_or_kill=False, max_leg_age_ms=0.0)
    env = build(strategy)
    enter(env)
    env.quote(A, 99.90, 100.00, asz=0.2)  # the IOC buy takes the 0.2 shown
    env.quote(B, 100.26, 100.36)  # the sell fills 0.5: 0.3 more than the buy
    env.quote(A, 99.90, 100.00)  # age 0 exceeded: buy back 0.3 on B at market
    assert env.orders()[-1] == (B, BUY, D("0.3"), OrderType.MARKET, None, "gtc")
    env.quote(B, 100.26, 100.36)
    [attempt] = strategy.history
    assert attempt.outcome is Outcome.UNWOUND
    assert (env.pos(A), env.pos(B)) == (D("0.2"), D("-0.2"))  # matched, 0.2 each way
    # Legs: buy 0.2 @100.00 (20.00 + 0.02), sell 0.5 @100.26 (50.13 - 0.05),
    # buy 0.3 @100.36 (30.108 + 0.03): 50.08 - 20.02 - 30.138 = -0.078.
    assert attempt.profit == D("-0.078")
    ledger_matches_fills(env, strategy.fills)


def test_a_leg_the_gate_refuses_cancels_the_other_so_neither_trades() -> None:
    strategy = cross()
    env = build(strategy, limits=RiskLimits(D("1e18"), D("1e18"), allowed_symbols=frozenset({A})))
    enter(env)
    statuses = [o.status for o in env.kernel.orders.values()]
    assert statuses == [OrderStatus.CANCELED, OrderStatus.DENIED]
    env.quote(A, 99.90, 100.00)
    env.quote(B, 100.26, 100.36)
    assert strategy.history[0].outcome is Outcome.NONE
    assert env.pos(A) == env.pos(B) == D(0) and env.portfolio.cash == START


def test_a_refused_hedge_starts_the_unwind_at_once() -> None:
    strategy = cross(max_leg_age_ms=60_000.0)
    env = build(strategy)
    enter(env)
    env.quote(A, 99.90, 100.00)  # buy filled
    env.quote(B, 100.10, 100.20)  # sell canceled
    env.gate.set_state(TradingState.REDUCING)  # only orders that shrink a position pass
    env.quote(B, 100.30, 100.40)  # the hedge (a new short on B) is denied ...
    assert [o.status for o in env.kernel.orders.values()][-1] is OrderStatus.DENIED
    env.quote(A, 99.90, 100.00)  # ... so the long on A is sold at market (it shrinks)
    env.quote(A, 99.90, 100.00)
    [attempt] = strategy.history
    assert attempt.outcome is Outcome.UNWOUND and attempt.hedges_sent == 1
    assert env.pos(A) == env.pos(B) == D(0)
    # Bought 50.00 + 0.05, sold 0.5·99.90 = 49.95 - 0.05 (0.04995): -0.15.
    assert attempt.profit == D("-0.15")


def test_a_refused_unwind_leaves_the_open_leg_and_halts_new_arbitrage() -> None:
    strategy = cross(max_leg_age_ms=0.0)
    env = build(strategy)
    enter(env)
    env.quote(A, 99.90, 100.00)  # buy filled
    env.gate.set_kill_switch(True)
    env.quote(B, 100.10, 100.20)  # sell canceled; the unwind is denied by the kill switch
    assert strategy.history[0].outcome is Outcome.STUCK and strategy.halted
    env.gate.set_kill_switch(False)
    enter(env)  # a fresh cross: not traded while the open leg stands
    assert len(env.kernel.orders) == 3 and env.pos(A) == D("0.5")


def test_inventory_per_venue_stays_within_max_inventory() -> None:
    strategy = cross()  # 0.5 per arbitrage, at most 1.0 per venue
    env = build(strategy)
    for _ in range(3):
        enter(env)
        env.quote(A, 99.90, 100.00)
        env.quote(B, 100.26, 100.36)
    # Two arbitrages filled; the third cross found no room (A at +1.0, B at -1.0).
    assert [a.outcome for a in strategy.history] == [Outcome.FILLED, Outcome.FILLED]
    assert (env.pos(A), env.pos(B)) == (D("1.0"), D("-1.0"))
    # The opposite cross brings inventory back: buy on B, sell on A.
    env.quote(B, 99.90, 100.00)
    env.quote(A, 100.26, 100.36)
    env.quote(B, 99.90, 100.00)
    env.quote(A, 100.26, 100.36)
    assert (env.pos(A), env.pos(B)) == (D("0.5"), D("-0.5"))


quote_path = st.lists(
    st.tuples(
        st.booleans(),  # which venue quotes
        st.integers(-40, 40),  # mid, cents from 100
        st.integers(1, 5),  # half spread, cents
        st.integers(1, 12),  # bid size, tenths
        st.integers(1, 12),  # ask size, tenths
        st.integers(1, 8),  # time since the previous quote, 100 ms
    ),
    min_size=20,
    max_size=120,
)


@settings(max_examples=60, deadline=None)
@given(path=quote_path, fok=st.booleans(), age_steps=st.integers(0, 5))
def test_inventory_and_open_leg_stay_within_their_limits_on_any_quotes(
    path: list[tuple[bool, int, int, int, int, int]], fok: bool, age_steps: int
) -> None:
    strategy = cross(fill_or_kill=fok, max_leg_age_ms=100.0 * age_steps, threshold_bps=0.0)
    env = build(strategy, venue_fee_bps="0")
    limit, size = D("1.0"), D("0.5")
    worst = D(0)
    for first, mid, half, bsz, asz, gap in path:
        env.wait(100 * (gap - 1))
        m = 100 + mid / 100
        env.quote(A if first else B, m - half / 100, m + half / 100, bsz / 10, asz / 10)
        a, b = env.pos(A), env.pos(B)
        assert abs(a) <= limit and abs(b) <= limit
        worst = max(worst, abs(a), abs(b))
        assert abs(a + b) <= size  # the open leg is never more than one arbitrage
        if strategy.attempt is None:
            assert a + b == 0  # between attempts the legs match
    for _ in range(4):  # quiet, deep quotes: any open leg is unwound, and the book matches
        env.wait(1_000)
        env.quote(A, 99.50, 100.50, 10.0, 10.0)
        env.quote(B, 99.50, 100.50, 10.0, 10.0)
    assert strategy.attempt is None and env.pos(A) + env.pos(B) == 0
    ledger_matches_fills(env, strategy.fills)
    target(float(len(strategy.history)), label="attempts")
    target(float(worst / limit), label="inventory / max_inventory")


# -- triangular, on hand-built quotes ----------------------------------------------------------


def triangle(**params: Any) -> RecordedTriangle:
    base: dict[str, Any] = {"fee_bps": 10.0, "threshold_bps": 5.0, "limit_slack": 0.0}
    base.update({"max_notional": 1_000.0})
    base.update(params)
    return RecordedTriangle(symbols=[BH, AH, AB], **base)


def dislocated(env: Env, eth_btc_ask: float = 0.0660) -> None:
    env.quote(BH, 29_990.0, 30_000.0)
    env.quote(AH, 2_000.0, 2_001.0, 100.0, 100.0)
    env.quote(AB, 0.0659, eth_btc_ask, 100.0, 100.0)


def test_triangle_enters_the_forward_cycle_with_hand_computed_legs_and_balances() -> None:
    strategy = triangle()
    env = build(strategy, triangle=True)
    dislocated(env)  # forward value 1.00707... > 1.0005 (see the cycle test)
    # B first: 1000 USD at 30000·1.001 buys 0.0333000... BTC -> 0.0333 (lot 0.0001); the
    # ETH it pays for at 0.066·1.001: 0.0333 / 0.066066 = 0.50404... -> 0.5040.
    assert env.orders() == [
        (BH, BUY, D("0.0333"), OrderType.LIMIT, D("30000.00"), "fok"),
        (AB, BUY, D("0.5040"), OrderType.LIMIT, D("0.06600"), "fok"),
        (AH, SELL, D("0.5040"), OrderType.LIMIT, D("2000.00"), "fok"),
    ]
    dislocated(env)  # every leg fills at its limit
    [attempt] = strategy.history
    assert attempt.outcome is Outcome.FILLED
    # USD: -999.00 - 1.00 (0.999 rounded to the cent) + 1008.00 - 1.01 (1.008) = 6.99.
    # BTC: +0.0333 - 0.5040·0.066 = +0.000036 (the venue's fee in BTC, 0.0000333, rounds to
    # 0.00 at its cent precision); ETH: +0.504 - 0.504 = 0.
    assert strategy.balances == {"BTC": D("0.000036"), "USD": D("6.99"), "ETH": D(0)}
    assert attempt.flows == strategy.balances
    # The ledger is in one currency: the ETH-BTC leg's 0.033264 BTC is booked as if USD.
    assert env.portfolio.cash == START + D("6.99") - D("0.033264")
    ledger_matches_fills(env, strategy.fills)


def test_triangle_with_a_missed_leg_unwinds_the_filled_ones_at_market() -> None:
    strategy = triangle(max_leg_age_ms=1_000.0)
    env = build(strategy, triangle=True)
    dislocated(env)
    dislocated(env, eth_btc_ask=0.0661)  # BTC and the ETH sale fill; the ETH-BTC FOK does not
    assert (env.pos(BH), env.pos(AB), env.pos(AH)) == (D("0.0333"), D(0), D("-0.5040"))
    env.wait(1_000)
    env.quote(BH, 29_990.0, 30_000.0)  # overdue: sell the BTC, buy back the ETH, at market
    assert env.orders()[-2:] == [
        (BH, SELL, D("0.0333"), OrderType.MARKET, None, "gtc"),
        (AH, BUY, D("0.5040"), OrderType.MARKET, None, "gtc"),
    ]
    env.quote(BH, 29_990.0, 30_000.0)
    env.quote(AH, 2_000.0, 2_001.0, 100.0, 100.0)
    [attempt] = strategy.history
    assert attempt.outcome is Outcome.UNWOUND
    assert env.pos(BH) == env.pos(AH) == env.pos(AB) == D(0)
    # USD: -1000.00 + 1006.99 + (998.667 - 1.00) - (1008.504 + 1.01) = -4.857.
    assert strategy.balances == {"BTC": D(0), "USD": D("-4.857"), "ETH": D(0)}
    ledger_matches_fills(env, strategy.fills)


def test_triangle_stays_out_when_no_cycle_beats_three_fees_and_the_threshold() -> None:
    env = build(triangle(), triangle=True)
    # Consistent prices: 2000/30000 = 0.0667 between the cross's bid and ask.
    env.quote(BH, 29_990.0, 30_000.0)
    env.quote(AH, 2_000.0, 2_001.0, 100.0, 100.0)
    env.quote(AB, 0.06665, 0.06670, 100.0, 100.0)
    assert env.orders() == []


# -- backtests on generated quotes -----------------------------------------------------------------


def backtest(strategy: ArbitrageStrategy, qs: QuoteSet, fee_bps: str = "10") -> BacktestResult:
    return run_backtest(
        strategy,
        qs.bars("1s"),
        BacktestConfig(fees=FeeModel(bps=D(fee_bps))),
        instruments=qs.instruments,
        ticks=qs.ticks,
    )


def flows_of(fills: list[Fill], currencies: dict[str, tuple[str, str]]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for f in fills:
        base, quote = currencies[f.symbol]
        signed = f.quantity if f.side is BUY else -f.quantity
        out[base] = out.get(base, D(0)) + signed
        out[quote] = out.get(quote, D(0)) - signed * f.price - f.commission
    return out


def test_cross_venue_backtest_on_generated_quotes_trades_and_reconciles_exactly() -> None:
    qs = cross_venue_quotes(seed=7, steps=12_000)
    strategy = Recorded(max_order_size=0.5, max_inventory=2.0)  # legs inferred: binance, kraken
    res = backtest(strategy, qs)
    outcomes = Counter(a.outcome for a in strategy.history)
    assert outcomes[Outcome.FILLED] >= 20 and outcomes[Outcome.HEDGED] >= 5
    assert outcomes[Outcome.UNWOUND] >= 5  # every branch of the rule runs
    assert res.ticks_processed == sum(len(t) for t in qs.ticks)
    # The ledger is exactly what the fills say, and so are the strategy's balances.
    fills = strategy.fills
    cash = START - sum((f.side.sign * f.quantity * f.price + f.commission for f in fills), D(0))
    assert res.portfolio.cash == cash
    assert strategy.balances == flows_of(fills, strategy.currencies)
    # Every attempt's PnL adds up to the account's, to the last digit.
    attempts = [*strategy.history, *([strategy.attempt] if strategy.attempt else [])]
    assert sum((a.profit for a in attempts), D(0)) == res.portfolio.cash - START
    # The book: each venue within its inventory, the two matching between attempts.
    a, b = res.portfolio.quantity(A), res.portfolio.quantity(B)
    assert abs(a) <= 2 and abs(b) <= 2 and max(abs(a), abs(b)) > 0
    assert a + b == 0 or strategy.attempt is not None
    # A fully matched attempt earns at least the threshold (5 bps of the quoted ask) on its
    # size, less what rounding can take: half a cent on each of two commissions, half a tick
    # on each of the two limits. Limits concede half the excess: fills never do worse.
    for att in attempts:
        if att.outcome in (Outcome.FILLED, Outcome.HEDGED):
            buy = next(leg for leg in att.legs if leg.side is BUY)
            floor = buy.filled * (buy.quoted * D("0.0005") - D("0.01")) - D("0.01")
            assert att.profit >= floor
            assert buy.limit >= buy.quoted
    # Equity: cash plus both venues' positions at their last closes.
    marks = {s.symbol: D(repr(float(s.close[-1]))) for s in qs.bars("1s")}
    assert res.final_equity == pytest.approx(float(res.portfolio.equity_exact(marks)))


def test_each_venue_charges_its_own_fee_in_the_backtest() -> None:
    qs = cross_venue_quotes(seed=7, steps=6_000)
    strategy = Recorded(fee_a_bps=10.0, fee_b_bps=25.0, max_order_size=0.5, max_inventory=2.0)
    res = run_backtest(
        strategy,
        qs.bars("1s"),
        BacktestConfig(venue_fees={"binance": FeeModel(bps=D(10)), "kraken": FeeModel(bps=D(25))}),
        instruments=qs.instruments,
        ticks=qs.ticks,
    )
    fills = strategy.fills
    assert {f.symbol for f in fills} == {A, B}
    for f in fills:
        bps = D(10) if f.symbol.endswith("@binance") else D(25)
        expected = (f.quantity * f.price * bps / 10_000).quantize(D("0.01"), ROUND_HALF_EVEN)
        assert f.commission == expected
    cash = START - sum((f.side.sign * f.quantity * f.price + f.commission for f in fills), D(0))
    assert res.portfolio.cash == cash


def test_triangular_backtest_on_generated_quotes_trades_and_reconciles_exactly() -> None:
    qs = triangular_quotes(seed=3, steps=12_000)
    strategy = RecordedTriangle(fee_bps=10.0, max_notional=1_000.0)
    res = backtest(strategy, qs)
    outcomes = Counter(a.outcome for a in strategy.history)
    assert outcomes[Outcome.FILLED] >= 5 and sum(outcomes.values()) >= 15
    fills = strategy.fills
    assert {f.symbol for f in fills} == {BH, AH, AB}
    balances = flows_of(fills, strategy.currencies)
    assert strategy.balances == balances
    # ETH nets exactly: both of its legs are the same size, and so are their unwinds.
    if strategy.attempt is None:
        assert balances["ETH"] == 0
        assert res.portfolio.quantity(AH) + res.portfolio.quantity(AB) == 0
    # No BTC is ever sold short by a matched cycle (sized at the limits, B first).
    for att in strategy.history:
        if att.outcome in (Outcome.FILLED, Outcome.HEDGED):
            assert att.flows.get("BTC", D(0)) >= 0 and att.flows.get("ETH", D(0)) == 0
    attempts = [*strategy.history, *([strategy.attempt] if strategy.attempt else [])]
    assert sum((a.profit for a in attempts), D(0)) == balances["USD"]
    # The single-currency ledger books the ETH-BTC leg's BTC as if it were USD (documented).
    btc_flow = -sum(
        (f.side.sign * f.quantity * f.price + f.commission for f in fills if f.symbol == AB), D(0)
    )
    assert res.portfolio.cash - START == balances["USD"] + btc_flow


def _decisions(res: BacktestResult, until: int) -> list[tuple[object, ...]]:
    return [
        (o.client_order_id, o.symbol, o.side, o.quantity, o.order_type, o.limit_price)
        for o in res.orders
        if o.ts_created <= until
    ]


def _fills_until(res: BacktestResult, until: int) -> list[tuple[object, ...]]:
    return sorted(
        (o.client_order_id, o.filled_quantity, o.avg_price)
        for o in res.orders
        if o.filled_quantity > 0 and o.ts_last <= until
    )


@pytest.mark.parametrize("kind", ["cross", "triangle"])
def test_truncating_the_ticks_after_t_leaves_every_decision_up_to_t_unchanged(kind: str) -> None:
    if kind == "cross":
        qs = cross_venue_quotes(seed=11, steps=12_000)

        def make() -> ArbitrageStrategy:
            return CrossVenueArbitrage(max_order_size=0.5)
    else:
        qs = triangular_quotes(seed=11, steps=6_000)

        def make() -> ArbitrageStrategy:
            return TriangularArbitrage()

    full = backtest(make(), qs)
    assert len(full.orders) >= 20
    decided = sorted(o.ts_created for o in full.orders)
    # Cuts a little after a decision, while its legs may still be working.
    for frac in (0.25, 0.5, 0.75):
        t = decided[int(len(decided) * frac)] + 150 * MS
        part = backtest(make(), qs.until(t))
        assert _decisions(part, t) == _decisions(full, t)
        assert _decisions(part, t)  # something was decided before the cut
        assert _fills_until(part, t) == _fills_until(full, t)


# -- parameters and symbols ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "params", "name"),
    [
        (CrossVenueArbitrage, {"fee_a_bps": -1.0}, "fee_a_bps"),
        (CrossVenueArbitrage, {"fee_b_bps": 2_000.0}, "fee_b_bps"),
        (CrossVenueArbitrage, {"threshold_bps": -0.5}, "threshold_bps"),
        (CrossVenueArbitrage, {"limit_slack": 1.5}, "limit_slack"),
        (CrossVenueArbitrage, {"max_order_size": 0.0}, "max_order_size"),
        (CrossVenueArbitrage, {"max_order_size": 2.0, "max_inventory": 1.0}, "max_inventory"),
        (CrossVenueArbitrage, {"max_quote_age_ms": 0.0}, "max_quote_age_ms"),
        (CrossVenueArbitrage, {"max_leg_age_ms": -1.0}, "max_leg_age_ms"),
        (CrossVenueArbitrage, {"max_open_notional": -1.0}, "max_open_notional"),
        (CrossVenueArbitrage, {"fee_bps": 10.0}, "fee_bps"),  # the triangle's, not this one's
        (TriangularArbitrage, {"fee_bps": -1.0}, "fee_bps"),
        (TriangularArbitrage, {"max_notional": 0.0}, "max_notional"),
        (TriangularArbitrage, {"fee_a_bps": 10.0}, "fee_a_bps"),
    ],
)
def test_bad_parameters_name_the_parameter(
    cls: type[ArbitrageStrategy], params: dict[str, Any], name: str
) -> None:
    with pytest.raises(StrategyError) as info:
        cls(**params)
    assert info.value.context["parameter"] == name
    assert repr(name) in str(info.value)


@pytest.mark.parametrize(
    ("cls", "symbols", "why"),
    [
        (CrossVenueArbitrage, [A], "needs 2 distinct symbols"),
        (CrossVenueArbitrage, [A, A], "needs 2 distinct symbols"),
        (CrossVenueArbitrage, ["BTC-USD@binance", "ETH-USD@kraken"], "not the same instrument"),
        (TriangularArbitrage, [BH, AH], "needs 3 distinct symbols"),
        (TriangularArbitrage, [BH, AH, "SOL-BTC"], "do not close a triangle"),
    ],
)
def test_bad_symbols_name_the_symbols(
    cls: type[ArbitrageStrategy], symbols: list[str], why: str
) -> None:
    with pytest.raises(StrategyError, match=why) as info:
        cls(symbols=symbols)
    assert info.value.context["parameter"] == "symbols"


def test_inferred_legs_are_alphabetical_and_a_third_symbol_is_refused() -> None:
    # fee_a applies to the alphabetically first symbol: binance (A) at 30 bps here.
    strategy = Recorded(fee_a_bps=30.0, fee_b_bps=10.0, limit_slack=0.0, max_order_size=0.5)
    env = build(strategy)
    env.quote(B, 99.90, 100.00)  # kraken quotes first
    env.quote(A, 100.45, 100.55)  # sell on A (30 bps): 100.45·0.997 - 100.1 = 0.04865 <= 0.05
    assert env.orders() == []
    env.quote(A, 100.46, 100.56)  # 100.15862 - 100.1 = 0.05862 > 0.05
    assert [o[:2] for o in env.orders()] == [(B, BUY), (A, SELL)]
    with pytest.raises(StrategyError, match="pass symbols=") as info:
        env.quote("BTC-USD@coinbase", 99.0, 99.1)
    assert info.value.context["parameter"] == "symbols"


def test_bars_are_refused_with_a_pointer_to_ticks() -> None:
    qs = cross_venue_quotes(steps=50)
    strategy = CrossVenueArbitrage()
    with pytest.raises(StrategyError, match="cannot run on bars"):
        strategy.on_bar(qs.bars()[0].bar(0))
