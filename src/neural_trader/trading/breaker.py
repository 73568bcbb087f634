"""Wires a circuit breaker into a kernel: it watches equity every bar and every closed trade,
and its trips and state changes go on the bus (where the recorder persists them)."""

from __future__ import annotations

from neural_trader.config import BreakerSettings
from neural_trader.core.bus import MessageBus
from neural_trader.risk.breaker import BreakerConfig, CircuitBreaker
from neural_trader.risk.gate import TradingState
from neural_trader.trading.kernel import Kernel
from neural_trader.trading.trades import TradeClosed


class BreakerMonitor:
    def __init__(self, kernel: Kernel, bus: MessageBus, config: BreakerConfig) -> None:
        self.breaker = CircuitBreaker(config, kernel.gate)
        self._kernel = kernel
        self._bus = bus
        kernel.add_bar_listener(self._on_bar)
        bus.subscribe(TradeClosed, self._on_trade)

    def _on_bar(self, ts: int) -> None:
        event = self.breaker.on_equity(ts, self._kernel.portfolio.equity())
        if event is not None:
            self._bus.publish(event)

    def _on_trade(self, event: TradeClosed) -> None:
        trip = self.breaker.on_trade_closed(event.trade.exit_time, float(event.trade.pnl))
        if trip is not None:
            self._bus.publish(trip)


def breaker_config(settings: BreakerSettings) -> BreakerConfig | None:
    """The breaker's configuration from ``[risk.circuit_breaker]``; None when disabled."""
    if not settings.enabled:
        return None
    hour = 3_600_000_000_000
    return BreakerConfig(
        max_loss=settings.max_loss,
        window_ns=int(settings.window_hours * hour),
        max_drawdown=settings.max_drawdown,
        max_consecutive_losses=settings.max_consecutive_losses,
        vol_multiple=settings.vol_multiple,
        vol_short=settings.vol_short,
        vol_long=settings.vol_long,
        cooldown_ns=int(settings.cooldown_hours * hour),
        max_trips_per_day=settings.max_trips_per_day,
        open_state=TradingState(settings.on_trip),
    )
