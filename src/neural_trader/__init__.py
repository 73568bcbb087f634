"""neural-trader: one kernel for backtest, paper and live trading."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["NeuralTrader", "__version__"]

if TYPE_CHECKING:
    from neural_trader.trader import NeuralTrader


def __getattr__(name: str) -> Any:
    # The facade pulls in pandas, SQLAlchemy and the services: load it on first use only, so
    # that `import neural_trader.core` stays light.
    if name == "NeuralTrader":
        from neural_trader.trader import NeuralTrader

        return NeuralTrader
    raise AttributeError(f"module 'neural_trader' has no attribute {name!r}")
