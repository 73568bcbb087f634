"""Dynamic allocation on a running kernel: every ``every`` bars of a reference symbol, the
selector's weights from recent closed trades and the detected regime go to the manager.

The allocator sits on the kernel as a watcher that places no orders, added before the
strategies so a new allocation applies to the same bar's decisions. Each decision is recorded
by the manager with the rule and the reason, and logged.
"""

from __future__ import annotations

from collections import deque

import structlog

from neural_trader.core.bus import MessageBus
from neural_trader.core.market_data import Bar
from neural_trader.errors import StrategyError
from neural_trader.strategies.base import Strategy
from neural_trader.strategies.manager import StrategyManager
from neural_trader.strategies.selection import RegimeDetector, RiskAdjustedSelector, Selector
from neural_trader.trading.kernel import Kernel
from neural_trader.trading.trades import TradeClosed

log = structlog.get_logger(__name__)


class DynamicAllocator(Strategy):
    name = "dynamic_allocator"

    def __init__(
        self,
        kernel: Kernel,
        manager: StrategyManager,
        bus: MessageBus,
        reference: str,
        every: int = 21,
        selector: Selector | None = None,
        detector: RegimeDetector | None = None,
        keep: int = 100,
    ) -> None:
        if every < 1:
            raise StrategyError(f"every must be at least 1 bar, got {every}", parameter="every")
        super().__init__("allocator", [reference])
        self.manager = manager
        self.selector = selector or RiskAdjustedSelector()
        self.detector = detector or RegimeDetector()
        self.every = every
        self._bars = 0
        self._pnl: dict[str, deque[float]] = {}
        self._keep = keep
        bus.subscribe(TradeClosed, self._on_trade)
        kernel.add_strategy(self)

    def _on_trade(self, event: TradeClosed) -> None:
        trade = event.trade
        book = self._pnl.get(trade.strategy)
        if book is None:
            book = self._pnl[trade.strategy] = deque(maxlen=self._keep)
        book.append(float(trade.pnl))

    def on_bar(self, bar: Bar) -> None:
        regime = self.detector.update(bar.close)
        self._bars += 1
        if self._bars % self.every:
            return
        live = {
            sid: m.inner.name
            for sid, m in self.manager.managed.items()
            if m.status.value in ("running", "paused")
        }
        weights, reason = self.selector.weights(self._pnl, regime, live)
        if not weights:
            return
        rule = type(self.selector).__name__
        self.manager.allocate(weights, bar.ts, rule, reason)
        log.info("allocation", ts=bar.ts, rule=rule, weights=weights, reason=reason)
