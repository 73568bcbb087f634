"""The circuit breaker: stops trading when losses come too fast, and lets it resume carefully.

States: CLOSED (trading) → OPEN (tripped: the gate goes halted or reduce-only) → HALF_OPEN after
the cooldown (trading again; any further trip re-opens at once) → CLOSED once a full cooldown
passes without a trip. It trips on any of:

* a loss of ``max_loss`` (fraction of equity) from the highest equity seen within ``window``;
* a drawdown of ``max_drawdown`` from the equity peak since trading last (re)started;
* ``max_consecutive_losses`` losing round-trip trades in a row;
* a volatility spike: the standard deviation of the last ``vol_short`` equity returns above
  ``vol_multiple`` times that of the last ``vol_long`` returns.

At most ``max_trips_per_day`` trips per UTC day; after the last one it stays OPEN until the
next day. Times are the kernel's event times, so backtests and live trading trip alike.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from neural_trader.risk.gate import PreTradeGate, TradingState

DAY_NS = 86_400_000_000_000


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerConfig:
    max_loss: float | None = None
    window_ns: int = DAY_NS
    max_drawdown: float | None = None
    max_consecutive_losses: int | None = None
    vol_multiple: float | None = None
    vol_short: int = 20
    vol_long: int = 250
    cooldown_ns: int = DAY_NS
    max_trips_per_day: int = 3
    open_state: TradingState = TradingState.REDUCING


@dataclass(frozen=True)
class BreakerTripped:
    ts: int
    reason: str
    figures: dict[str, float]
    trips_today: int


@dataclass(frozen=True)
class BreakerStateChanged:
    ts: int
    state: BreakerState


class CircuitBreaker:
    def __init__(self, config: BreakerConfig, gate: PreTradeGate) -> None:
        self.config = config
        self.gate = gate
        self.state = BreakerState.CLOSED
        self.trips: list[BreakerTripped] = []
        self._opened_at = 0
        self._peak = -math.inf
        self._window: deque[tuple[int, float]] = deque()  # (ts, equity), max kept at the front
        self._returns: deque[float] = deque(maxlen=max(config.vol_long, config.vol_short))
        self._last_equity: float | None = None
        self._losses_in_row = 0

    # -- inputs -------------------------------------------------------------------------------
    def on_equity(self, ts: int, equity: float) -> BreakerTripped | BreakerStateChanged | None:
        """Feed the marked equity at ``ts``; returns a trip or a state change if one happened."""
        cfg = self.config
        changed = self._cool_down(ts)
        if self._last_equity is not None and self._last_equity > 0:
            self._returns.append(equity / self._last_equity - 1)
        self._last_equity = equity
        self._peak = max(self._peak, equity)
        window = self._window
        while window and window[-1][1] <= equity:
            window.pop()  # monotone deque: the window's maximum is always at the front
        window.append((ts, equity))
        while window[0][0] < ts - cfg.window_ns:
            window.popleft()
        if cfg.max_loss is not None:
            high = window[0][1]
            loss = 1 - equity / high if high > 0 else 0.0
            if loss >= cfg.max_loss:
                return self._trip(ts, "loss_in_window", {"loss": loss, "limit": cfg.max_loss})
        if cfg.max_drawdown is not None and self._peak > 0:
            dd = 1 - equity / self._peak
            if dd >= cfg.max_drawdown:
                return self._trip(ts, "drawdown", {"drawdown": dd, "limit": cfg.max_drawdown})
        if cfg.vol_multiple is not None and len(self._returns) >= cfg.vol_long:
            recent = list(self._returns)[-cfg.vol_short :]
            long_run = list(self._returns)[-cfg.vol_long :]
            short_sd, long_sd = _std(recent), _std(long_run)
            if long_sd > 0 and short_sd > cfg.vol_multiple * long_sd:
                ratio = short_sd / long_sd
                return self._trip(
                    ts, "volatility_spike", {"ratio": ratio, "limit": cfg.vol_multiple}
                )
        return changed

    def on_trade_closed(self, ts: int, pnl: float) -> BreakerTripped | None:
        limit = self.config.max_consecutive_losses
        self._losses_in_row = self._losses_in_row + 1 if pnl < 0 else 0
        if limit is not None and self._losses_in_row >= limit:
            self._losses_in_row = 0
            return self._trip(
                ts, "consecutive_losses", {"losses": float(limit), "limit": float(limit)}
            )
        return None

    # -- state machine ------------------------------------------------------------------------
    def _trip(self, ts: int, reason: str, figures: dict[str, float]) -> BreakerTripped | None:
        if self.state is BreakerState.OPEN:
            return None  # already tripped; the cooldown restarts only on a new trip
        day = ts // DAY_NS
        today = sum(1 for t in self.trips if t.ts // DAY_NS == day) + 1
        trip = BreakerTripped(ts, reason, figures, today)
        self.trips.append(trip)
        self.state = BreakerState.OPEN
        self._opened_at = ts
        self.gate.set_state(self.config.open_state)
        return trip

    def _cool_down(self, ts: int) -> BreakerStateChanged | None:
        cfg = self.config
        if self.state is BreakerState.CLOSED or ts - self._opened_at < cfg.cooldown_ns:
            return None
        if self.state is BreakerState.OPEN:
            day = self._opened_at // DAY_NS
            used = sum(1 for t in self.trips if t.ts // DAY_NS == day)
            if used >= cfg.max_trips_per_day and ts // DAY_NS == day:
                return None  # out of trips today: stay open until tomorrow
            self.state = BreakerState.HALF_OPEN
            self._opened_at = ts
            self._peak = self._last_equity if self._last_equity is not None else self._peak
            self._window.clear()
            self.gate.set_state(TradingState.ACTIVE)
            return BreakerStateChanged(ts, self.state)
        self.state = BreakerState.CLOSED
        return BreakerStateChanged(ts, self.state)


def _std(xs: list[float]) -> float:
    n = len(xs)
    if n < 2:
        return 0.0
    m = sum(xs) / n
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))
