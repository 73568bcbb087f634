"""Per-strategy performance of a stored account, rebuilt from its persisted fills.

The fills table is the book of record; trades are a view of it. Replaying the fills through the
same :class:`TradeTracker` the kernel uses gives the same round trips a live session saw,
survives restarts without a second copy of the truth to keep consistent, and prices whatever
is still open at the account's data time.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from neural_trader.analytics.performance import StrategyPerformance, by_strategy
from neural_trader.core.bus import MessageBus
from neural_trader.core.events import Fill
from neural_trader.core.instruments import InstrumentRegistry
from neural_trader.core.orders import OrderSide
from neural_trader.data import load_bars
from neural_trader.errors import DataError
from neural_trader.storage import Store
from neural_trader.trading.instruments import default_instrument
from neural_trader.trading.trades import Trade, TradeTracker


def replay_fills(store: Store, account: str) -> TradeTracker:
    """A tracker fed every stored fill of ``account`` in the order they were booked."""
    registry = InstrumentRegistry()
    tracker = TradeTracker(MessageBus(), registry)
    for row in store.list_fills(account):
        if row["symbol"] not in registry.by_symbol:
            registry.add(default_instrument(row["symbol"]))
        tracker.add(
            Fill(
                row["fill_id"],
                row["client_order_id"],
                row["strategy_id"],
                row["symbol"],
                OrderSide(row["side"]),
                Decimal(row["quantity"]),
                Decimal(row["price"]),
                Decimal(row["commission"]),
                int(row["ts"]),
                row["venue"],
                row["liquidity"],
            )
        )
    return tracker


def close_at(symbol: str, ts: int) -> float | None:
    """The bundled close of ``symbol`` at or before ``ts``; None when there is none."""
    try:
        bars = load_bars(symbol)
    except DataError:
        return None
    i = int(np.searchsorted(bars.ts, ts, side="right")) - 1
    return float(bars.close[i]) if i >= 0 else None


def account_performance(
    store: Store, account: str, as_of: int | None
) -> tuple[dict[str, StrategyPerformance], list[Trade]]:
    """Every strategy's performance on ``account``: closed trades from its fills, open ones
    marked at the bundled close at ``as_of`` (the account's data time; None leaves them out)."""
    tracker = replay_fills(store, account)
    prices: dict[str, float] = {}
    if as_of is not None:
        for symbol in tracker.open_symbols():
            price = close_at(symbol, as_of)
            if price is not None:
                prices[symbol] = price
    return by_strategy(tracker.trades, tracker.open_pnl(prices)), tracker.trades
