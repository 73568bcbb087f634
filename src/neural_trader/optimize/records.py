"""What an optimisation leaves behind: every trial, every fold, and the verdict on overfitting."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from neural_trader.optimize.folds import Fold
from neural_trader.optimize.objectives import OK, TrialMetrics

Params = dict[str, Any]


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True)
class Trial:
    """One parameter set tried on one fold's in-sample window.

    ``status`` is ok, invalid (refused by the strategy, not run: ``note`` says why), capped
    (drawdown beyond the objective's cap), undefined (the objective is NaN) or repeat (the
    search proposed a set it had already run; its figures are the earlier ones).
    """

    fold: int
    number: int
    params: Params
    status: str
    value: float
    metrics: TrialMetrics | None
    note: str = ""

    @property
    def eligible(self) -> bool:
        """Whether this trial may be a fold's choice."""
        return self.status == OK


@dataclass
class FoldResult:
    """The choice made on one fold and how it held up out of sample."""

    fold: Fold
    best: Trial | None
    oos: TrialMetrics | None
    oos_value: float
    trials: int  # proposed, including invalid ones and repeats
    evaluated: int  # distinct parameter sets backtested
    invalid: int
    trial_sharpe_variance: float  # variance of the per-bar Sharpe ratios of the distinct trials
    deflated_sharpe: float
    probabilistic_sharpe: float  # of the chosen trial against a Sharpe ratio of 0
    oos_curve: npt.NDArray[np.float64] | None = None  # the choice's out-of-sample equity

    @property
    def gap(self) -> float:
        """In-sample minus out-of-sample objective: how much of the edge did not carry over."""
        if self.best is None or self.oos is None:
            return math.nan
        return self.best.value - self.oos_value

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN becomes None); windows as [lo, hi) bar indices."""
        oos = self.fold.out_of_sample
        return {
            "fold": self.fold.index,
            "in_sample": [self.fold.in_sample.lo, self.fold.in_sample.hi],
            "out_of_sample": None if oos is None else [oos.lo, oos.hi],
            "best_params": None if self.best is None else self.best.params,
            "in_sample_objective": None if self.best is None else _num(self.best.value),
            "out_of_sample_objective": _num(self.oos_value),
            "gap": _num(self.gap),
            "in_sample_metrics": None
            if self.best is None or self.best.metrics is None
            else self.best.metrics.as_dict(),
            "out_of_sample_metrics": None if self.oos is None else self.oos.as_dict(),
            "trials": self.trials,
            "evaluated": self.evaluated,
            "invalid": self.invalid,
            "trial_sharpe_variance": _num(self.trial_sharpe_variance),
            "deflated_sharpe_ratio": _num(self.deflated_sharpe),
            "probabilistic_sharpe_ratio": _num(self.probabilistic_sharpe),
        }


@dataclass
class OptimizationResult:
    """The whole run: per-fold outcomes, every trial, the stitched out-of-sample curve (with
    walk-forward) and the overfitting flags; ``timestamps`` are the series' bar times."""

    strategy: str
    symbol: str
    method: str
    objective: str
    evaluator: str
    evaluator_reason: str
    params: list[str]
    folds: list[FoldResult]
    trials: list[Trial]
    timestamps: npt.NDArray[np.int64]
    stitched_equity: npt.NDArray[np.float64] | None  # out-of-sample curves chained
    stitched: TrialMetrics | None
    flags: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)

    def top(self, n: int = 10) -> list[Trial]:
        """The best eligible trials by objective, across folds."""
        ok = [t for t in self.trials if t.eligible]
        return sorted(ok, key=lambda t: t.value, reverse=True)[:n]
