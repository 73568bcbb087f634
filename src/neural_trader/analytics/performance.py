"""Performance per strategy from its round-trip trades (and, live, its open ones): what a
strategy manager allocates capital by and what an operator looks at first.

Trades come in as any objects with ``strategy``, ``pnl``, ``commission`` and ``exit_time``
attributes (the trading package's :class:`~neural_trader.trading.trades.Trade`), so this module
does not depend on how they were produced: a backtest, or fills replayed from the database.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, Protocol

import numpy as np

from neural_trader.analytics.metrics import win_rate
from neural_trader.analytics.ratios import (
    average_loss,
    average_win,
    expectancy,
    payoff_ratio,
    profit_factor,
)


class TradeLike(Protocol):
    @property
    def strategy(self) -> str: ...
    @property
    def pnl(self) -> Decimal: ...
    @property
    def commission(self) -> Decimal: ...
    @property
    def exit_time(self) -> int: ...


@dataclass(frozen=True)
class StrategyPerformance:
    strategy: str
    trades: int
    wins: int
    losses: int
    win_rate: float
    realized_pnl: float
    unrealized_pnl: float
    commissions: float
    profit_factor: float
    expectancy: float
    average_win: float
    average_loss: float
    payoff_ratio: float
    max_consecutive_losses: int
    last_exit_time: int | None

    @property
    def total_pnl(self) -> float:
        return self.realized_pnl + self.unrealized_pnl

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["total_pnl"] = self.total_pnl
        # JSON has no NaN: an undefined ratio (no losing trade yet, say) is null.
        return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in out.items()}


def _longest_losing_run(pnls: np.ndarray) -> int:
    best = run = 0
    for p in pnls:
        run = run + 1 if p < 0 else 0
        best = max(best, run)
    return best


def by_strategy(
    trades: Iterable[TradeLike], unrealized: dict[str, float] | None = None
) -> dict[str, StrategyPerformance]:
    """Each strategy's statistics over its closed trades in exit order; ``unrealized`` adds the
    open PnL per strategy (a strategy with only open positions still appears)."""
    grouped: dict[str, list[TradeLike]] = {}
    for t in trades:
        grouped.setdefault(t.strategy, []).append(t)
    open_pnl = unrealized or {}
    out = {}
    for name in sorted(set(grouped) | set(open_pnl)):
        own = sorted(grouped.get(name, []), key=lambda t: t.exit_time)
        pnls = np.array([float(t.pnl) for t in own], dtype=np.float64)
        out[name] = StrategyPerformance(
            strategy=name,
            trades=len(own),
            wins=int((pnls > 0).sum()),
            losses=int((pnls < 0).sum()),
            win_rate=win_rate(pnls),
            realized_pnl=float(sum((t.pnl for t in own), Decimal(0))),
            unrealized_pnl=float(open_pnl.get(name, 0.0)),
            commissions=float(sum((t.commission for t in own), Decimal(0))),
            profit_factor=profit_factor(pnls),
            expectancy=expectancy(pnls),
            average_win=average_win(pnls),
            average_loss=average_loss(pnls),
            payoff_ratio=payoff_ratio(pnls),
            max_consecutive_losses=_longest_losing_run(pnls),
            last_exit_time=own[-1].exit_time if own else None,
        )
    return out
