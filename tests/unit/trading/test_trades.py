"""Round trips built from fills, against hand-computed trades and, for random sequences that end
flat, against the trading cash flow (a flat book's realized PnL is minus the net cash paid)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from neural_trader.core.bus import MessageBus
from neural_trader.core.events import Fill, OrderFilled
from neural_trader.core.instruments import AssetClass, Equity, Instrument, InstrumentRegistry
from neural_trader.core.orders import Order, OrderSide
from neural_trader.trading.trades import Trade, TradeTracker

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def tracker() -> TradeTracker:
    reg = InstrumentRegistry()
    reg.add(Equity("AAA"))
    reg.add(Equity("BBB"))
    reg.add(Instrument("ES", AssetClass.INDEX, multiplier=D(50)))
    return TradeTracker(MessageBus(), reg)


def f(
    side: OrderSide, qty: object, price: object, fee: object = "0", ts: int = 0, symbol: str = "AAA"
) -> Fill:
    return Fill(f"f{ts}", "o", "s", symbol, side, D(str(qty)), D(str(price)), D(str(fee)), ts)


def feed(t: TradeTracker, *fills: Fill) -> list[Trade]:
    for fill in fills:
        t.add(fill)
    return t.trades


def test_long_round_trip_net_of_commissions() -> None:
    [trade] = feed(tracker(), f(BUY, 10, 100, "1.00", 1), f(SELL, 10, 110, "1.00", 2))
    assert trade == Trade("s", "AAA", 1, 1, D(100), 2, D(110), D(10), D(98), D(2))  # 100 − 2


def test_short_round_trip() -> None:
    [trade] = feed(tracker(), f(SELL, 5, 50, "0.50", 1), f(BUY, 5, 45, "0.50", 2))
    assert trade.direction == -1
    assert (trade.entry_price, trade.exit_price) == (D(50), D(45))
    assert trade.pnl == D(24)  # 5 · 5 − 1
    assert trade.as_dict()["direction"] == "short"


def test_losing_short() -> None:
    [trade] = feed(tracker(), f(SELL, 4, "20.00", ts=1), f(BUY, 4, "21.25", ts=2))
    assert trade.pnl == D("-5.00")  # 4 · (20 − 21.25)


def test_partial_exits_close_one_trade_at_the_weighted_exit() -> None:
    t = tracker()
    assert feed(t, f(BUY, 10, 100, ts=1), f(SELL, 4, 110, ts=2)) == []  # still open
    [trade] = feed(t, f(SELL, 6, 120, ts=3))
    assert trade.exit_price == D(116)  # (440 + 720) / 10
    assert trade.pnl == D(160)  # 4·10 + 6·20
    assert (trade.entry_time, trade.exit_time, trade.quantity) == (1, 3, D(10))


def test_scaling_in_averages_the_entry() -> None:
    [trade] = feed(
        tracker(), f(BUY, 10, 100, "1", 1), f(BUY, 10, 110, "1", 2), f(SELL, 20, 120, "2", 3)
    )
    assert trade.entry_price == D(105)
    assert trade.entry_time == 1
    assert trade.quantity == 20
    assert trade.commission == D(4)
    assert trade.pnl == D(296)  # 20 · (120 − 105) − 4


def test_scaling_in_after_a_partial_exit() -> None:
    # Buy 10@100, sell 5@110 (+50), buy 5@120 (avg 110 on 10), sell 10@130 (+200): 250.
    [trade] = feed(
        tracker(),
        f(BUY, 10, 100, ts=1),
        f(SELL, 5, 110, ts=2),
        f(BUY, 5, 120, ts=3),
        f(SELL, 10, 130, ts=4),
    )
    assert trade.pnl == D(250)
    assert trade.quantity == 15
    assert trade.exit_price == D(1850) / 15  # (550 + 1300) / 15


def test_flip_closes_one_trade_and_opens_the_next_with_a_share_of_the_fee() -> None:
    t = tracker()
    [first] = feed(t, f(BUY, 10, 100, "1.00", 1), f(SELL, 15, 110, "1.50", 2))
    # The 15-lot's 1.50 fee splits 10/5: 1.00 closes the long, 0.50 opens the short.
    assert first == Trade("s", "AAA", 1, 1, D(100), 2, D(110), D(10), D(98), D(2))
    [_, second] = feed(t, f(BUY, 5, 100, "0.50", 3))
    assert second.direction == -1
    assert (second.entry_time, second.exit_time) == (2, 3)
    assert (second.entry_price, second.exit_price, second.quantity) == (D(110), D(100), D(5))
    assert second.commission == D(1)
    assert second.pnl == D(49)  # 5 · 10 − 1


def test_multiplier_scales_pnl() -> None:
    [trade] = feed(tracker(), f(BUY, 2, 4000, "4", 1, "ES"), f(SELL, 2, "4010.25", "4", 2, "ES"))
    assert trade.pnl == D("1017.00")  # 10.25 · 2 · 50 − 8
    assert trade.entry_price == D(4000)  # prices stay prices


def test_symbols_are_tracked_separately() -> None:
    t = tracker()
    feed(t, f(BUY, 1, 10, ts=1), f(SELL, 2, 20, ts=2, symbol="BBB"), f(SELL, 1, 12, ts=3))
    assert [(tr.symbol, tr.pnl) for tr in t.trades] == [("AAA", D(2))]
    feed(t, f(BUY, 2, 19, ts=4, symbol="BBB"))
    assert [(tr.symbol, tr.direction, tr.pnl) for tr in t.trades] == [
        ("AAA", 1, D(2)),
        ("BBB", -1, D(2)),
    ]


def test_tracker_listens_to_fills_on_the_bus() -> None:
    bus = MessageBus()
    reg = InstrumentRegistry()
    reg.add(Equity("AAA"))
    t = TradeTracker(bus, reg)
    order = Order("o", "s", "AAA", BUY, D(1))
    bus.publish(OrderFilled(order, f(BUY, 1, 10, ts=1)))
    bus.publish(OrderFilled(order, f(SELL, 1, 13, ts=2)))
    assert [tr.pnl for tr in t.trades] == [D(3)]


def test_as_dict() -> None:
    [trade] = feed(tracker(), f(BUY, 3, "10.5", "0.25", 1), f(SELL, 3, 11, "0.25", 2))
    assert trade.as_dict() == {
        "strategy": "s",
        "symbol": "AAA",
        "direction": "long",
        "entry_time": 1,
        "entry_price": 10.5,
        "exit_time": 2,
        "exit_price": 11.0,
        "quantity": 3.0,
        "pnl": 1.0,
        "commission": 0.5,
    }


def test_unsplit_fill_commission_is_booked_exactly() -> None:
    [trade] = feed(tracker(), f(BUY, 3, 10, "1.00", 1), f(SELL, 3, 11, "0", 2))
    assert trade.commission == D("1.00")
    assert trade.pnl == D("2.00")


@st.composite
def flat_sequences(draw: st.DrawFn) -> list[tuple[OrderSide, int, Decimal, Decimal]]:
    legs = draw(
        st.lists(
            st.tuples(
                st.sampled_from([BUY, SELL]),
                st.integers(1, 100),
                st.integers(100, 100_000),
                st.integers(0, 500),
            ),
            min_size=1,
            max_size=30,
        )
    )
    out = [(s, q, D(p).scaleb(-2), D(c).scaleb(-2)) for s, q, p, c in legs]
    net = sum(q * s.sign for s, q, _, _ in out)
    if net:
        out.append((SELL if net > 0 else BUY, abs(net), D("123.45"), D("1.00")))
    return out


@settings(max_examples=200, deadline=None)
@given(flat_sequences())
def test_a_flat_book_s_trades_sum_to_the_cash_flow(
    legs: list[tuple[OrderSide, int, Decimal, Decimal]],
) -> None:
    t = tracker()
    for i, (side, q, p, c) in enumerate(legs):
        t.add(f(side, q, p, c, i))
    flow = -sum(q * s.sign * p for s, q, p, _ in legs)
    fees = sum(c for *_, c in legs)
    # Commission shares are Decimal divisions rounded at 28 digits: compare to 1e-18.
    assert abs(Fraction(sum(tr.pnl for tr in t.trades)) - Fraction(flow - fees)) < Fraction(
        1, 10**18
    )
    assert abs(Fraction(sum(tr.commission for tr in t.trades)) - Fraction(fees)) < Fraction(
        1, 10**18
    )
    # Every trade has a side, a positive size and ends after it starts.
    for tr in t.trades:
        assert tr.quantity > 0
        assert tr.direction in (1, -1)
        assert tr.entry_time <= tr.exit_time


def test_two_strategies_on_one_symbol_keep_their_own_round_trips() -> None:
    t = tracker()
    a_buy = Fill("f1", "o1", "alpha", "AAA", BUY, D(10), D(100), D(0), 1)
    b_sell = Fill("f2", "o2", "beta", "AAA", SELL, D(5), D(101), D(0), 2)
    a_sell = Fill("f3", "o3", "alpha", "AAA", SELL, D(10), D(104), D(0), 3)
    b_buy = Fill("f4", "o4", "beta", "AAA", BUY, D(5), D(99), D(0), 4)
    trades = feed(t, a_buy, b_sell, a_sell, b_buy)
    assert [(x.strategy, x.direction, x.pnl) for x in trades] == [
        ("alpha", 1, D(40)),  # 10 × (104 − 100)
        ("beta", -1, D(10)),  # 5 × (101 − 99), short
    ]
