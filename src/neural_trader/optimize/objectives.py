"""What a trial scores: the figures of one backtest window, and the objective that ranks them.

Every evaluator (the kernel, or a compiled one) answers the same :class:`TrialMetrics`, with
the conventions of :mod:`neural_trader.analytics.metrics`, so trials are comparable whichever
produced them. An :class:`Objective` picks one figure to maximise and may cap the drawdown: a
trial beyond the cap is *capped*, kept in the record but never chosen.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from neural_trader.analytics.ratios import calmar
from neural_trader.errors import ConfigError
from neural_trader.trading.backtest import BacktestResult

OBJECTIVES = ("sharpe", "sortino", "calmar", "total_return")


@dataclass(frozen=True)
class TrialMetrics:
    """The headline figures of one backtest over one window (NaN where undefined)."""

    sharpe: float
    sortino: float
    calmar: float
    total_return: float
    cagr: float
    max_drawdown: float
    num_trades: int
    exposure: float
    final_equity: float
    bars: int
    periods_per_year: float

    @property
    def period_sharpe(self) -> float:
        """The Sharpe ratio per bar (not annualised), what the deflated Sharpe ratio takes."""
        return self.sharpe / math.sqrt(self.periods_per_year)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly: NaN and ±inf become None."""
        return {k: _finite_or_none(v) for k, v in asdict(self).items()}


def _finite_or_none(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def metrics_from_result(result: BacktestResult) -> TrialMetrics:
    """The trial figures of a kernel backtest (calmar from :func:`analytics.ratios.calmar`)."""
    s = result.summary
    return TrialMetrics(
        sharpe=s.sharpe,
        sortino=s.sortino,
        calmar=calmar(result.equity, result.timestamps),
        total_return=s.total_return,
        cagr=s.cagr,
        max_drawdown=s.max_drawdown,
        num_trades=s.num_trades,
        exposure=s.exposure,
        final_equity=result.final_equity,
        bars=len(result.equity),
        periods_per_year=s.periods_per_year,
    )


# Why a trial cannot be chosen, in the order they are checked.
OK = "ok"
INVALID = "invalid"  # the strategy refused the parameters (check_params): never run
CAPPED = "capped"  # its drawdown is beyond the objective's cap
UNDEFINED = "undefined"  # the objective is NaN (e.g. a Sharpe ratio with no trades)


@dataclass(frozen=True)
class Objective:
    """Maximise ``name``; with ``max_drawdown`` (a positive fraction, 0.25 = a 25 % fall),
    trials whose maximum drawdown is deeper, or undefined, are excluded."""

    name: str = "sharpe"
    max_drawdown: float | None = None

    def __post_init__(self) -> None:
        if self.name not in OBJECTIVES:
            raise ConfigError(
                f"unknown objective {self.name!r}; choose one of {', '.join(OBJECTIVES)}",
                objective=self.name,
            )
        cap = self.max_drawdown
        if cap is not None and not (math.isfinite(cap) and 0 < cap <= 1):
            raise ConfigError(f"--max-drawdown must be a fraction in (0, 1], got {cap}")

    def value(self, metrics: TrialMetrics) -> float:
        """The objective's figure for ``metrics`` (NaN when undefined)."""
        return float(getattr(metrics, self.name))

    def status(self, metrics: TrialMetrics) -> str:
        """OK, CAPPED or UNDEFINED for an evaluated trial."""
        if self.max_drawdown is not None:
            dd = metrics.max_drawdown
            if not math.isfinite(dd) or -dd > self.max_drawdown:
                return CAPPED
        return OK if math.isfinite(self.value(metrics)) else UNDEFINED

    def describe(self) -> str:
        """``sharpe`` or ``total_return (max drawdown 20.0%)``: for tables and file names."""
        cap = "" if self.max_drawdown is None else f" (max drawdown {self.max_drawdown:.1%})"
        return f"{self.name}{cap}"
