"""Risk benchmarks for `make bench`: batched VaR of many portfolios and Monte Carlo VaR.

* batched_var_10_assets_2520_days — parametric + historical VaR/CVaR (99%) of 200,000 random
  long-only 10-asset portfolios over the last 2,520 days of ten bundled large caps, with the
  compiled worst-k scan (risk.batch); the reference in the same run is the plain numpy way
  (one matrix product per chunk, then np.partition of every portfolio's returns).
* monte_carlo_var_1m_paths_10_assets — risk.var.monte_carlo_var_cvar with 1,000,000 paths
  (antithetic) of 10 correlated assets; the reference is numpy drawing the 10,000,000 normals a
  non-antithetic run needs, single-threaded, in the same run.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

import numpy as np

from neural_trader.risk.batch import batch_var_cvar
from neural_trader.risk.returns import bundled_returns
from neural_trader.risk.var import monte_carlo_var_cvar

SYMBOLS = ["XOM", "CVX", "JPM", "BAC", "KO", "PEP", "AAPL", "MSFT", "JNJ", "PG"]
TARGET_PORTFOLIOS_PER_S = 100_000
TARGET_MC_MS = 35.0


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _numpy_reference(history: np.ndarray, weights: np.ndarray, confidence: float) -> None:
    k = math.floor((history.shape[0] - 1) * (1 - confidence))
    for i in range(0, len(weights), 8192):
        r = history @ weights[i : i + 8192].T  # days × portfolios
        np.partition(r, (k, k + 1), axis=0)


def batched_var(portfolios: int = 200_000) -> dict[str, object]:
    history = bundled_returns(SYMBOLS)[0][-2520:]
    weights = np.random.default_rng(0).dirichlet(np.ones(len(SYMBOLS)), portfolios)
    batch_var_cvar(history, weights[:10])  # compile outside the timing
    secs = _best(lambda: batch_var_cvar(history, weights, 0.99), repeat=3)
    ref = _best(lambda: _numpy_reference(history, weights, 0.99), repeat=2)
    rate = portfolios / secs
    return {
        "portfolios": portfolios,
        "days": history.shape[0],
        "assets": len(SYMBOLS),
        "seconds": round(secs, 4),
        "portfolios_per_s": round(rate),
        "target_portfolios_per_s": TARGET_PORTFOLIOS_PER_S,
        "ratio_to_target": round(rate / TARGET_PORTFOLIOS_PER_S, 2),
        "reference_numpy_partition_portfolios_per_s": round(portfolios / ref),
        "ratio_to_numpy_reference": round(ref / secs, 2),
        "threads": os.cpu_count(),
    }


def monte_carlo(paths: int = 1_000_000) -> dict[str, object]:
    history = bundled_returns(SYMBOLS)[0][-2520:]
    w = np.full(len(SYMBOLS), 1 / len(SYMBOLS))
    monte_carlo_var_cvar(history, w, 0.99, 1, paths, seed=1)  # warm the thread pool path
    secs = _best(lambda: monte_carlo_var_cvar(history, w, 0.99, 1, paths, seed=1), repeat=7)
    rng = np.random.default_rng(1)
    ref = _best(lambda: rng.standard_normal((paths, len(SYMBOLS))), repeat=5)
    ms = secs * 1e3
    return {
        "paths": paths,
        "assets": len(SYMBOLS),
        "milliseconds": round(ms, 2),
        "target_ms": TARGET_MC_MS,
        "ratio_to_target": round(ms / TARGET_MC_MS, 2),
        "reference_numpy_10m_normals_ms": round(ref * 1e3, 2),
        "ratio_to_reference": round(secs / ref, 2),
        "threads": os.cpu_count(),
    }
