"""A portfolio's risk report: VaR and CVaR by every method, volatility and drawdown, over the
assets' common history."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from neural_trader.risk.measures import portfolio_returns
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
) -> RiskReport:
    r = portfolio_returns(asset_returns, np.asarray(weights, dtype=np.float64))
    results = value_at_risk(asset_returns, np.asarray(weights), confidence, horizon, methods, paths)
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
    )
