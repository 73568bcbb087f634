"""The circuit breaker on hand-built equity paths, its state machine, and a real backtest."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from neural_trader.data import load_bars
from neural_trader.risk.breaker import (
    DAY_NS,
    BreakerConfig,
    BreakerState,
    BreakerStateChanged,
    BreakerTripped,
    CircuitBreaker,
)
from neural_trader.risk.gate import PreTradeGate, RiskLimits, TradingState
from neural_trader.strategies import SmaCross
from neural_trader.trading.backtest import BacktestConfig, run_backtest

H = 3_600_000_000_000


def breaker(**kw: object) -> tuple[CircuitBreaker, PreTradeGate]:
    gate = PreTradeGate(RiskLimits())
    return CircuitBreaker(BreakerConfig(**kw), gate), gate  # type: ignore[arg-type]


def test_loss_within_the_window_trips_and_outside_it_does_not() -> None:
    b, gate = breaker(max_loss=0.05, window_ns=10 * H, cooldown_ns=100 * H)
    assert b.on_equity(0, 100.0) is None
    assert b.on_equity(1 * H, 104.0) is None
    # 104 -> 99.5 is a 4.3% loss: no trip; 98.8 is 5.0% below 104: trip.
    assert b.on_equity(2 * H, 99.5) is None
    trip = b.on_equity(3 * H, 98.8)
    assert isinstance(trip, BreakerTripped) and trip.reason == "loss_in_window"
    assert trip.figures["loss"] == pytest.approx(1 - 98.8 / 104)
    assert b.state is BreakerState.OPEN and gate.state is TradingState.REDUCING
    b2, _ = breaker(max_loss=0.05, window_ns=10 * H)
    b2.on_equity(0, 104.0)
    assert b2.on_equity(11 * H, 98.8) is None  # the 104 high has left the window


def test_drawdown_from_peak_trips() -> None:
    b, _ = breaker(max_drawdown=0.2, window_ns=H)
    for t, e in enumerate([100, 130, 120, 110, 105]):
        assert b.on_equity(t * DAY_NS, e) is None
    trip = b.on_equity(5 * DAY_NS, 103.0)  # 1 - 103/130 > 0.2
    assert isinstance(trip, BreakerTripped) and trip.reason == "drawdown"


def test_consecutive_losing_trades_trip() -> None:
    b, _ = breaker(max_consecutive_losses=3)
    assert b.on_trade_closed(1, -5) is None
    assert b.on_trade_closed(2, -1) is None
    assert b.on_trade_closed(3, 4) is None  # a win resets the count
    assert b.on_trade_closed(4, -1) is None and b.on_trade_closed(5, -2) is None
    trip = b.on_trade_closed(6, -3)
    assert isinstance(trip, BreakerTripped) and trip.reason == "consecutive_losses"


def test_volatility_spike_trips_on_the_ratio_of_sample_deviations() -> None:
    b, _ = breaker(vol_multiple=3.0, vol_short=5, vol_long=40)
    rng = np.random.default_rng(1)
    equity = 100.0
    returns = [*rng.normal(0, 0.001, 35), 0.02, -0.02, 0.02, -0.02, 0.02]
    trip = b.on_equity(0, equity)
    for i, r in enumerate(returns):
        equity *= 1 + r
        trip = b.on_equity((i + 1) * H, equity) or trip
    all_r = returns[-40:]
    short = np.std(returns[-5:], ddof=1)
    assert isinstance(trip, BreakerTripped) and trip.reason == "volatility_spike"
    assert short / np.std(all_r, ddof=1) > 3
    assert trip.figures["ratio"] == pytest.approx(short / np.std(all_r, ddof=1), rel=1e-9)


def test_cooldown_half_open_closed_and_daily_trip_cap() -> None:
    b, gate = breaker(
        max_loss=0.01,
        window_ns=H,
        cooldown_ns=2 * H,
        max_trips_per_day=2,
        open_state=TradingState.HALTED,
    )
    b.on_equity(0, 100.0)
    assert isinstance(b.on_equity(1, 98.0), BreakerTripped)
    assert gate.state is TradingState.HALTED
    change = b.on_equity(2 * H + 1, 98.0)
    assert isinstance(change, BreakerStateChanged) and change.state is BreakerState.HALF_OPEN
    assert gate.state is TradingState.ACTIVE
    trip2 = b.on_equity(2 * H + 2, 96.0)  # a loss while half-open re-opens at once
    assert isinstance(trip2, BreakerTripped) and trip2.trips_today == 2
    # Out of trips today: stays open past the cooldown until the next UTC day.
    assert b.on_equity(5 * H, 96.0) is None and b.state is BreakerState.OPEN
    change = b.on_equity(DAY_NS + 1, 96.0)
    assert isinstance(change, BreakerStateChanged) and change.state is BreakerState.HALF_OPEN
    change = b.on_equity(DAY_NS + 3 * H, 96.5)
    assert isinstance(change, BreakerStateChanged) and change.state is BreakerState.CLOSED


def test_breaker_in_a_backtest_trips_in_2008_and_blocks_new_entries() -> None:
    bars = load_bars("SPX", start="2007-01-01", end="2009-12-31")
    cfg = BacktestConfig(
        starting_cash=Decimal(100_000),
        breaker=BreakerConfig(
            max_drawdown=0.08, cooldown_ns=60 * DAY_NS, open_state=TradingState.REDUCING
        ),
    )
    result = run_backtest(SmaCross(fast=5, slow=20), [bars], cfg)
    assert result.breaker_trips, "an 8% drawdown must happen in 2007-2009"
    first = result.breaker_trips[0]
    assert first.reason == "drawdown" and first.figures["drawdown"] >= 0.08
    denied = [d for d in result.denials if d.rule == "reducing"]
    assert denied and all(d.order.side.value == "buy" for d in denied)
    assert all(first.ts <= d.order.ts_created for d in denied)
