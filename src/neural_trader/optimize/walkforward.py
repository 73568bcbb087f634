"""Walk-forward optimisation: per fold, choose in sample, test out of sample, then stitch.

Per fold the search runs on the in-sample window, the best eligible trial by the objective is
the fold's choice (ties go to the earlier trial), and that choice is backtested on the fold's
out-of-sample window, which the search never saw. The out-of-sample curves, chained end to
start, are the stitched result: what trading the walk-forward procedure itself would have
earned. Each fold's choice also gets its deflated Sharpe ratio against all the distinct
parameter sets tried on that fold (on their Sharpe ratios, whatever the objective: the DSR is
a statement about Sharpe ratios). N counts every distinct evaluated set; neighbouring grid
points are correlated, so the effective number of independent trials is smaller and the DSR
errs on the cautious side.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import numpy.typing as npt

from neural_trader.analytics.metrics import returns_from_equity, summarize
from neural_trader.analytics.ratios import calmar
from neural_trader.errors import ConfigError
from neural_trader.optimize.deflated import (
    deflated_sharpe_ratio,
    probabilistic_sharpe_ratio,
    return_moments,
)
from neural_trader.optimize.evaluators import Evaluator
from neural_trader.optimize.executor import Executor, SerialExecutor
from neural_trader.optimize.folds import Fold, single_window, walk_forward
from neural_trader.optimize.objectives import INVALID, Objective, TrialMetrics
from neural_trader.optimize.overfitting import overfitting_flags
from neural_trader.optimize.records import FoldResult, OptimizationResult, Trial
from neural_trader.optimize.search import METHODS, REPEAT, ChunkRunner, WindowRun, search
from neural_trader.optimize.space import ParameterSpace

MAX_GRID = 1_000_000
Progress = Callable[[int, int], None]  # (evaluations done, evaluations planned)


@dataclass(frozen=True)
class OptimizeSettings:
    """How to search: ``folds`` = 0 optimises once over all bars (no out-of-sample test)."""

    method: str = "grid"
    trials: int | None = None
    folds: int = 0
    anchored: bool = False
    in_sample_ratio: float = 3.0
    objective: Objective = field(default_factory=Objective)
    seed: int = 0
    batch: int = 8

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(
                f"unknown --method {self.method!r}; choose one of {', '.join(METHODS)}"
            )
        if self.method == "grid" and self.trials is not None:
            raise ConfigError("--trials applies to --method random and bayes; grid tries all")
        if self.method != "grid" and (self.trials is None or self.trials < 1):
            raise ConfigError(f"--method {self.method} needs --trials N (N >= 1)")
        if self.folds < 0:
            raise ConfigError(f"--walk-forward must be >= 1, got {self.folds}")
        if self.batch < 1:
            raise ConfigError(f"batch must be >= 1, got {self.batch}")

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, as recorded in summary.json."""
        out = asdict(self)
        out["objective"] = asdict(self.objective)
        return out


class _Tracker:
    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total = total
        self.done = 0
        self._progress = progress

    def advance(self, n: int) -> None:
        """Count ``n`` more evaluations done (or skipped) and tell the caller."""
        self.done += n
        if self._progress is not None and n:
            self._progress(min(self.done, self.total), self.total)


def _folds(n_bars: int, settings: OptimizeSettings) -> list[Fold]:
    if settings.folds == 0:
        return single_window(n_bars)
    return walk_forward(n_bars, settings.folds, settings.anchored, settings.in_sample_ratio)


def optimize(
    space: ParameterSpace,
    evaluator: Evaluator,
    settings: OptimizeSettings,
    executor: Executor | None = None,
    progress: Progress | None = None,
    evaluator_reason: str = "",
) -> OptimizationResult:
    """Run the whole optimisation (see the module doc)."""
    if settings.method == "grid" and space.size > MAX_GRID:
        raise ConfigError(
            f"the grid has {space.size:,} combinations (limit {MAX_GRID:,}); "
            "use --method random or bayes with --trials"
        )
    started = time.perf_counter()
    executor = executor or SerialExecutor()
    folds = _folds(len(evaluator.series), settings)
    per_fold = space.size if settings.method == "grid" else int(settings.trials or 0)
    tracker = _Tracker(len(folds) * (per_fold + 2), progress)
    runner = ChunkRunner(evaluator)
    results: list[FoldResult] = []
    trials: list[Trial] = []
    for fold in folds:
        run = WindowRun(runner, executor, fold.in_sample, tracker.advance)
        found = search(
            settings.method,
            space,
            settings.objective,
            run,
            fold.index,
            settings.trials,
            settings.seed,
            settings.batch,
        )
        trials.extend(found)
        results.append(conclude(fold, found, evaluator, settings.objective))
        tracker.advance(2)
    curve, stitched = stitch(results, evaluator)
    return OptimizationResult(
        strategy=space.strategy.name or space.strategy.__name__,
        symbol=evaluator.series.symbol,
        method=settings.method,
        objective=settings.objective.describe(),
        evaluator=evaluator.name,
        evaluator_reason=evaluator_reason,
        params=space.names,
        folds=results,
        trials=trials,
        timestamps=evaluator.series.ts,
        stitched_equity=curve,
        stitched=stitched,
        flags=overfitting_flags(results),
        seconds=time.perf_counter() - started,
        settings=settings.as_dict(),
    )


