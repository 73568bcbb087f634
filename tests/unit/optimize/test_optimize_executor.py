"""The executors: results in item order, work really done in other processes, progress that
ends at (n, n), errors that reach the caller, and a pool reused for the same function."""

from __future__ import annotations

import os

import pytest

from neural_trader.core.market_data import BarSeries
from neural_trader.optimize import ProcessExecutor, SerialExecutor
from neural_trader.optimize.fast_sma import SmaCrossFast
from neural_trader.optimize.folds import Window
from neural_trader.optimize.search import ChunkRunner


def square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three")
    return x


def test_process_pool_keeps_order_and_runs_elsewhere() -> None:
    seen: list[tuple[int, int]] = []
    with ProcessExecutor(2) as pool:
        out = pool.map(square_and_pid, list(range(20)), lambda d, t: seen.append((d, t)))
        again = pool.map(square_and_pid, [5])
    assert [v for v, _ in out] == [x * x for x in range(20)]
    assert os.getpid() not in {pid for _, pid in out}
    assert again[0][1] in {pid for _, pid in out}  # the same workers served the second map
    assert seen[-1] == (20, 20)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_errors_in_workers_reach_the_caller() -> None:
    with ProcessExecutor(2) as pool, pytest.raises(ValueError, match="three"):
        pool.map(fail_on_three, [1, 2, 3, 4])


def test_parallel_evaluation_equals_serial(spx: BarSeries) -> None:
    runner = ChunkRunner(SmaCrossFast(spx))
    window = Window(0, len(spx))
    tasks = [(window, ({"fast": f, "slow": s},)) for f in (5, 10) for s in (20, 50, 100)]
    with ProcessExecutor(2) as pool:
        parallel = pool.map(runner, tasks)
    assert parallel == SerialExecutor().map(runner, tasks)
