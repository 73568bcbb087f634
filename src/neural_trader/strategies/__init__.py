"""Strategies and their registry (name -> class)."""

from neural_trader.errors import StrategyError
from neural_trader.strategies.arbitrage import CrossVenueArbitrage
from neural_trader.strategies.base import Param, Strategy
from neural_trader.strategies.ensemble import Ensemble
from neural_trader.strategies.market_making import MarketMaking
from neural_trader.strategies.mean_reversion import MeanReversion
from neural_trader.strategies.momentum import Momentum
from neural_trader.strategies.neural_forecast import NeuralForecast
from neural_trader.strategies.pairs import PairsTrading
from neural_trader.strategies.sentiment import Sentiment
from neural_trader.strategies.sma_cross import SmaCross

_ALL: tuple[type[Strategy], ...] = (
    SmaCross, Momentum, MeanReversion, PairsTrading, MarketMaking, CrossVenueArbitrage,
    NeuralForecast, Sentiment, Ensemble,
)  # fmt: skip
# TriangularArbitrage (strategies/triangular_arbitrage.py) is not registered: its cross leg
# settles in BTC, and the single-currency ledger would book that as USD.
REGISTRY: dict[str, type[Strategy]] = {cls.name: cls for cls in _ALL}


def strategy_class(name: str) -> type[Strategy]:
    try:
        return REGISTRY[name]
    except KeyError:
        raise StrategyError(
            f"unknown strategy {name!r}; available: {', '.join(sorted(REGISTRY))}", strategy=name
        ) from None


__all__ = [
    "REGISTRY",
    "CrossVenueArbitrage",
    "Ensemble",
    "MarketMaking",
    "MeanReversion",
    "Momentum",
    "NeuralForecast",
    "PairsTrading",
    "Param",
    "Sentiment",
    "SmaCross",
    "Strategy",
    "strategy_class",
]
