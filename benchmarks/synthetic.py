"""The synthetic one-minute bars every throughput benchmark runs on (a seeded geometric random
walk), in one place so that the kernel, the optimiser and backtesting.py see the same bars."""

from __future__ import annotations

import numpy as np

from neural_trader.core.market_data import BarSeries


def synthetic_minutes(n: int, seed: int = 7) -> BarSeries:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 5e-4, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    spread = np.abs(rng.normal(0.0, 2e-4, n))
    high = np.maximum(open_, close) * (1 + spread)
    low = np.minimum(open_, close) * (1 - spread)
    ts = 1_600_000_000_000_000_000 + np.arange(n, dtype=np.int64) * 60_000_000_000
    volume = rng.integers(100, 10_000, n).astype(np.float64)
    return BarSeries("SYN", "1m", ts, open_, high, low, close, volume)
