"""Trade and quote ticks through the backtest runner and the kernel: replay order across
series (by time, ties in the order given), routing to ``on_trade``/``on_quote``, the marks
they leave, and the refusal of ticks that have no bars to mark the equity curve by."""

from __future__ import annotations

import numpy as np
import pytest

from neural_trader.core.market_data import QUOTE, TRADE, BarSeries, QuoteTick, TickSeries, TradeTick
from neural_trader.errors import DataError
from neural_trader.strategies.base import Strategy
from neural_trader.trading.backtest import run_backtest

SEC = 10**9
T = 1_700_000_000 * SEC


class Recorder(Strategy):
    """Writes down every tick it is handed and the mark the kernel holds at that moment."""

    def __init__(self) -> None:
        super().__init__(strategy_id="R")
        self.seen: list[tuple[str, str, int, float | None]] = []

    def on_trade(self, trade: TradeTick) -> None:
        mark = self.ctx.last_price(trade.symbol)
        self.seen.append(("T", trade.symbol, (trade.ts - T) // SEC, mark))

    def on_quote(self, quote: QuoteTick) -> None:
        mark = self.ctx.last_price(quote.symbol)
        self.seen.append(("Q", quote.symbol, (quote.ts - T) // SEC, mark))


def ticks(symbol: str, rows: list[tuple[int, int, float]]) -> TickSeries:
    """Rows (seconds after T, kind, price): trades of size 1, quotes price ± 0.5."""
    ts = np.array([T + s * SEC for s, _, _ in rows], dtype=np.int64)
    kind = np.array([k for _, k, _ in rows], dtype=np.int8)
    px = np.array([p for _, _, p in rows])
    is_trade = kind == TRADE
    nan = np.full(len(rows), np.nan)
    return TickSeries(
        symbol,
        ts,
        kind,
        np.where(is_trade, px, nan),
        np.where(is_trade, 1.0, nan),
        np.zeros(len(rows), dtype=np.int8),
        np.where(is_trade, nan, px - 0.5),
        np.where(is_trade, nan, px + 0.5),
        np.where(is_trade, nan, 10.0),
        np.where(is_trade, nan, 10.0),
    )


def bars(symbol: str) -> BarSeries:
    one = np.array([100.0])
    return BarSeries(symbol, "1m", np.array([T + 60 * SEC]), one, one, one, one, one)


def test_ticks_replay_in_time_order_with_ties_in_series_order() -> None:
    a = ticks("AAA", [(1, TRADE, 10.0), (1, QUOTE, 11.0), (3, TRADE, 12.0)])
    b = ticks("BBB", [(0, QUOTE, 20.0), (1, TRADE, 21.0), (2, QUOTE, 22.0)])
    strategy = Recorder()
    res = run_backtest(strategy, [bars("AAA"), bars("BBB")], ticks=[a, b])
    assert res.ticks_processed == 6 and res.bars_processed == 0
    # Each handler runs after the kernel marked the symbol: trade price, or quote mid.
    assert strategy.seen == [
        ("Q", "BBB", 0, 20.0),
        ("T", "AAA", 1, 10.0),
        ("Q", "AAA", 1, 11.0),
        ("T", "BBB", 1, 21.0),
        ("Q", "BBB", 2, 22.0),
        ("T", "AAA", 3, 12.0),
    ]


def test_ticks_need_bars_to_mark_the_equity_curve() -> None:
    a = ticks("AAA", [(1, TRADE, 10.0)])
    with pytest.raises(DataError, match="ticks without bars") as info:
        run_backtest(Recorder(), [bars("BBB")], ticks=[a])
    assert info.value.context["symbols"] == ["AAA"]


def test_tick_series_refuses_time_going_backwards() -> None:
    with pytest.raises(DataError, match="tick timestamps go backwards"):
        ticks("AAA", [(2, TRADE, 10.0), (1, TRADE, 10.0)])
