"""Searching one window: grid, random or Bayesian (Optuna's TPE), all through the executor.

Each search proposes parameter sets, skips (and records) the ones the strategy refuses, sends
the rest to the executor in chunks, and turns the figures into :class:`Trial` records.

* **grid** tries every combination;
* **random** tries ``trials`` distinct combinations drawn with ``seed`` (the same draw on every
  fold, so folds are compared on the same candidates);
* **bayes** asks TPE (seeded with ``seed + fold``) for ``batch`` proposals at a time, runs them
  in parallel and tells it the results; stepped ranges are given to TPE as ordinal integers so
  it can use their order, and refused or excluded proposals are told as pruned, which TPE
  ranks below every completed trial. With the same seed and batch the proposals repeat exactly.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from neural_trader.errors import ConfigError
from neural_trader.optimize.evaluators import Evaluator
from neural_trader.optimize.executor import Executor
from neural_trader.optimize.folds import Window
from neural_trader.optimize.objectives import INVALID, OK, Objective, TrialMetrics
from neural_trader.optimize.records import Params, Trial
from neural_trader.optimize.space import ParameterSpace

METHODS = ("grid", "random", "bayes")
REPEAT = "repeat"
CHUNKS_PER_WORKER = 4  # enough chunks to balance the load and move the progress bar


class ChunkRunner:
    """The function the executor maps: a chunk of parameter sets on one window."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator

    def __call__(self, task: tuple[Window, tuple[Params, ...]]) -> list[TrialMetrics]:
        window, params = task
        return self.evaluator.metrics(window, params)


@dataclass
class WindowRun:
    """Evaluates parameter sets on one window; ``advance(n)`` reports n more done."""

    runner: ChunkRunner
    executor: Executor
    window: Window
    advance: Callable[[int], None]

    def evaluate(self, params: Sequence[Params]) -> list[TrialMetrics]:
        """The figures of each parameter set, in order, computed in parallel chunks."""
        if not params:
            return []
        n_chunks = min(len(params), max(1, self.executor.workers * CHUNKS_PER_WORKER))
        size = math.ceil(len(params) / n_chunks)
        tasks = [(self.window, tuple(params[i : i + size])) for i in range(0, len(params), size)]
        reported = 0

        def progress(done: int, total: int) -> None:  # chunks done -> parameter sets done
            nonlocal reported
            now = round(done * len(params) / total)
            self.advance(now - reported)
            reported = now

        chunks = self.executor.map(self.runner, tasks, progress)
        self.advance(len(params) - reported)
        return [m for chunk in chunks for m in chunk]


def _record(fold: int, number: int, params: Params, m: TrialMetrics, objective: Objective) -> Trial:
    return Trial(fold, number, params, objective.status(m), objective.value(m), m)


def run_candidates(
    candidates: Sequence[Params],
    space: ParameterSpace,
    objective: Objective,
    run: WindowRun,
    fold: int,
) -> list[Trial]:
    """Every candidate: refused ones recorded as invalid, the rest evaluated in one go."""
    notes = [space.check(p) for p in candidates]
    valid = [p for p, note in zip(candidates, notes, strict=True) if note is None]
    run.advance(len(candidates) - len(valid))
    metrics = iter(run.evaluate(valid))
    out = []
    for i, (p, note) in enumerate(zip(candidates, notes, strict=True)):
        if note is not None:
            out.append(Trial(fold, i, p, INVALID, math.nan, None, note))
        else:
            out.append(_record(fold, i, p, next(metrics), objective))
    return out


def _key(params: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(params.values())


def _tpe_study(space: ParameterSpace, seed: int) -> tuple[Any, dict[str, Any]]:
    """A maximising Optuna study with a seeded multivariate TPE, and the search space as
    Optuna distributions over value indices (ordinal for ranges, categorical for choices)."""
    import optuna
    from optuna.distributions import CategoricalDistribution, IntDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    dists = {
        d.name: IntDistribution(0, len(d.values) - 1)
        if d.ordered
        else CategoricalDistribution(list(range(len(d.values))))
        for d in space.dimensions
    }
    return study, dists


def bayes(
    space: ParameterSpace,
    objective: Objective,
    run: WindowRun,
    fold: int,
    n_trials: int,
    seed: int,
    batch: int,
) -> list[Trial]:
    """TPE over ``space`` for ``n_trials`` proposals, ``batch`` evaluated at a time."""
    from optuna.trial import TrialState

    study, dists = _tpe_study(space, seed + fold)
    seen: dict[tuple[Any, ...], TrialMetrics] = {}
    first: dict[tuple[Any, ...], Trial] = {}  # the trial that ran each parameter set
    out: list[Trial] = []
    while len(out) < n_trials:
        asked = [study.ask(dists) for _ in range(min(batch, n_trials - len(out)))]
        params = [{d.name: d.values[t.params[d.name]] for d in space.dimensions} for t in asked]
        notes = [space.check(p) for p in params]
        fresh = {_key(p): p for p, note in zip(params, notes, strict=True) if note is None}
        fresh = {key: p for key, p in fresh.items() if key not in seen}
        seen.update(zip(fresh, run.evaluate(list(fresh.values())), strict=True))
        for t, p, note in zip(asked, params, notes, strict=True):
            key = _key(p)
            if note is not None:
                trial = Trial(fold, len(out), p, INVALID, math.nan, None, note)
            elif key in first:
                was = first[key]
                note = f"same as trial {was.number} ({was.status})"
                trial = Trial(fold, len(out), p, REPEAT, was.value, was.metrics, note)
            else:
                trial = first[key] = _record(fold, len(out), p, seen[key], objective)
            if trial.status in (INVALID, REPEAT):
                run.advance(1)  # not evaluated: counted here instead of by run.evaluate
            out.append(trial)
            if key in first and first[key].status == OK:
                study.tell(t, trial.value)
            else:
                study.tell(t, state=TrialState.PRUNED)
    return out


def search(
    method: str,
    space: ParameterSpace,
    objective: Objective,
    run: WindowRun,
    fold: int,
    trials: int | None,
    seed: int,
    batch: int = 8,
) -> list[Trial]:
    """All trials of one fold's in-sample search."""
    if method == "grid":
        return run_candidates(list(space.grid()), space, objective, run, fold)
    if trials is None or trials < 1:
        raise ConfigError(f"--method {method} needs --trials N (N >= 1)")
    if method == "random":
        return run_candidates(space.sample(trials, seed), space, objective, run, fold)
    if method == "bayes":
        return bayes(space, objective, run, fold, trials, seed, batch)
    raise ConfigError(f"unknown --method {method!r}; choose one of {', '.join(METHODS)}")
