"""Strategies and their registry (name -> class)."""

from neural_trader.errors import StrategyError
from neural_trader.strategies.base import Param, Strategy
from neural_trader.strategies.mean_reversion import MeanReversion
from neural_trader.strategies.momentum import Momentum
from neural_trader.strategies.sma_cross import SmaCross

REGISTRY: dict[str, type[Strategy]] = {cls.name: cls for cls in (SmaCross, Momentum, MeanReversion)}


def strategy_class(name: str) -> type[Strategy]:
    try:
        return REGISTRY[name]
    except KeyError:
        raise StrategyError(
            f"unknown strategy {name!r}; available: {', '.join(sorted(REGISTRY))}", strategy=name
        ) from None


__all__ = [
    "REGISTRY",
    "MeanReversion",
    "Momentum",
    "Param",
    "SmaCross",
    "Strategy",
    "strategy_class",
]
