"""Causal OHLCV features, multi-horizon targets, windows and a leak-free time split.

Every feature at row ``t`` is computed from bars ``<= t`` only, and a window ending at ``t``
holds feature rows ``t - window + 1 .. t``; so nothing after ``t`` can change it. Targets are
the cumulative log returns from the close at ``t`` to the close at ``t + h``. The split keeps a
gap of ``window + max(horizons)`` rows between train, validation and test window ends, so no
sample's inputs or targets overlap another split's, and the normaliser sees train rows only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from neural_trader.core.market_data import BarSeries
from neural_trader.errors import NeuralError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

FEATURE_NAMES: tuple[str, ...] = (
    "log_return",
    "high_low_range",
    "close_open",
    "log_volume_change",
    "rolling_vol",
)
DEFAULT_HORIZONS: tuple[int, ...] = (1, 5)


@dataclass(frozen=True)
class FeatureSet:
    """Feature rows (warm-up dropped, all finite) and their targets, aligned by row."""

    symbol: str
    names: tuple[str, ...]
    horizons: tuple[int, ...]
    ts: IntArray
    features: FloatArray
    targets: FloatArray

    def __len__(self) -> int:
        return int(self.ts.shape[0])


def _check_horizons(horizons: Sequence[int]) -> tuple[int, ...]:
    result = tuple(int(h) for h in horizons)
    if not result or any(h < 1 for h in result) or list(result) != sorted(set(result)):
        raise NeuralError(
            f"horizons must be distinct positive integers in increasing order, got {horizons!r}"
        )
    return result


def _rolling_std(values: FloatArray, length: int) -> FloatArray:
    """Sample std of ``values[t - length + 1 .. t]``; NaN until ``length`` values exist."""
    out = np.full(values.shape[0], np.nan)
    if values.shape[0] >= length:
        view = np.lib.stride_tricks.sliding_window_view(values, length)
        out[length - 1 :] = view.std(axis=1, ddof=1)
    return out


def ohlcv_features(series: BarSeries, vol_window: int = 20) -> FloatArray:
    """Raw feature matrix (T, F) in :data:`FEATURE_NAMES` order; warm-up rows hold NaN.

    Volumes go through ``log1p`` so a zero-volume bar (an index with no reported volume)
    gives a finite change instead of ``-inf``.
    """
    if vol_window < 2:
        raise NeuralError(f"vol_window must be at least 2, got {vol_window}")
    close = np.asarray(series.close, dtype=np.float64)
    log_close = np.log(close)
    log_ret = np.full(close.shape[0], np.nan)
    log_ret[1:] = np.diff(log_close)
    log_vol = np.log1p(np.asarray(series.volume, dtype=np.float64))
    vol_change = np.full(close.shape[0], np.nan)
    vol_change[1:] = np.diff(log_vol)
    # rolling vol of returns 1..t; row 0 has no return, so it starts one row later
    rolling = np.full(close.shape[0], np.nan)
    rolling[1:] = _rolling_std(log_ret[1:], vol_window)
    columns = (
        log_ret,
        np.log(np.asarray(series.high) / np.asarray(series.low)),
        np.log(close / np.asarray(series.open)),
        vol_change,
        rolling,
    )
    return np.column_stack(columns).astype(np.float64)


def future_log_returns(close: FloatArray, horizons: Sequence[int]) -> FloatArray:
    """Targets (T, H): ``log(close[t + h] / close[t])``, NaN where ``t + h`` is past the end."""
    hs = _check_horizons(horizons)
    log_close = np.log(np.asarray(close, dtype=np.float64))
    out = np.full((log_close.shape[0], len(hs)), np.nan)
    for j, h in enumerate(hs):
        if h < log_close.shape[0]:
            out[:-h, j] = log_close[h:] - log_close[:-h]
    return out


def build_features(
    series: BarSeries, horizons: Sequence[int] = DEFAULT_HORIZONS, vol_window: int = 20
) -> FeatureSet:
    """Features and targets for ``series`` with the warm-up rows (NaN features) dropped."""
    hs = _check_horizons(horizons)
    warmup = vol_window  # rolling vol is first defined at row vol_window
    if len(series) <= warmup + max(hs):
        raise NeuralError(
            f"series of {len(series)} bars is too short: features need {warmup} warm-up "
            f"bars and targets {max(hs)} more",
            symbol=series.symbol,
        )
    raw = ohlcv_features(series, vol_window)
    targets = future_log_returns(series.close, hs)
    features = raw[warmup:]
    if not np.all(np.isfinite(features)):
        bad = int(np.argwhere(~np.isfinite(features))[0][0]) + warmup
        raise NeuralError(
            f"non-finite feature at row {bad}; check the bars for zero or negative prices",
            symbol=series.symbol,
        )
    return FeatureSet(
        symbol=series.symbol,
        names=FEATURE_NAMES,
        horizons=hs,
        ts=np.asarray(series.ts[warmup:], dtype=np.int64),
        features=features,
        targets=targets[warmup:],
    )


def make_windows(features: npt.ArrayLike, window: int) -> npt.NDArray[np.float32]:
    """All windows (T - window + 1, window, F) as float32; window ``i`` ends at row ``i+window-1``.

    Raises :class:`NeuralError` for a non-2-D input, NaN/inf values, or fewer rows than
    ``window``.
    """
    arr = np.asarray(features, dtype=np.float64)
    if arr.ndim != 2:
        raise NeuralError(f"features must be 2-D (time, features), got shape {arr.shape}")
    if window < 1:
        raise NeuralError(f"window must be at least 1, got {window}")
    if arr.shape[0] < window:
        raise NeuralError(
            f"series of {arr.shape[0]} rows is too short for a window of {window}",
            rows=arr.shape[0],
            window=window,
        )
    if not np.all(np.isfinite(arr)):
        row, col = (int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise NeuralError(f"features contain NaN or inf (first at row {row}, column {col})")
    view = np.lib.stride_tricks.sliding_window_view(arr, window, axis=0)  # (N, F, window)
    return np.ascontiguousarray(view.transpose(0, 2, 1)).astype(np.float32)


@dataclass(frozen=True)
class Normaliser:
    """Per-feature mean and std fitted on the training rows, applied to every split."""

    mean: FloatArray
    std: FloatArray

    @classmethod
    def fit(cls, features: npt.ArrayLike) -> Normaliser:
        """Fit on rows (T, F); a constant feature gets std 1 so it maps to zero, not NaN."""
        arr = np.asarray(features, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[0] < 2:
            raise NeuralError(f"normaliser needs at least 2 rows of 2-D features, got {arr.shape}")
        mean = arr.mean(axis=0)
        std = arr.std(axis=0)
        return cls(mean=mean, std=np.where(std > 0, std, 1.0))

    def transform(self, values: npt.ArrayLike) -> FloatArray:
        """``(values - mean) / std`` over the last axis, any leading shape."""
        arr = np.asarray(values, dtype=np.float64)
        if arr.shape[-1] != self.mean.shape[0]:
            raise NeuralError(
                f"normaliser fitted on {self.mean.shape[0]} features, got {arr.shape[-1]}"
            )
        return (arr - self.mean) / self.std

    def to_dict(self) -> dict[str, list[float]]:
        """Plain lists, for the model registry's JSON metadata."""
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normaliser:
        mean = np.asarray(data["mean"], dtype=np.float64)
        std = np.asarray(data["std"], dtype=np.float64)
        if mean.shape != std.shape or mean.ndim != 1 or np.any(std <= 0):
            raise NeuralError("normaliser data needs equal-length mean and positive std lists")
        return cls(mean=mean, std=std)


