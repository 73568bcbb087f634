"""The reference strategy: long while the fast SMA is above the slow one.

Long-only and all-in: when the fast SMA of closes crosses above the slow SMA (it was at or
below on the previous bar and is above now) and the strategy is flat, it buys as many whole
units as its equity buys at the last close; when the fast crosses back below, it closes.
Orders are market orders and, like every order, fill at the next bar's open at the earliest.
"""

from __future__ import annotations

from neural_trader.core.market_data import Bar
from neural_trader.errors import StrategyError
from neural_trader.strategies.base import Param, Strategy
from neural_trader.strategies.indicators import SMA


class SmaCross(Strategy):
    name = "sma_cross"

    fast: int = Param(10, ge=1, description="fast SMA period (bars)")
    slow: int = Param(30, ge=2, description="slow SMA period (bars)")

    def check_params(self) -> None:
        if self.fast >= self.slow:
            raise StrategyError(
                f"sma_cross: parameter 'slow' ({self.slow}) must be greater than 'fast' ({self.fast})",
                strategy=self.name,
                parameter="slow",
            )

    def on_start(self) -> None:
        self._fast: dict[str, SMA] = {}
        self._slow: dict[str, SMA] = {}
        self._above: dict[str, bool | None] = {}

    def on_bar(self, bar: Bar) -> None:
        sym = bar.symbol
        fast = self._fast.get(sym)
        if fast is None:
            fast = self._fast[sym] = SMA(self.fast)
            self._slow[sym] = SMA(self.slow)
            self._above[sym] = None
        f = fast.update(bar.close)
        s = self._slow[sym].update(bar.close)
        if f is None or s is None:
            return
        above = f > s
        was = self._above[sym]
        self._above[sym] = above
        if was is None or above == was:
            return
        if above:
            if self.flat(sym):
                self.buy(sym, fraction=1.0)
        elif self.position(sym) > 0:
            self.close(sym)
