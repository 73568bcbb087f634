"""Prediction intervals with coverage guarantees: split conformal and adaptive conformal (ACI).

Split conformal turns any point forecast into an interval ``ŷ ± r`` whose radius is the
finite-sample ``ceil((n+1)(1-α))/n`` quantile of absolute residuals on a calibration set (the
validation split): with exchangeable data it covers at least ``1-α`` of new points. Markets are
not exchangeable, so ACI (Gibbs & Candès, 2021) also adapts the level online,
``α_{t+1} = α_t + γ(α - err_t)``, which keeps long-run coverage near ``1-α`` under any shift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from neural_trader.errors import NeuralError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise NeuralError(f"alpha must be strictly between 0 and 1, got {alpha}")


def _finite(values: npt.ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        raise NeuralError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        raise NeuralError(f"{name} contains NaN or inf")
    return arr


def conformal_quantile(scores: npt.ArrayLike, alpha: float) -> float:
    """The ``ceil((n+1)(1-α))``-th smallest score, or ``inf`` when that exceeds ``n``."""
    _check_alpha(alpha)
    s = np.sort(_finite(scores, "scores").reshape(-1))
    k = math.ceil((s.size + 1) * (1.0 - alpha))
    return math.inf if k > s.size else float(s[k - 1])


@dataclass(frozen=True)
class SplitConformal:
    """Symmetric interval radius per column (e.g. per horizon) at miscoverage ``alpha``."""

    alpha: float
    radius: FloatArray
    n_calibration: int

    def interval(self, predictions: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Lower and upper bounds ``prediction ∓ radius`` (radius broadcast over the last axis)."""
        pred = np.asarray(predictions, dtype=np.float64)
        if pred.ndim == 0 or pred.shape[-1] != self.radius.shape[0]:
            raise NeuralError(
                f"predictions need {self.radius.shape[0]} columns, got shape {pred.shape}"
            )
        return pred - self.radius, pred + self.radius


def fit_split_conformal(
    calibration_predictions: npt.ArrayLike, calibration_targets: npt.ArrayLike, alpha: float
) -> SplitConformal:
    """Calibrate on absolute residuals; 1-D inputs give one radius, (N, H) one per column."""
    _check_alpha(alpha)
    pred = _finite(calibration_predictions, "calibration predictions")
    truth = _finite(calibration_targets, "calibration targets")
    if pred.shape != truth.shape or pred.ndim not in (1, 2):
        raise NeuralError(
            f"calibration predictions {pred.shape} and targets {truth.shape} must match, 1-D or 2-D"
        )
    scores = np.abs(truth - pred).reshape(pred.shape[0], -1)
    radius = np.array([conformal_quantile(scores[:, j], alpha) for j in range(scores.shape[1])])
    return SplitConformal(alpha=alpha, radius=radius, n_calibration=int(pred.shape[0]))


def empirical_coverage(targets: npt.ArrayLike, lower: npt.ArrayLike, upper: npt.ArrayLike) -> float:
    """Share of targets with ``lower <= target <= upper`` (over all elements)."""
    y = _finite(targets, "targets")
    lo, hi = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    if lo.shape != y.shape or hi.shape != y.shape:
        raise NeuralError(f"bounds {lo.shape}/{hi.shape} must match targets {y.shape}")
    return float(np.mean((lo <= y) & (y <= hi)))


@dataclass(frozen=True)
class AdaptiveConformalResult:
    """ACI's intervals, the level ``α_t`` used at each step and whether each step missed."""

    lower: FloatArray
    upper: FloatArray
    alphas: FloatArray
    errors: BoolArray
    target_alpha: float
    gamma: float

    @property
    def coverage(self) -> float:
        return float(1.0 - self.errors.mean())

    @property
    def coverage_bound(self) -> float:
        """Gibbs & Candès' deterministic bound on ``|miss rate - α|`` for this run's length."""
        start = float(self.alphas[0])
        return (max(start, 1.0 - self.target_alpha) + self.gamma) / (self.gamma * self.errors.size)


def adaptive_conformal(
    predictions: npt.ArrayLike,
    targets: npt.ArrayLike,
    calibration_scores: npt.ArrayLike,
    alpha: float,
    gamma: float = 0.005,
    window: int | None = None,
) -> AdaptiveConformalResult:
    """Run ACI over a 1-D forecast series in time order.

    At step ``t`` the radius is the conformal ``1-α_t`` quantile of the score memory (the
    calibration scores followed by each observed ``|y - ŷ|``, the last ``window`` of them when
    ``window`` is given); ``α_t <= 0`` gives an infinite interval and ``α_t >= 1`` an empty one,
    as in the paper. Then ``α_{t+1} = α_t + γ(α - err_t)``.
    """
    _check_alpha(alpha)
    if not gamma > 0:
        raise NeuralError(f"gamma must be positive, got {gamma}")
    if window is not None and window < 1:
        raise NeuralError(f"window must be at least 1, got {window}")
    pred = _finite(predictions, "predictions").reshape(-1)
    truth = _finite(targets, "targets").reshape(-1)
    if pred.shape != truth.shape:
        raise NeuralError(f"{pred.size} predictions but {truth.size} targets")
    memory = list(_finite(calibration_scores, "calibration scores").reshape(-1))
    n = pred.size
    lower, upper, alphas = np.empty(n), np.empty(n), np.empty(n)
    errors = np.zeros(n, dtype=bool)
    alpha_t = alpha
    for t in range(n):
        scores = memory[-window:] if window is not None else memory
        if alpha_t >= 1.0:
            lower[t], upper[t] = math.nan, math.nan  # the empty set: always a miss
            errors[t] = True
        else:
            radius = math.inf if alpha_t <= 0.0 else conformal_quantile(scores, alpha_t)
            lower[t], upper[t] = pred[t] - radius, pred[t] + radius
            errors[t] = not lower[t] <= truth[t] <= upper[t]
        alphas[t] = alpha_t
        alpha_t += gamma * (alpha - float(errors[t]))
        memory.append(abs(truth[t] - pred[t]))
    return AdaptiveConformalResult(lower, upper, alphas, errors, alpha, gamma)


__all__ = [
    "AdaptiveConformalResult",
    "SplitConformal",
    "adaptive_conformal",
    "conformal_quantile",
    "empirical_coverage",
    "fit_split_conformal",
]
