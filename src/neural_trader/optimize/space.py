"""A strategy's parameter space, from the user's ranges, checked against its parameter schema.

A dimension is written ``name=start:stop:step`` (inclusive; integers when all three are
integers, else decimals stepped exactly, so ``0.5:2.0:0.25`` gives 0.5, 0.75, …, 2.0 and no
0.7500000001), ``name=a,b,c`` (choices) or ``name=value`` (fixed). Every value is validated by
the strategy's own ``params_model`` when the space is built, so a bad range fails at once with
a :class:`StrategyError` naming the parameter, not halfway through a sweep. Combinations the
strategy refuses as a whole (``check_params``, e.g. sma_cross's ``fast >= slow``) are not
errors: :meth:`ParameterSpace.check` reports them so the search can skip and count them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
from pydantic import ValidationError

from neural_trader.errors import ConfigError, StrategyError
from neural_trader.strategies.base import Strategy

MAX_VALUES = 100_000  # per dimension
Params = dict[str, Any]


@dataclass(frozen=True)
class Dimension:
    """One swept parameter: its name, its values in order, and how it was written."""

    name: str
    values: tuple[Any, ...]
    kind: str  # "int", "float" (a stepped range) or "choice"
    spec: str

    @property
    def ordered(self) -> bool:
        """A stepped range: neighbouring values are neighbours (a search may use the order)."""
        return self.kind != "choice"


def split_param(text: str) -> tuple[str, str]:
    """``"fast=5:50:5"`` -> ``("fast", "5:50:5")``; ConfigError if it is not name=spec."""
    name, sep, spec = text.partition("=")
    if not sep or not name.strip() or not spec.strip():
        raise ConfigError(f"--param must look like name=start:stop:step or name=a,b,c: {text!r}")
    return name.strip(), spec.strip()


def _range_values(name: str, spec: str) -> tuple[list[Any], str]:
    parts = [p.strip() for p in spec.split(":")]
    if len(parts) != 3 or not all(parts):
        raise ConfigError(f"--param {name}: a range is start:stop:step, got {spec!r}")
    try:
        start, stop, step = (Decimal(p) for p in parts)
    except InvalidOperation:
        raise ConfigError(f"--param {name}: range bounds must be numbers, got {spec!r}") from None
    if not all(x.is_finite() for x in (start, stop, step)) or step <= 0 or stop < start:
        raise ConfigError(f"--param {name}: need start <= stop and step > 0, got {spec!r}")
    count = int((stop - start) / step) + 1
    if count > MAX_VALUES:
        raise ConfigError(f"--param {name}: {count:,} values, more than {MAX_VALUES:,}")
    if all(p.lstrip("+-").isdigit() for p in parts):  # written as integers: an int range
        return [int(start + i * step) for i in range(count)], "int"
    return [float(start + i * step) for i in range(count)], "float"


def _check_name(strategy: type[Strategy], name: str) -> None:
    """StrategyError unless ``name`` is one of the strategy's parameters."""
    if name not in strategy.params_model.model_fields:
        label = strategy.name or strategy.__name__
        known = ", ".join(strategy.params_model.model_fields) or "none"
        raise StrategyError(
            f"{label}: parameter {name!r}: unknown parameter (known: {known})",
            strategy=label,
            parameter=name,
        )


def _validated(strategy: type[Strategy], name: str, value: Any) -> Any:
    """``value`` as the strategy's schema coerces it; StrategyError naming ``name`` if not."""
    label = strategy.name or strategy.__name__
    try:
        return strategy.params_model(**{name: value}).model_dump()[name]
    except ValidationError as exc:
        first = exc.errors()[0]
        raise StrategyError(
            f"{label}: parameter {name!r}: {first['msg']} (got {value!r})",
            strategy=label,
            parameter=name,
        ) from None


def parse_dimension(strategy: type[Strategy], name: str, spec: str) -> Dimension:
    """One dimension from its text, each value validated against ``strategy``'s schema."""
    _check_name(strategy, name)
    if ":" in spec:
        raw, kind = _range_values(name, spec)
    else:
        raw = [v.strip() for v in spec.split(",")]
        if not all(raw):
            raise ConfigError(f"--param {name}: empty choice in {spec!r}")
        kind = "choice"
    values: list[Any] = []
    for v in raw:
        coerced = _validated(strategy, name, v)
        if coerced not in values:
            values.append(coerced)
    return Dimension(name, tuple(values), kind, spec)


class ParameterSpace:
    """The cartesian product of the dimensions; the strategy's defaults fill the rest."""

    def __init__(self, strategy: type[Strategy], dimensions: Sequence[Dimension]) -> None:
        names = [d.name for d in dimensions]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise ConfigError(f"--param {dup} given more than once")
        if not dimensions:
            raise ConfigError("give at least one --param to optimise over")
        self.strategy = strategy
        self.dimensions = tuple(dimensions)
        self.size = math.prod(len(d.values) for d in dimensions)

    @classmethod
    def from_specs(cls, strategy: type[Strategy], specs: Sequence[str]) -> ParameterSpace:
        """From ``--param`` texts such as ``["fast=5:50:5", "slow=20:200:10"]``."""
        dims = []
        for text in specs:
            name, spec = split_param(text)
            dims.append(parse_dimension(strategy, name, spec))
        return cls(strategy, dims)

    @property
    def names(self) -> list[str]:
        """The swept parameters, in the order given."""
        return [d.name for d in self.dimensions]

    def at(self, index: int) -> Params:
        """The ``index``-th combination in grid order (the last dimension varies fastest)."""
        out: Params = {}
        for dim in reversed(self.dimensions):
            index, i = divmod(index, len(dim.values))
            out[dim.name] = dim.values[i]
        return {name: out[name] for name in self.names}

    def grid(self) -> Iterator[Params]:
        """Every combination, lazily, in grid order."""
        return (self.at(i) for i in range(self.size))

    def sample(self, n: int, seed: int) -> list[Params]:
        """``n`` distinct combinations drawn uniformly (all of them, shuffled, if n >= size)."""
        rng = np.random.default_rng(seed)
        picks = rng.choice(self.size, size=min(n, self.size), replace=False)
        return [self.at(int(i)) for i in picks]

    def check(self, params: Mapping[str, Any]) -> str | None:
        """None if the strategy accepts ``params`` as a whole, else its reason for refusing."""
        try:
            self.strategy.from_params(params)
        except StrategyError as exc:
            return exc.message
        return None
