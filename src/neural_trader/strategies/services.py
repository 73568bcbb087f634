"""What a strategy may be given besides market data, and the one place that gives it.

Strategies never reach for a database, a model file or a venue. A strategy that needs a
service (today: forecasts, for :class:`NeuralForecast`) gets it from whoever builds it (the
facade, the CLI, a paper session) through :func:`attach_services`, which also walks an
ensemble's members. Services are factories, so torch loads only for a strategy that forecasts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from neural_trader.errors import StrategyError
from neural_trader.strategies.base import Strategy
from neural_trader.strategies.ensemble import Ensemble
from neural_trader.strategies.neural_forecast import ForecastSource, NeuralForecast


@dataclass(frozen=True)
class StrategyServices:
    forecasts: Callable[[], ForecastSource] | None = None


def _members(strategy: Strategy) -> Iterable[Strategy]:
    yield strategy
    if isinstance(strategy, Ensemble):
        for member in strategy.strategies():
            yield from _members(member)


def attach_services(strategy: Strategy, services: StrategyServices | None) -> Strategy:
    """Give ``strategy`` (and any member strategies) the services they declare they need."""
    for s in _members(strategy):
        if isinstance(s, NeuralForecast) and s.source is None:
            if services is None or services.forecasts is None:
                raise StrategyError(
                    f"{s.id} needs forecasts and nothing here provides them", strategy=s.name
                )
            s.use_forecasts(services.forecasts())
    return strategy
