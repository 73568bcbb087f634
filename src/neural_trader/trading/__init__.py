"""The trading kernel and its runners (backtest, live)."""

from neural_trader.trading.backtest import BacktestConfig, BacktestResult, run_backtest
from neural_trader.trading.kernel import Kernel
from neural_trader.trading.trades import Trade, TradeTracker

__all__ = ["BacktestConfig", "BacktestResult", "Kernel", "Trade", "TradeTracker", "run_backtest"]
