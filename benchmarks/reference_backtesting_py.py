"""The same sma_cross(10, 30) on the same bars in backtesting.py, as a speed reference.

Run in the same `make bench` so the kernel's bars/s can be reported as a ratio measured on this
machine, not against a number from elsewhere. Returns None when backtesting.py is not installed.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from neural_trader.core.market_data import BarSeries


def _sma(x: np.ndarray, k: int) -> np.ndarray:
    c = np.concatenate(([0.0], np.cumsum(x)))
    out = np.full(len(x), np.nan)
    out[k - 1 :] = (c[k:] - c[:-k]) / k
    return out


def bars_per_second(series: BarSeries) -> dict[str, float] | None:
    try:
        from backtesting import Backtest, Strategy
        from backtesting.lib import crossover
    except ImportError:
        return None

    class SmaCross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.fast = self.I(_sma, self.data.Close, 10)
            self.slow = self.I(_sma, self.data.Close, 30)

        def next(self) -> None:
            if crossover(self.fast, self.slow) and not self.position:
                self.buy()
            elif crossover(self.slow, self.fast) and self.position:
                self.position.close()

    frame = pd.DataFrame(
        {
            "Open": series.open,
            "High": series.high,
            "Low": series.low,
            "Close": series.close,
            "Volume": series.volume,
        },
        index=pd.to_datetime(series.ts, utc=True).tz_localize(None),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = Backtest(frame, SmaCross, cash=100_000, commission=0, finalize_trades=True)
        t0 = time.perf_counter()
        stats = bt.run()
        secs = time.perf_counter() - t0
    return {
        "seconds": round(secs, 3),
        "bars_per_s": round(len(series) / secs),
        "trades": int(stats["# Trades"]),
    }