def conclude(
    fold: Fold, trials: Sequence[Trial], evaluator: Evaluator, objective: Objective
) -> FoldResult:
    """The fold's choice, its deflated Sharpe ratio and its out-of-sample figures."""
    eligible = [t for t in trials if t.eligible]
    best = max(eligible, key=lambda t: t.value) if eligible else None
    distinct = [t for t in trials if t.metrics is not None and t.status != REPEAT]
    sharpes = [t.metrics.period_sharpe for t in distinct if t.metrics is not None]
    sharpes = [s for s in sharpes if math.isfinite(s)]
    variance = float(np.var(sharpes, ddof=1)) if len(sharpes) > 1 else math.nan
    dsr = psr = math.nan
    if best is not None and best.metrics is not None:
        curve = evaluator.curve(fold.in_sample, best.params)
        _, skew, kurt, n_obs = return_moments(returns_from_equity(curve))
        sr = best.metrics.period_sharpe
        n_trials = len(sharpes)
        dsr = deflated_sharpe_ratio(
            sr, n_trials, 0.0 if n_trials == 1 else variance, n_obs, skew, kurt
        )
        psr = probabilistic_sharpe_ratio(sr, 0.0, n_obs, skew, kurt)
    oos: TrialMetrics | None = None
    oos_curve = None
    oos_value = math.nan
    if best is not None and fold.out_of_sample is not None:
        oos = evaluator.metrics(fold.out_of_sample, [best.params])[0]
        oos_curve = evaluator.curve(fold.out_of_sample, best.params)
        oos_value = objective.value(oos)
    return FoldResult(
        fold=fold,
        best=best,
        oos=oos,
        oos_value=oos_value,
        trials=len(trials),
        evaluated=len(distinct),
        invalid=sum(1 for t in trials if t.status == INVALID),
        trial_sharpe_variance=variance,
        deflated_sharpe=dsr,
        probabilistic_sharpe=psr,
        oos_curve=oos_curve,
    )


def stitch(
    folds: Sequence[FoldResult], evaluator: Evaluator
) -> tuple[npt.NDArray[np.float64] | None, TrialMetrics | None]:
    """The out-of-sample curves chained (each rescaled to start where the last one ended; a
    fold without a choice stays in cash), and their figures. None without walk-forward."""
    windows = [f for f in folds if f.fold.out_of_sample is not None]
    if not windows:
        return None, None
    curves = [f.oos_curve for f in windows]
    level = next((float(c[0]) for c in curves if c is not None), 1.0)
    parts = []
    for f, c in zip(windows, curves, strict=True):
        window = f.fold.out_of_sample
        assert window is not None
        parts.append(np.full(len(window), level) if c is None else c * (level / c[0]))
        level = float(parts[-1][-1])
    trades = sum(f.oos.num_trades for f in windows if f.oos is not None)
    equity = np.concatenate(parts)
    first = windows[0].fold.out_of_sample
    last = windows[-1].fold.out_of_sample
    assert first is not None and last is not None
    ts = evaluator.series.ts[first.lo : last.hi]
    s = summarize(equity, ts, np.empty(0))
    metrics = TrialMetrics(
        sharpe=s.sharpe,
        sortino=s.sortino,
        calmar=calmar(equity, ts),
        total_return=s.total_return,
        cagr=s.cagr,
        max_drawdown=s.max_drawdown,
        num_trades=trades,
        exposure=math.nan,
        final_equity=float(equity[-1]),
        bars=int(equity.size),
        periods_per_year=s.periods_per_year,
    )
    return equity, metrics