@dataclass(frozen=True)
class WindowedSplit:
    """One split: inputs (N, window, F), targets (N, H) and each window's end time."""

    x: torch.Tensor
    y: torch.Tensor
    end_ts: IntArray
    end_rows: IntArray

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class ForecastDataset:
    """Train, validation and test splits with the normaliser fitted on train only."""

    train: WindowedSplit
    val: WindowedSplit
    test: WindowedSplit
    normaliser: Normaliser
    window: int
    horizons: tuple[int, ...]
    feature_names: tuple[str, ...]
    gap: int


def split_end_rows(
    n_rows: int, window: int, max_horizon: int, fractions: tuple[float, float, float]
) -> tuple[IntArray, IntArray, IntArray]:
    """Window-end rows of train, validation and test, in time order with gaps between them."""
    if len(fractions) != 3 or any(f <= 0 for f in fractions):
        raise NeuralError(f"fractions must be three positive numbers, got {fractions!r}")
    total = float(sum(fractions))
    ends = np.arange(window - 1, n_rows - max_horizon, dtype=np.int64)  # targets all known
    gap = window + max_horizon
    usable = ends.shape[0] - 2 * gap
    n_train = int(usable * fractions[0] / total)
    n_val = int(usable * fractions[1] / total)
    n_test = usable - n_train - n_val
    if min(n_train, n_val, n_test) < 1:
        raise NeuralError(
            f"series of {n_rows} feature rows is too short for window {window}, horizon "
            f"{max_horizon} and three splits separated by gaps of {gap}",
            rows=n_rows,
            window=window,
        )
    train = ends[:n_train]
    val = ends[n_train + gap : n_train + gap + n_val]
    test = ends[n_train + gap + n_val + gap :]
    return train, val, test


def prepare_dataset(
    feature_set: FeatureSet,
    window: int,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
) -> ForecastDataset:
    """Normalised windows split chronologically; the normaliser sees train feature rows only."""
    max_h = max(feature_set.horizons)
    train_rows, val_rows, test_rows = split_end_rows(len(feature_set), window, max_h, fractions)
    normaliser = Normaliser.fit(feature_set.features[: int(train_rows[-1]) + 1])
    windows = make_windows(normaliser.transform(feature_set.features), window)

    def _split(rows: IntArray) -> WindowedSplit:
        return WindowedSplit(
            x=torch.from_numpy(windows[rows - (window - 1)].copy()),
            y=torch.from_numpy(feature_set.targets[rows].astype(np.float32)),
            end_ts=feature_set.ts[rows],
            end_rows=rows,
        )

    return ForecastDataset(
        train=_split(train_rows),
        val=_split(val_rows),
        test=_split(test_rows),
        normaliser=normaliser,
        window=window,
        horizons=feature_set.horizons,
        feature_names=feature_set.names,
        gap=window + max_h,
    )


__all__ = [
    "DEFAULT_HORIZONS",
    "FEATURE_NAMES",
    "FeatureSet",
    "ForecastDataset",
    "Normaliser",
    "WindowedSplit",
    "build_features",
    "future_log_returns",
    "make_windows",
    "ohlcv_features",
    "prepare_dataset",
    "split_end_rows",
]
