"""A portfolio's risk report: VaR and CVaR by every method, volatility, drawdown, beta to a
benchmark, exposures, heat, component VaR per position and the historical stress replays,
over the assets' common history."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from neural_trader.errors import RiskError
from neural_trader.risk.components import (
    Component,
    Exposures,
    beta,
    component_var,
    exposures,
    heat,
)
from neural_trader.risk.measures import portfolio_returns
from neural_trader.risk.stress import StressSuite
from neural_trader.risk.synthetic import SyntheticStress
from neural_trader.risk.var import METHODS, VaRResult, value_at_risk


@dataclass(frozen=True)
class RiskReport:
    symbols: list[str]
    weights: list[float]
    confidence: float
    horizon: int
    observations: int
    start: str
    end: str
    volatility_annual: float
    max_drawdown: float
    results: list[VaRResult]
    exposures: Exposures
    components: list[Component]
    benchmark: str | None = None
    beta: float | None = None
    heat: float | None = None
    stress: StressSuite | None = None
    synthetic: SyntheticStress | None = None
    source: str = "weights"
    notes: list[str] = field(default_factory=list)

    @property
    def var(self) -> dict[str, float]:
        return {r.method: r.var for r in self.results}

    @property
    def cvar(self) -> dict[str, float]:
        return {r.method: r.cvar for r in self.results}

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["var"] = self.var
        out["cvar"] = self.cvar
        del out["results"]
        if self.stress is not None:
            out["stress"] = {
                "results": [
                    {**asdict(r), "start": str(r.start), "end": str(r.end)}
                    for r in self.stress.results
                ],
                "skipped": dict(self.stress.skipped),
            }
        return out


def risk_report(
    symbols: list[str],
    weights: list[float],
    asset_returns: np.ndarray,
    dates: tuple[str, str],
    confidence: float = 0.95,
    horizon: int = 1,
    methods: tuple[str, ...] = METHODS,
    paths: int = 100_000,
    periods_per_year: float = 252.0,
    *,
    benchmark: tuple[str, np.ndarray] | None = None,
    stop_distances: list[float] | None = None,
    stress: StressSuite | None = None,
    source: str = "weights",
    notes: list[str] | None = None,
) -> RiskReport:
    """``benchmark`` is a name and its returns aligned with ``asset_returns`` (NaN where it
    has none); ``stop_distances`` the stop of each position as a fraction of its price."""
    r = portfolio_returns(asset_returns, np.asarray(weights, dtype=np.float64))
    results, left_out = _by_method(asset_returns, weights, confidence, horizon, methods, paths)
    wealth = np.cumprod(1 + r)
    peak = np.maximum.accumulate(wealth)
    return RiskReport(
        symbols=list(symbols),
        weights=list(weights),
        confidence=confidence,
        horizon=horizon,
        observations=int(r.size),
        start=dates[0],
        end=dates[1],
        volatility_annual=float(r.std(ddof=1) * math.sqrt(periods_per_year)),
        max_drawdown=float((wealth / peak - 1).min()),
        results=results,
        exposures=exposures(symbols, weights),
        components=component_var(symbols, asset_returns, weights, confidence, horizon),
        benchmark=None if benchmark is None else benchmark[0],
        beta=None if benchmark is None else beta(r, benchmark[1]),
        heat=None if stop_distances is None else heat(weights, stop_distances),
        stress=stress,
        source=source,
        notes=[*(notes or []), *left_out],
    )


def _by_method(
    asset_returns: np.ndarray,
    weights: list[float],
    confidence: float,
    horizon: int,
    methods: tuple[str, ...],
    paths: int,
) -> tuple[list[VaRResult], list[str]]:
    """Every method that works on this history; with several asked for, one that fails (a
    GARCH fit that does not converge) is left out with a note instead of sinking the report."""
    if len(methods) == 1:
        w = np.asarray(weights)
        return value_at_risk(asset_returns, w, confidence, horizon, methods, paths), []
    results: list[VaRResult] = []
    notes: list[str] = []
    for method in methods:
        try:
            results += value_at_risk(
                asset_returns, np.asarray(weights), confidence, horizon, (method,), paths
            )
        except RiskError as exc:
            notes.append(f"{method} VaR left out: {exc.message}")
    if not results:
        raise RiskError("no VaR method works on this history: " + "; ".join(notes))
    return results, notes
