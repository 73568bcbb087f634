"""Walk-forward optimisation end to end, checked against direct kernel backtests.

Each fold's choice is recomputed independently (``run_backtest`` on every valid combination
of the in-sample slice, best Sharpe), its out-of-sample figure likewise, and the stitched
result against the product of the folds' out-of-sample returns.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from neural_trader.core.market_data import BarSeries
from neural_trader.optimize import (
    KernelEvaluator,
    Objective,
    OptimizeSettings,
    ParameterSpace,
    ProcessExecutor,
    optimize,
)
from neural_trader.optimize.evaluators import window_series
from neural_trader.optimize.fast_sma import SmaCrossFast
from neural_trader.optimize.folds import Window
from neural_trader.optimize.objectives import CAPPED, INVALID, OK
from neural_trader.strategies import SmaCross
from neural_trader.trading.backtest import run_backtest

SPECS = ["fast=5:25:5", "slow=20:60:20"]


@pytest.fixture(scope="module")
def space() -> ParameterSpace:
    return ParameterSpace.from_specs(SmaCross, SPECS)


def kernel_sharpe(series: BarSeries, window: Window, params: dict) -> float:
    return run_backtest(SmaCross(**params), [window_series(series, window)]).summary.sharpe


def test_each_fold_chooses_the_in_sample_best_and_reports_it_out_of_sample(
    spx: BarSeries, space: ParameterSpace
) -> None:
    with ProcessExecutor(2) as pool:
        res = optimize(space, SmaCrossFast(spx), OptimizeSettings(folds=3), pool)
    assert len(res.folds) == 3 and len(res.trials) == 3 * space.size
    for f in res.folds:
        valid = [p for p in space.grid() if p["fast"] < p["slow"]]
        assert f.invalid == space.size - len(valid) == 2
        scores = {tuple(p.values()): kernel_sharpe(spx, f.fold.in_sample, p) for p in valid}
        best = max(scores, key=lambda k: scores[k])
        assert f.best is not None and tuple(f.best.params.values()) == best
        assert f.best.value == pytest.approx(scores[best], rel=1e-9)
        assert f.fold.out_of_sample is not None
        oos = kernel_sharpe(spx, f.fold.out_of_sample, f.best.params)
        assert f.oos_value == pytest.approx(oos, rel=1e-9, nan_ok=True)
        assert 0 <= f.deflated_sharpe <= f.probabilistic_sharpe <= 1  # SR0 >= 0 only deflates
    returns = [f.oos.total_return for f in res.folds if f.oos is not None]
    assert res.stitched is not None
    assert res.stitched.total_return == pytest.approx(np.prod(np.add(returns, 1)) - 1, rel=1e-12)
    assert res.stitched.bars == sum(len(f.fold.out_of_sample or ()) for f in res.folds)


def test_fast_and_kernel_evaluators_give_the_same_optimisation(
    spx: BarSeries, space: ParameterSpace
) -> None:
    settings = OptimizeSettings(folds=2, anchored=True)
    fast = optimize(space, SmaCrossFast(spx), settings)
    kernel = optimize(space, KernelEvaluator(SmaCross, spx), settings)
    assert [t.status for t in fast.trials] == [t.status for t in kernel.trials]
    assert [f.best.params for f in fast.folds if f.best] == [
        f.best.params for f in kernel.folds if f.best
    ]
    for a, b in zip(fast.trials, kernel.trials, strict=True):
        assert a.value == pytest.approx(b.value, rel=1e-9, nan_ok=True)
    assert fast.stitched is not None and kernel.stitched is not None
    assert fast.stitched.final_equity == kernel.stitched.final_equity


def test_drawdown_cap_excludes_trials_and_the_choice_respects_it(spx: BarSeries) -> None:
    """On SPX 1999-2018 the best total return (fast 50, slow 200) falls 20.1 %: a 20 % cap
    hands the choice to the runner-up that falls less."""
    space = ParameterSpace.from_specs(SmaCross, ["fast=5:50:15", "slow=20:200:60"])
    free = optimize(space, SmaCrossFast(spx), OptimizeSettings(objective=Objective("total_return")))
    capped = Objective("total_return", max_drawdown=0.20)
    res = optimize(space, SmaCrossFast(spx), OptimizeSettings(objective=capped))
    assert {t.status for t in res.trials} == {OK, CAPPED, INVALID}
    for t in res.trials:
        if t.status in (OK, CAPPED):
            assert t.metrics is not None
            assert (t.metrics.max_drawdown >= -0.20) == (t.status == OK)
    best, unconstrained = res.folds[0].best, free.folds[0].best
    assert best is not None and unconstrained is not None
    assert unconstrained.params == {"fast": 50, "slow": 200}
    assert unconstrained.metrics is not None and unconstrained.metrics.max_drawdown < -0.20
    assert best.params != unconstrained.params
    assert best.value == max(t.value for t in res.trials if t.status == OK)


def test_random_search_tries_the_same_candidates_on_every_fold(
    spx: BarSeries, space: ParameterSpace
) -> None:
    settings = OptimizeSettings(method="random", trials=6, folds=2, seed=4)
    res = optimize(space, SmaCrossFast(spx), settings)
    by_fold = [[t.params for t in res.trials if t.fold == i] for i in (0, 1)]
    assert by_fold[0] == by_fold[1] == space.sample(6, seed=4)
    assert sum(f.invalid for f in res.folds) == 2 * sum(p["fast"] >= p["slow"] for p in by_fold[0])


def test_bayes_is_reproducible_and_beats_the_grid_median(spx: BarSeries) -> None:
    space = ParameterSpace.from_specs(SmaCross, ["fast=5:50:5", "slow=20:200:10"])
    window_settings = OptimizeSettings(method="bayes", trials=40, seed=1)
    a = optimize(space, SmaCrossFast(spx), window_settings)
    b = optimize(space, SmaCrossFast(spx), window_settings)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    assert len(a.trials) == 40
    grid = optimize(space, SmaCrossFast(spx), OptimizeSettings())
    grid_values = [t.value for t in grid.trials if t.status == OK]
    best = a.folds[0].best
    assert best is not None
    assert np.median(grid_values) < best.value <= max(grid_values)
    assert a.folds[0].invalid == sum(t.status == INVALID for t in a.trials)


def test_progress_runs_to_the_total(spx: BarSeries, space: ParameterSpace) -> None:
    calls: list[tuple[int, int]] = []
    optimize(
        space,
        SmaCrossFast(spx),
        OptimizeSettings(folds=2),
        progress=lambda d, t: calls.append((d, t)),
    )
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert calls[-1][0] == calls[-1][1] == 2 * (space.size + 2)


def test_single_trial_fold_has_no_selection_to_deflate(spx: BarSeries) -> None:
    space = ParameterSpace.from_specs(SmaCross, ["fast=10", "slow=30"])
    res = optimize(space, SmaCrossFast(spx), OptimizeSettings())
    f = res.folds[0]
    assert f.evaluated == 1 and math.isnan(f.trial_sharpe_variance)
    assert f.deflated_sharpe == pytest.approx(f.probabilistic_sharpe)
    assert res.stitched is None and res.folds[0].oos is None
