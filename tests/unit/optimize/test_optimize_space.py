"""Parameter ranges: parsed exactly, validated against the strategy's schema, errors that name
the parameter, and combinations the strategy refuses reported rather than raised."""

from __future__ import annotations

import itertools

import pytest

from neural_trader.errors import ConfigError, StrategyError
from neural_trader.optimize import ParameterSpace
from neural_trader.optimize.folds import single_window, walk_forward
from neural_trader.strategies import MeanReversion, SmaCross


def test_int_range_is_inclusive_and_grid_order_is_last_fastest() -> None:
    space = ParameterSpace.from_specs(SmaCross, ["fast=5:50:5", "slow=20:200:10"])
    assert space.dimensions[0].values == tuple(range(5, 51, 5))
    assert space.dimensions[1].values == tuple(range(20, 201, 10))
    assert space.size == 10 * 19
    grid = list(space.grid())
    assert grid[:2] == [{"fast": 5, "slow": 20}, {"fast": 5, "slow": 30}]
    assert grid[-1] == {"fast": 50, "slow": 200}
    assert len({tuple(p.values()) for p in grid}) == space.size


def test_float_range_steps_exactly_and_choices_are_coerced_by_the_schema() -> None:
    space = ParameterSpace.from_specs(
        MeanReversion, ["num_std=0.5:2.0:0.25", "use_rsi=true,false", "period=10,20"]
    )
    assert space.dimensions[0].values == (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
    assert space.dimensions[0].kind == "float"
    assert space.dimensions[1].values == (True, False)
    assert space.dimensions[2].values == (10, 20)
    assert space.dimensions[2].kind == "choice"
    # a stop that the step does not reach is not passed
    assert ParameterSpace.from_specs(SmaCross, ["fast=1:10:4"]).dimensions[0].values == (1, 5, 9)


@pytest.mark.parametrize(
    ("spec", "error", "needle"),
    [
        (["fat=1:5:1"], StrategyError, "'fat': unknown parameter"),
        (["fast=0:5:1"], StrategyError, "'fast': Input should be greater than or equal to 1"),
        (["fast=1.5:3:0.5"], StrategyError, "'fast'"),
        (["fast=a,b"], StrategyError, "'fast'"),
        (["fast=5:1:1"], ConfigError, "fast: need start <= stop and step > 0"),
        (["fast=1:5"], ConfigError, "fast: a range is start:stop:step"),
        (["fast=1:x:1"], ConfigError, "fast: range bounds must be numbers"),
        (["fast"], ConfigError, "name=start:stop:step"),
        (["fast=1,2", "fast=3"], ConfigError, "fast given more than once"),
        (["fast=1:1000000:1"], ConfigError, "more than"),
    ],
)
def test_bad_specs_fail_naming_the_parameter(
    spec: list[str], error: type[Exception], needle: str
) -> None:
    with pytest.raises(error, match=needle.replace("(", r"\(")):
        ParameterSpace.from_specs(SmaCross, spec)


def test_refused_combinations_are_reported_not_raised() -> None:
    space = ParameterSpace.from_specs(SmaCross, ["fast=10:30:10", "slow=10:30:10"])
    notes = {tuple(p.values()): space.check(p) for p in space.grid()}
    refused = {k for k, note in notes.items() if note is not None}
    assert refused == {(f, s) for f in (10, 20, 30) for s in (10, 20, 30) if f >= s}
    assert "must exceed 'fast'" in (notes[(30, 10)] or "")


def test_random_sample_is_distinct_seeded_and_inside_the_grid() -> None:
    space = ParameterSpace.from_specs(SmaCross, ["fast=5:50:5", "slow=20:200:10"])
    a = space.sample(40, seed=3)
    assert a == space.sample(40, seed=3)
    assert a != space.sample(40, seed=4)
    keys = [tuple(p.values()) for p in a]
    assert len(set(keys)) == 40
    assert set(keys) <= {tuple(p.values()) for p in space.grid()}
    assert len(space.sample(10_000, seed=0)) == space.size


@pytest.mark.parametrize("anchored", [False, True])
def test_walk_forward_windows_tile_the_tail_without_overlap(anchored: bool) -> None:
    folds = walk_forward(1000, 4, anchored=anchored, in_sample_ratio=3.0)
    oos_len = 1000 // 7
    assert [len(f.out_of_sample) for f in folds if f.out_of_sample] == [oos_len] * 4
    assert folds[-1].out_of_sample is not None and folds[-1].out_of_sample.hi == 1000
    for f, nxt in itertools.pairwise(folds):
        assert f.out_of_sample is not None and nxt.out_of_sample is not None
        assert f.out_of_sample.hi == nxt.out_of_sample.lo
    for f in folds:
        assert f.out_of_sample is not None and f.in_sample.hi == f.out_of_sample.lo
        if anchored:
            assert f.in_sample.lo == 0
        else:
            assert len(f.in_sample) == 1000 - 4 * oos_len
    lengths = [len(f.in_sample) for f in folds]
    assert lengths == sorted(lengths) and (lengths[0] < lengths[-1]) == anchored


def test_too_few_bars_for_the_folds_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="too few"):
        walk_forward(20, 10)
    with pytest.raises(ConfigError, match="at least 1 fold"):
        walk_forward(1000, 0)
    assert single_window(10)[0].in_sample.hi == 10
