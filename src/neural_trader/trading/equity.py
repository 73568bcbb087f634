"""The equity curve of a replay, rebuilt after the fact instead of marked on every bar.

Cash and quantities change only on fills, so the recorder keeps one row per fill and the curve
is reconstructed with vectorised look-ups: at each timestamp, the cash and quantities after the
last fill at or before it, times the last close at or before it. Same numbers as marking every
bar, none of the per-bar cost.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neural_trader.core.bus import MessageBus
from neural_trader.core.events import PositionChanged
from neural_trader.core.instruments import InstrumentRegistry
from neural_trader.core.market_data import BarSeries


class EquityRecorder:
    def __init__(self, bus: MessageBus, starting_cash: float) -> None:
        self.starting_cash = starting_cash
        self._ts: list[int] = []
        self._symbol: list[str] = []
        self._qty: list[float] = []
        self._cash: list[float] = []
        bus.subscribe(PositionChanged, self._on_change)

    def _on_change(self, e: PositionChanged) -> None:
        self._ts.append(e.ts)
        self._symbol.append(e.symbol)
        self._qty.append(float(e.quantity))
        self._cash.append(float(e.cash))

    def curve(
        self, series: Sequence[BarSeries], instruments: InstrumentRegistry
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(timestamps, equity, in_market) at every distinct timestamp of ``series``."""
        # One series is already sorted and unique (the loader guarantees it).
        ts = series[0].ts if len(series) == 1 else np.unique(np.concatenate([s.ts for s in series]))
        fill_ts = np.asarray(self._ts, dtype=np.int64)
        last = np.searchsorted(fill_ts, ts, side="right") - 1
        cash = np.asarray(self._cash, dtype=np.float64)
        equity = np.where(
            last >= 0, cash[np.maximum(last, 0)] if cash.size else 0.0, self.starting_cash
        )
        in_market = np.zeros(ts.shape, dtype=np.bool_)
        symbols = np.asarray(self._symbol, dtype=object)
        qty_all = np.asarray(self._qty, dtype=np.float64)
        for s in series:
            mine = symbols == s.symbol
            if not mine.any():
                continue
            q_last = np.searchsorted(fill_ts[mine], ts, side="right") - 1
            qty = np.where(q_last >= 0, qty_all[mine][np.maximum(q_last, 0)], 0.0)
            p_last = np.searchsorted(s.ts, ts, side="right") - 1
            price = np.where(p_last >= 0, s.close[np.maximum(p_last, 0)], 0.0)
            equity = equity + qty * price * float(instruments.get(s.symbol).multiplier)
            in_market |= qty != 0
        return ts, np.asarray(equity, dtype=np.float64), in_market
