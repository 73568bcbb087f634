"""Walk-forward folds: in-sample windows to choose parameters on, out-of-sample ones to test.

With ``k`` folds and an in-sample/out-of-sample length ratio ``q``, the out-of-sample windows
are ``k`` consecutive blocks of ``L = n // (q + k)`` bars at the end of the series, so that
together they tile it without a gap or an overlap and can be stitched into one curve. Each
fold's in-sample window ends where its out-of-sample window begins:

* **rolling**: the in-sample window has a fixed length (``n - k·L`` bars, ≈ ``q·L``) and slides
  forward by ``L`` each fold, so old regimes drop out;
* **anchored**: it always starts at the first bar and grows by ``L`` each fold.

Windows are half-open bar ranges ``[lo, hi)``. Every window is backtested on its own, flat and
with the starting cash, so a strategy warms its indicators up inside the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from neural_trader.errors import ConfigError

MIN_WINDOW_BARS = 3  # two returns: the fewest a Sharpe ratio needs


@dataclass(frozen=True)
class Window:
    """Bars ``lo`` (inclusive) to ``hi`` (exclusive) of the series."""

    lo: int
    hi: int

    def __len__(self) -> int:
        return self.hi - self.lo


@dataclass(frozen=True)
class Fold:
    """Fold ``index``: choose on ``in_sample``, test on ``out_of_sample`` (None without one)."""

    index: int
    in_sample: Window
    out_of_sample: Window | None


def single_window(n_bars: int) -> list[Fold]:
    """No walk-forward: one in-sample window over everything."""
    if n_bars < MIN_WINDOW_BARS:
        raise ConfigError(f"need at least {MIN_WINDOW_BARS} bars to optimise, got {n_bars}")
    return [Fold(0, Window(0, n_bars), None)]


def walk_forward(
    n_bars: int, folds: int, anchored: bool = False, in_sample_ratio: float = 3.0
) -> list[Fold]:
    """The ``folds`` folds over ``n_bars`` bars (see the module doc for the layout)."""
    if folds < 1:
        raise ConfigError(f"--walk-forward needs at least 1 fold, got {folds}")
    if not (math.isfinite(in_sample_ratio) and in_sample_ratio > 0):
        raise ConfigError(f"--in-sample-ratio must be > 0, got {in_sample_ratio}")
    oos = int(n_bars // (in_sample_ratio + folds))
    first_is = n_bars - folds * oos
    if oos < MIN_WINDOW_BARS or first_is < MIN_WINDOW_BARS:
        raise ConfigError(
            f"{n_bars} bars are too few for {folds} walk-forward folds at in-sample ratio "
            f"{in_sample_ratio:g}: each window needs at least {MIN_WINDOW_BARS} bars",
            bars=n_bars,
            folds=folds,
        )
    out = []
    for i in range(folds):
        test_lo = first_is + i * oos
        train_lo = 0 if anchored else i * oos
        out.append(Fold(i, Window(train_lo, test_lo), Window(test_lo, test_lo + oos)))
    return out
