"""For every registered strategy that runs on bars: cutting the data after bar t changes no
decision made at or before t (orders, their sides, sizes and prices are identical)."""

from __future__ import annotations

import pytest

from neural_trader.core.market_data import BarSeries
from neural_trader.data import load_bars
from neural_trader.strategies import REGISTRY, Strategy
from neural_trader.trading.backtest import quotes_only, run_backtest

# Strategies that need a service or ticks have their own truncation tests
# (test_neural_forecast, test_market_making); the rest run here on bundled data.
NEEDS_MORE = {"neural_forecast", "market_making", "sentiment"}
PARAMS: dict[str, dict[str, object]] = {
    "sma_cross": {"fast": 5, "slow": 20},
    "momentum": {},
    "mean_reversion": {"use_rsi": False},
    "pairs": {"formation": 120, "hedge_window": 40, "retest": 20, "entry_z": 1.5},
    "ensemble": {"threshold": 0.5},
}
SYMBOLS = {"pairs": ["KO", "PEP"]}


def test_every_bar_strategy_is_covered() -> None:
    bar_driven = {n for n, c in REGISTRY.items() if not quotes_only(c)}
    assert set(PARAMS) == bar_driven - NEEDS_MORE


def _decisions(strategy: Strategy, series: list[BarSeries], until: int) -> list[tuple]:
    result = run_backtest(strategy, series)
    return sorted(
        (o.ts_created, o.symbol, o.side.value, o.quantity, o.order_type.value, o.limit_price)
        for o in result.orders
        if o.ts_created <= until
    )


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_truncating_after_t_keeps_every_decision_up_to_t(name: str) -> None:
    symbols = SYMBOLS.get(name, ["SPX"])
    full = [load_bars(s, start="2008-01-01", end="2012-12-31") for s in symbols]
    cls = REGISTRY[name]
    whole = _decisions(cls(**PARAMS[name]), full, 2**63 - 1)
    assert len(whole) >= 4, f"{name} made too few decisions to test"
    for cut in (len(full[0]) // 3, len(full[0]) // 2, 2 * len(full[0]) // 3):
        t = int(full[0].ts[cut])
        short = [s.slice_time(None, t) for s in full]
        assert _decisions(cls(**PARAMS[name]), short, t) == [d for d in whole if d[0] <= t]
