"""Evaluating parameter sets over bar windows: the kernel, or a compiled equivalent.

The kernel (``run_backtest``) is the ground truth and works for every strategy. For a strategy
with a compiled evaluator that reproduces the kernel exactly (``sma_cross``, see
:mod:`neural_trader.optimize.fast_sma`) and a configuration it supports, that one is used
instead, because a sweep runs the same backtest hundreds of times.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from neural_trader.core.market_data import BarSeries
from neural_trader.optimize.folds import Window
from neural_trader.optimize.objectives import TrialMetrics, metrics_from_result
from neural_trader.strategies.base import Strategy
from neural_trader.strategies.sma_cross import SmaCross
from neural_trader.trading.backtest import BacktestConfig, BacktestResult, run_backtest

FloatArray = npt.NDArray[np.float64]


class Evaluator(Protocol):
    """Backtests parameter sets of one strategy on windows of one bar series."""

    name: str
    series: BarSeries

    def metrics(self, window: Window, params: Sequence[Mapping[str, Any]]) -> list[TrialMetrics]:
        """The figures of each parameter set backtested alone on ``window``, starting flat."""
        ...

    def curve(self, window: Window, params: Mapping[str, Any]) -> FloatArray:
        """The equity at each bar of ``window`` for one parameter set."""
        ...


def window_series(series: BarSeries, window: Window) -> BarSeries:
    """The bars of ``window`` as a series of their own (views, no copy)."""
    lo, hi = window.lo, window.hi
    return BarSeries(
        series.symbol,
        series.interval,
        series.ts[lo:hi],
        series.open[lo:hi],
        series.high[lo:hi],
        series.low[lo:hi],
        series.close[lo:hi],
        series.volume[lo:hi],
    )


class KernelEvaluator:
    """Each evaluation is a full ``run_backtest`` on the window, starting flat."""

    name = "kernel"

    def __init__(
        self, strategy: type[Strategy], series: BarSeries, config: BacktestConfig | None = None
    ) -> None:
        self.strategy = strategy
        self.series = series
        self.config = config or BacktestConfig()

    def run(self, window: Window, params: Mapping[str, Any]) -> BacktestResult:
        """The whole kernel result (trades, orders, ledger) of one parameter set."""
        strategy = self.strategy.from_params(params)
        return run_backtest(strategy, [window_series(self.series, window)], self.config)

    def metrics(self, window: Window, params: Sequence[Mapping[str, Any]]) -> list[TrialMetrics]:
        """One kernel backtest per parameter set."""
        return [metrics_from_result(self.run(window, p)) for p in params]

    def curve(self, window: Window, params: Mapping[str, Any]) -> FloatArray:
        """The kernel's equity curve of one parameter set."""
        return np.asarray(self.run(window, params).equity, dtype=np.float64)


def make_evaluator(
    strategy: type[Strategy],
    series: BarSeries,
    config: BacktestConfig | None = None,
    prefer_fast: bool = True,
) -> tuple[Evaluator, str]:
    """The evaluator to use and a one-line reason for the choice."""
    config = config or BacktestConfig()
    if not prefer_fast:
        return KernelEvaluator(strategy, series, config), "the kernel was asked for"
    if strategy is not SmaCross:
        return KernelEvaluator(
            strategy, series, config
        ), f"no compiled evaluator for {strategy.name}"
    from neural_trader.optimize.fast_sma import SmaCrossFast, unsupported

    reason = unsupported(series, config)
    if reason is not None:
        return KernelEvaluator(strategy, series, config), f"compiled evaluator unusable: {reason}"
    return SmaCrossFast(series, config), "compiled sma_cross evaluator (same fills as the kernel)"
