"""Dynamic selection: the regime labels against pandas rolling windows on SPX, the scores
against scipy's t-test, the weights by hand, and the allocator driving a real kernel."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from neural_trader.brokers.paper import PaperVenue
from neural_trader.core.bus import MessageBus
from neural_trader.core.clock import SimulatedClock
from neural_trader.core.instruments import InstrumentRegistry
from neural_trader.core.portfolio import Portfolio
from neural_trader.data import load_bars
from neural_trader.errors import StrategyError
from neural_trader.risk.gate import PreTradeGate, RiskLimits
from neural_trader.strategies import MeanReversion, SmaCross
from neural_trader.strategies.manager import StrategyManager
from neural_trader.strategies.selection import (
    Regime,
    RegimeDetector,
    RiskAdjustedSelector,
    t_statistic,
)
from neural_trader.trading.allocation import DynamicAllocator
from neural_trader.trading.instruments import default_instrument
from neural_trader.trading.kernel import Kernel
from neural_trader.trading.trades import TradeTracker


def test_regime_labels_match_pandas_rolling_windows() -> None:
    close = load_bars("SPX", start="2004-01-01", end="2012-12-31").close
    detector = RegimeDetector(vol_window=20, lookback=252, vol_ratio=1.25, trend_window=100)
    got = [detector.update(float(c)) for c in close]
    s = pd.Series(close)
    vol = np.log(s).diff().rolling(20).std(ddof=1) * math.sqrt(252)
    typical = vol.rolling(252).median()
    gap = s / s.rolling(100).mean() - 1
    for i, regime in enumerate(got):
        if np.isnan(typical.iloc[i]):
            assert regime.volatility == "unknown"
        else:
            expected = "high" if vol.iloc[i] > 1.25 * typical.iloc[i] else "normal"
            assert regime.volatility == expected, i
        if np.isnan(gap.iloc[i]):
            assert regime.trend == "unknown"
        else:
            g = gap.iloc[i]
            assert regime.trend == ("up" if g > 0.02 else "down" if g < -0.02 else "range"), i
    labels = {r.volatility for r in got} | {r.trend for r in got}
    assert {"high", "normal", "up", "down", "range"} <= labels  # 2008 is in there


def test_t_statistic_is_scipys_one_sample_t() -> None:
    pnl = [120.0, -40.0, 75.5, 10.0, -5.0, 60.0]
    assert t_statistic(pnl) == pytest.approx(stats.ttest_1samp(pnl, 0.0).statistic)
    assert t_statistic([5.0]) == 0.0 and t_statistic([3.0, 3.0]) == 0.0


def test_weights_follow_scores_and_regime_preferences() -> None:
    a = [100.0, 50.0, -20.0, 80.0, 30.0]
    b = [10.0, -30.0, 40.0, 25.0, 5.0]
    selector = RiskAdjustedSelector(min_trades=5, budget=0.9)
    regime = Regime("normal", "range")
    weights, reason = selector.weights(
        {"a": a, "b": b}, regime, {"a": "sma_cross", "b": "mean_reversion"}
    )
    score_a = stats.ttest_1samp(a, 0).statistic * 0.5  # trend followers halved in a range
    score_b = stats.ttest_1samp(b, 0).statistic * 1.5  # mean reversion favoured
    total = score_a + score_b
    assert weights["a"] == pytest.approx(0.9 * score_a / total)
    assert weights["b"] == pytest.approx(0.9 * score_b / total)
    assert "normal volatility, trend range" in reason
    # too few trades: the newcomer gets the mean judged score; none positive: equal shares
    w, _ = selector.weights({"a": a}, regime, {"a": "sma_cross", "n": "momentum"})
    assert w["a"] == pytest.approx(w["n"]) == pytest.approx(0.45)
    w, why = selector.weights({"a": [-1.0, -2.0, -3.0, -1.0, -2.0]}, regime, {"a": "x", "b": "y"})
    assert w == {"a": 0.45, "b": 0.45} and "no positive score" in why
    with pytest.raises(StrategyError, match="budget must be in"):
        RiskAdjustedSelector(budget=0)


def test_the_allocator_rebalances_a_live_kernel() -> None:
    series = load_bars("SPX", start="2000-01-01", end="2010-12-31")
    instruments = InstrumentRegistry()
    instruments.add(default_instrument("SPX"))
    bus, clock = MessageBus(), SimulatedClock()
    portfolio = Portfolio(Decimal(100_000), instruments)
    gate = PreTradeGate(RiskLimits(Decimal("1e18"), Decimal("1e18"), False))
    kernel = Kernel(
        bus=bus, clock=clock, venue=PaperVenue(bus, instruments), gate=gate, portfolio=portfolio
    )
    TradeTracker(bus, instruments)
    manager = StrategyManager(kernel)
    allocator = DynamicAllocator(
        kernel, manager, bus, "SPX", every=63, selector=RiskAdjustedSelector(min_trades=3)
    )
    manager.add(SmaCross("trend", fast=10, slow=40), 0.5)
    manager.add(MeanReversion("revert", use_rsi=False), 0.5)
    manager.start("trend")
    manager.start("revert")
    kernel.start()
    for i in range(len(series)):
        bar = series.bar(i)
        clock.advance_to(bar.ts)
        kernel.on_bar(bar)
    decisions = manager.decisions
    assert len(decisions) == len(series) // 63
    assert [d.ts for d in decisions] == [
        int(series.ts[k * 63 - 1]) for k in range(1, len(decisions) + 1)
    ]
    assert all(sum(d.weights.values()) == pytest.approx(1.0) for d in decisions)
    assert any(d.weights["trend"] != pytest.approx(0.5) for d in decisions)  # it did move
    last = decisions[-1].weights
    assert manager.get("trend").context.allocation == last["trend"]  # type: ignore[union-attr]
    assert allocator.detector.regime.trend in {"up", "down", "range"}
