"""Parameter optimisation: grid, random and Bayesian search with walk-forward validation.

``optimize`` searches a strategy's :class:`ParameterSpace` on each fold's in-sample window,
tests the choice out of sample, stitches the out-of-sample curves and flags overfitting (the
in-sample/out-of-sample gap and the deflated Sharpe ratio). Evaluations run through an
:class:`Executor` (in-process or a local process pool); ``sma_cross`` has a compiled evaluator
that reproduces the kernel's fills exactly, every other strategy runs on the kernel.
"""

from neural_trader.optimize.deflated import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    return_moments,
)
from neural_trader.optimize.evaluators import Evaluator, KernelEvaluator, make_evaluator
from neural_trader.optimize.executor import (
    Executor,
    ProcessExecutor,
    SerialExecutor,
    local_executor,
)
from neural_trader.optimize.folds import Fold, Window, single_window, walk_forward
from neural_trader.optimize.objectives import OBJECTIVES, Objective, TrialMetrics
from neural_trader.optimize.records import FoldResult, OptimizationResult, Trial
from neural_trader.optimize.search import METHODS
from neural_trader.optimize.space import Dimension, ParameterSpace
from neural_trader.optimize.walkforward import OptimizeSettings, optimize

__all__ = [
    "METHODS",
    "OBJECTIVES",
    "Dimension",
    "Evaluator",
    "Executor",
    "Fold",
    "FoldResult",
    "KernelEvaluator",
    "Objective",
    "OptimizationResult",
    "OptimizeSettings",
    "ParameterSpace",
    "ProcessExecutor",
    "SerialExecutor",
    "Trial",
    "TrialMetrics",
    "Window",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "local_executor",
    "make_evaluator",
    "optimize",
    "probabilistic_sharpe_ratio",
    "return_moments",
    "single_window",
    "walk_forward",
]
