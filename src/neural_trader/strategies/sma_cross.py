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
                f"sma_cross: parameter 'slow' ({self.slow}) must exceed 'fast' ({self.fast})",
                strategy=self.name,
                parameter="slow",
            )

    def on_start(self) -> None:
        self._state: dict[str, _SymbolState] = {}

    def on_bar(self, bar: Bar) -> None:
        sym = bar.symbol
        st = self._state.get(sym)
        if st is None:
            st = self._state[sym] = _SymbolState(self.fast, self.slow)
        f = st.fast.update(bar.close)
        s = st.slow.update(bar.close)
        if s is None or f is None:
            return
        above = f > s
        was = st.above
        if above is was:
            return
        st.above = above
        if was is None:
            return
        if above:
            if self.flat(sym):
                self.buy(sym, fraction=1.0)
        elif self.position(sym) > 0:
            self.close(sym)


class _SymbolState:
    __slots__ = ("above", "fast", "slow")

    def __init__(self, fast: int, slow: int) -> None:
        self.fast = SMA(fast)
        self.slow = SMA(slow)
        self.above: bool | None = None  # fast above slow on the previous bar; None until known
