"""Trade a registered neural forecaster's view, sized by how sure its conformal interval is.

On every bar, once the model has the history it needs, the strategy asks its forecast source
(the NeuralService, attached by whoever builds the strategy) for the forecast from that bar's
close and reads the ``horizon`` it trades:

* the interval ``[lower, upper]`` straddles zero → no view: the target is **flat**;
* ``lower > 0`` → long, ``upper < 0`` (with ``allow_short``) → short, at a target of
  ``fraction × min(1, edge / width)`` of equity, where ``edge`` is the distance of the
  interval's near end from zero and ``width = upper − lower``: an interval that only just
  clears zero earns a small position, one clear of zero by its own width or more the whole
  ``fraction``.

The position is moved to the target with a market order when the target changes side or
differs from the held fraction by more than ``rebalance``. A forecast sees bars up to and
including the current one only, and orders fill at the next bar's open at the earliest.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from neural_trader.core.market_data import Bar, BarSeries
from neural_trader.core.orders import OrderSide
from neural_trader.errors import StrategyError
from neural_trader.strategies.base import Param, Strategy


class ForecastView(Protocol):
    @property
    def horizons(self) -> list[int]: ...

    @property
    def lower(self) -> list[float]: ...

    @property
    def upper(self) -> list[float]: ...


class ForecastSource(Protocol):
    """What the strategy needs of the NeuralService."""

    def history_needed(self, name: str) -> int: ...

    def predict_bars(self, name: str, bars: BarSeries) -> ForecastView: ...


def target_fraction(lower: float, upper: float, fraction: float, allow_short: bool) -> float:
    """Signed fraction of equity the interval ``[lower, upper]`` asks for (0 when unsure)."""
    width = upper - lower
    if lower > 0:
        edge = lower
    elif upper < 0 and allow_short:
        edge = -upper
    else:
        return 0.0
    size = fraction if width <= 0 else fraction * min(1.0, edge / width)
    return size if lower > 0 else -size


class NeuralForecast(Strategy):
    name = "neural_forecast"
    model: str = Param("lstm", description="registered model: a name like lstm-SPX, or lstm")
    horizon: int = Param(1, ge=1, description="forecast horizon (bars) to trade")
    fraction: float = Param(1.0, gt=0, le=1, description="fraction of equity at full conviction")
    rebalance: float = Param(0.1, ge=0, le=1, description="least change of target to trade")
    allow_short: bool = Param(False, description="go short when the interval is below zero")

    source: ForecastSource | None = None

    def use_forecasts(self, source: ForecastSource) -> None:
        self.source = source

    def model_for(self, symbol: str) -> str:
        return self.model if "-" in self.model else f"{self.model.lower()}-{symbol.upper()}"

    def on_start(self) -> None:
        if self.source is None:
            raise StrategyError(
                "neural_forecast needs a forecast source: run it through NeuralTrader, the CLI "
                "or a session, which attach the NeuralService",
                strategy=self.name,
            )
        self._source: ForecastSource = self.source
        self._times: dict[str, deque[int]] = {}
        self._history: dict[str, deque[tuple[float, ...]]] = {}
        self._need: dict[str, int] = {}
        self._column: dict[str, int] = {}
        self.decisions: list[tuple[int, str, float]] = []  # (ts, symbol, target fraction)

    def on_bar(self, bar: Bar) -> None:
        sym = bar.symbol
        history = self._history.get(sym)
        if history is None:
            history = self._start_symbol(sym)
        self._times[sym].append(bar.ts)
        history.append((bar.open, bar.high, bar.low, bar.close, bar.volume))
        if len(history) < self._need[sym] or self.ctx.open_orders(self.id, sym):
            return
        forecast = self._source.predict_bars(
            self.model_for(sym), _series(sym, self._times[sym], history)
        )
        j = self._column.get(sym)
        if j is None:
            j = self._column[sym] = _horizon_column(forecast.horizons, self.horizon)
        target = target_fraction(
            forecast.lower[j], forecast.upper[j], self.fraction, self.allow_short
        )
        self.decisions.append((bar.ts, sym, target))
        self._move_to(sym, target, bar.close)

    def _start_symbol(self, symbol: str) -> deque[tuple[float, ...]]:
        need = self._source.history_needed(self.model_for(symbol))
        self._need[symbol] = need
        history: deque[tuple[float, ...]] = deque(maxlen=need)
        self._history[symbol] = history
        self._times[symbol] = deque(maxlen=need)
        return history

    def _move_to(self, symbol: str, target: float, price: float) -> None:
        held = float(self.position(symbol))
        equity = self.equity
        current = held * price / equity if equity > 0 else 0.0
        if target == 0.0:
            if held:
                self.close(symbol)
            return
        side_changes = (target > 0) != (current > 0) or held == 0
        if not side_changes and abs(target - current) <= self.rebalance:
            return
        wanted = target * equity / price
        change = wanted - held
        side = OrderSide.BUY if change > 0 else OrderSide.SELL
        self.order(symbol, side, abs(change))


def _horizon_column(horizons: Sequence[int], horizon: int) -> int:
    try:
        return list(horizons).index(horizon)
    except ValueError:
        raise StrategyError(
            f"neural_forecast: parameter 'horizon': the model forecasts {list(horizons)} bars "
            f"ahead, not {horizon}",
            strategy="neural_forecast",
            parameter="horizon",
        ) from None


def _series(symbol: str, times: deque[int], history: deque[tuple[float, ...]]) -> BarSeries:
    rows = np.asarray(history, dtype=np.float64)
    ts = np.fromiter(times, dtype=np.int64, count=len(times))
    return BarSeries(symbol, "", ts, rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4])
