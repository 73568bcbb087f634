"""Speed of a parameter sweep: sma_cross on 1,000,000 synthetic one-minute bars, 100 combinations.

Figures (measured, never asserted):
* compile_seconds — the first call of the compiled evaluator (numba JIT compile, or loading
  it from numba's on-disk cache: ``numba_cache_hit`` says which);
* pool_start_seconds — starting the worker processes and installing the evaluator in them;
* sweep_seconds_parallel — the 100 combinations through the local process pool, warm;
* sweep_seconds_serial — the same 100 in this process, one after another;
* kernel_seconds_per_combination — the full kernel on the same bars, for scale;
* equal_to_kernel — trades, cash and equity curve of the compiled evaluator equal the kernel's
  for the first and the last combination, on all the bars (a boolean; the tests assert it).

Run on its own (``python benchmarks/optimize_figures.py``) or call :func:`optimize_figures`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from synthetic import synthetic_minutes

from neural_trader.core.market_data import BarSeries
from neural_trader.optimize import ProcessExecutor
from neural_trader.optimize.evaluators import KernelEvaluator
from neural_trader.optimize.fast_sma import SmaCrossFast
from neural_trader.optimize.folds import Window
from neural_trader.optimize.search import ChunkRunner
from neural_trader.optimize.sma_kernel import trade
from neural_trader.strategies import SmaCross
from neural_trader.trading.backtest import BacktestConfig

BARS = 1_000_000
COMBINATIONS = 100
TARGET_SECONDS = 1.0


def combinations(n: int = COMBINATIONS) -> list[dict[str, int]]:
    """The first ``n`` valid pairs of fast in 5..50 step 5 and slow in 20..300 step 10."""
    pairs = [{"fast": f, "slow": s} for f in range(5, 55, 5) for s in range(20, 310, 10) if f < s]
    return pairs[:n]


def same_as_kernel(series: BarSeries, params: list[dict[str, int]]) -> tuple[bool, float]:
    """Whether the compiled evaluator's trades, cash and equity curve equal the kernel's for
    every parameter set, and the kernel's seconds per backtest (for scale)."""
    cfg = BacktestConfig()
    fast = SmaCrossFast(series, cfg)
    kernel = KernelEvaluator(SmaCross, series, cfg)
    window = Window(0, len(series))
    equal = True
    seconds = 0.0
    for p in params:
        mine = fast.run(window, p)
        t0 = time.perf_counter()
        ref = kernel.run(window, p)
        seconds += time.perf_counter() - t0
        equal = equal and (
            mine.trades == ref.trades
            and mine.cash == ref.portfolio.cash
            and bool(np.array_equal(mine.equity, ref.equity))
        )
    return equal, seconds / max(len(params), 1)


def optimize_figures(bars: int = BARS, workers: int | None = None) -> dict[str, Any]:
    """Measure the sweep (see the module doc); returns the figures as a JSON-ready dict."""
    series = synthetic_minutes(bars)
    params = combinations()
    window = Window(0, len(series))
    evaluator = SmaCrossFast(series, BacktestConfig())
    t0 = time.perf_counter()
    evaluator.metrics(window, params[:1])
    compile_s = time.perf_counter() - t0
    hits = sum(trade.stats.cache_hits.values())
    t0 = time.perf_counter()
    evaluator.metrics(window, params)
    serial_s = time.perf_counter() - t0
    runner = ChunkRunner(evaluator)
    workers = workers or os.cpu_count() or 1
    chunk = -(-len(params) // workers)
    tasks = [(window, tuple(params[i : i + chunk])) for i in range(0, len(params), chunk)]
    with ProcessExecutor(workers) as pool:
        t0 = time.perf_counter()
        pool.map(runner, [(window, tuple(params[:1]))] * workers)
        start_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        results = pool.map(runner, tasks)
        parallel_s = time.perf_counter() - t0
    swept = sum(len(r) for r in results)
    equal, kernel_s = same_as_kernel(series, [params[0], params[-1]])
    return {
        "bars": bars,
        "combinations": swept,
        "workers": workers,
        "compile_seconds": round(compile_s, 3),
        "numba_cache_hit": hits > 0,
        "pool_start_seconds": round(start_s, 3),
        "sweep_seconds_parallel": round(parallel_s, 3),
        "sweep_seconds_serial": round(serial_s, 3),
        "combinations_per_second_parallel": round(len(params) / parallel_s, 1),
        "target_seconds": TARGET_SECONDS,
        "kernel_seconds_per_combination": round(kernel_s, 3),
        "speedup_vs_kernel_serial": round(kernel_s * len(params) / serial_s, 1),
        "equal_to_kernel": equal,
        "equal_to_kernel_checked": [params[0], params[-1]],
    }


if __name__ == "__main__":
    figures = optimize_figures()
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    text = json.dumps(figures, indent=2)
    if out is not None:
        out.write_text(text)
    print(text)
