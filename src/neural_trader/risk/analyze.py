"""One entry point for a risk report on bundled data or a user's price file, shared by the CLI,
the facade and (later) the API, so they cannot drift apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from neural_trader.data.catalog import TimeBound
from neural_trader.errors import DataError, RiskError
from neural_trader.risk.measures import portfolio_returns
from neural_trader.risk.report import RiskReport, risk_report
from neural_trader.risk.returns import aligned_benchmark, bundled_frame, file_returns
from neural_trader.risk.stress import run_all
from neural_trader.risk.synthetic import SyntheticStress, synthetic_stress
from neural_trader.risk.var import METHODS

DEFAULT_BENCHMARK = "SPX"


def analyze(
    symbols: list[str],
    weights: list[float],
    *,
    confidence: float = 0.95,
    horizon: int = 1,
    methods: tuple[str, ...] = METHODS,
    start: TimeBound = None,
    end: TimeBound = None,
    prices: Path | None = None,
    benchmark: str | None = DEFAULT_BENCHMARK,
    stop_distances: list[float] | None = None,
    stress: bool = True,
    paths: int = 100_000,
    source: str = "weights",
) -> RiskReport:
    """The full report. With ``prices`` the history is the file's and there is no benchmark or
    stress replay (both need bundled series); otherwise bundled closes from ``start`` to
    ``end``, beta against ``benchmark`` (None to skip), every historical stress scenario."""
    if len(weights) != len(symbols):
        raise RiskError(f"{len(weights)} weights for {len(symbols)} symbols")
    if stop_distances is not None and len(stop_distances) != len(symbols):
        raise RiskError(f"{len(stop_distances)} stop distances for {len(symbols)} symbols")
    if paths < 2:
        raise RiskError(f"Monte Carlo needs at least 2 paths, got {paths}")
    notes: list[str] = []
    if prices is not None:
        returns, span = file_returns(prices, symbols)
        notes.append("prices from a file: no benchmark beta and no historical stress replays")
        return risk_report(
            symbols, weights, returns, span, confidence, horizon, methods, paths,
            stop_distances=stop_distances, source=source, notes=notes,
        )  # fmt: skip
    frame = bundled_frame(symbols, start, end)
    returns = frame.to_numpy(dtype=np.float64)
    span = (str(frame.index[0].date()), str(frame.index[-1].date()))
    bench = None
    if benchmark is not None:
        try:
            bench_returns = aligned_benchmark(benchmark, pd.DatetimeIndex(frame.index))
        except DataError as exc:
            raise RiskError(f"benchmark {benchmark!r}: {exc}") from None
        shared = int(np.isfinite(bench_returns).sum())
        if shared < 3:
            notes.append(f"benchmark {benchmark} shares {shared} dates with the portfolio: no beta")
        else:
            bench = (benchmark, bench_returns)
            if shared < len(frame):
                notes.append(f"beta over the {shared:,} dates {benchmark} shares with the assets")
    suite = run_all(symbols, weights) if stress else None
    return risk_report(
        symbols, weights, returns, span, confidence, horizon, methods, paths,
        benchmark=bench, stop_distances=stop_distances, stress=suite, source=source, notes=notes,
    )  # fmt: skip


def synthetic_scenarios(
    symbols: list[str],
    weights: list[float],
    factor: str,
    factor_log_paths: np.ndarray,
    confidence: float = 0.99,
    *,
    start: TimeBound = None,
    end: TimeBound = None,
    source: str = "generator",
) -> SyntheticStress:
    """The basket's loss over generated paths of ``factor`` (a bundled symbol), through its
    beta to that factor on the bundled history from ``start`` to ``end``."""
    if len(weights) != len(symbols):
        raise RiskError(f"{len(weights)} weights for {len(symbols)} symbols")
    frame = bundled_frame(symbols, start, end)
    r = portfolio_returns(frame.to_numpy(dtype=np.float64), np.asarray(weights, dtype=np.float64))
    try:
        f = aligned_benchmark(factor, pd.DatetimeIndex(frame.index))
    except DataError as exc:
        raise RiskError(f"factor {factor!r}: {exc}") from None
    return synthetic_stress(r, f, factor_log_paths, confidence, factor=factor, source=source)
