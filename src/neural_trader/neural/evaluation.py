"""Does the model beat doing nothing? Median forecasts on the test split against naive baselines.

A return forecaster is only worth its training time if it beats the random walk (forecast
log return 0, i.e. tomorrow's price is today's) and the historical mean (the train split's
average return). Each horizon gets MAE, RMSE and directional accuracy for the model and both
baselines, a yes/no verdict per baseline and metric, and a Diebold–Mariano test of the model's
squared errors against the random walk's.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from neural_trader.errors import NeuralError
from neural_trader.neural.features import ForecastDataset
from neural_trader.neural.models import Forecaster, predict

FloatArray = npt.NDArray[np.float64]

RANDOM_WALK = "random walk"
HISTORICAL_MEAN = "historical mean"


@dataclass(frozen=True)
class ForecastMetrics:
    """Errors of one forecast series; ``directional_accuracy`` is None with no directional call."""

    mae: float
    rmse: float
    directional_accuracy: float | None


@dataclass(frozen=True)
class DieboldMariano:
    """DM statistic (negative: the first forecast has smaller loss) and two-sided p-value."""

    statistic: float
    p_value: float


@dataclass(frozen=True)
class Comparison:
    """Whether the model beats one baseline on one metric at one horizon."""

    baseline: str
    metric: str
    horizon: int
    model_value: float
    baseline_value: float
    beats: bool

    @property
    def text(self) -> str:
        return f"beats {self.baseline} on {self.metric} at h={self.horizon}: " + (
            "yes" if self.beats else "no"
        )


@dataclass(frozen=True)
class EvaluationReport:
    """Per-horizon metrics of the model and baselines, comparisons and DM tests."""

    horizons: tuple[int, ...]
    n_test: int
    model: dict[int, ForecastMetrics]
    baselines: dict[str, dict[int, ForecastMetrics]]
    comparisons: tuple[Comparison, ...]
    diebold_mariano: dict[int, DieboldMariano]

    @property
    def verdict(self) -> list[str]:
        """One plain line per comparison, e.g. ``beats random walk on RMSE at h=1: no``."""
        return [c.text for c in self.comparisons]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (horizon keys become strings)."""
        return {
            "horizons": list(self.horizons),
            "n_test": self.n_test,
            "model": {str(h): asdict(m) for h, m in self.model.items()},
            "baselines": {
                name: {str(h): asdict(m) for h, m in per_h.items()}
                for name, per_h in self.baselines.items()
            },
            "diebold_mariano": {str(h): asdict(d) for h, d in self.diebold_mariano.items()},
            "verdict": self.verdict,
        }


def _as_1d(values: npt.ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise NeuralError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        raise NeuralError(f"{name} contains NaN or inf")
    return arr


def forecast_metrics(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> ForecastMetrics:
    """MAE, RMSE and directional accuracy of ``y_pred`` against ``y_true`` (1-D, same length).

    Directional accuracy is the share of points where the forecast's sign matches the
    outcome's, over points with a non-zero forecast; a forecast that is zero everywhere (the
    random walk) makes no directional call and gets None.
    """
    truth, pred = _as_1d(y_true, "y_true"), _as_1d(y_pred, "y_pred")
    if truth.shape != pred.shape:
        raise NeuralError(f"y_true has {truth.size} values but y_pred has {pred.size}")
    err = truth - pred
    called = pred != 0
    direction = (
        float(np.mean(np.sign(pred[called]) == np.sign(truth[called]))) if called.any() else None
    )
    return ForecastMetrics(
        mae=float(np.mean(np.abs(err))),
        rmse=float(np.sqrt(np.mean(err**2))),
        directional_accuracy=direction,
    )


def diebold_mariano(
    errors_a: npt.ArrayLike, errors_b: npt.ArrayLike, horizon: int = 1, power: int = 2
) -> DieboldMariano:
    """Diebold–Mariano (1995) test of equal accuracy, with Harvey et al. (1997) correction.

    The loss differential ``d = |e_a|^p - |e_b|^p`` has its long-run variance estimated from
    autocovariances up to lag ``horizon - 1`` (h-step forecasts overlap); the statistic is
    compared with Student's t on ``n - 1`` degrees of freedom.
    """
    a, b = _as_1d(errors_a, "errors_a"), _as_1d(errors_b, "errors_b")
    if a.shape != b.shape or a.size < 3:
        raise NeuralError("Diebold–Mariano needs two error series of equal length >= 3")
    if horizon < 1:
        raise NeuralError(f"horizon must be at least 1, got {horizon}")
    d = np.abs(a) ** power - np.abs(b) ** power
    n = d.size
    centred = d - d.mean()
    long_run = float(np.dot(centred, centred) / n)
    for lag in range(1, min(horizon, n)):
        long_run += 2.0 * float(np.dot(centred[lag:], centred[:-lag]) / n)
    if long_run <= 0:
        return DieboldMariano(statistic=0.0, p_value=1.0)
    dm = float(d.mean()) / math.sqrt(long_run / n)
    correction = math.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    statistic = dm * correction
    p_value = float(2.0 * stats.t.sf(abs(statistic), df=n - 1))
    return DieboldMariano(statistic=statistic, p_value=p_value)


def compare_forecasts(
    y_true: npt.ArrayLike,
    model_median: npt.ArrayLike,
    train_mean: npt.ArrayLike,
    horizons: tuple[int, ...],
) -> EvaluationReport:
    """Report on median forecasts (N, H) against outcomes (N, H) and the two baselines.

    ``train_mean`` (H,) is the mean target of the train split: the historical-mean forecast.
    """
    truth = np.asarray(y_true, dtype=np.float64)
    median = np.asarray(model_median, dtype=np.float64)
    mean = np.asarray(train_mean, dtype=np.float64).reshape(-1)
    if truth.ndim != 2 or truth.shape != median.shape or truth.shape[1] != len(horizons):
        raise NeuralError(
            f"outcomes {truth.shape} and forecasts {median.shape} must both be (N, {len(horizons)})"
        )
    if mean.shape != (len(horizons),):
        raise NeuralError(f"train_mean needs {len(horizons)} values, got {mean.shape}")
    model: dict[int, ForecastMetrics] = {}
    baselines: dict[str, dict[int, ForecastMetrics]] = {RANDOM_WALK: {}, HISTORICAL_MEAN: {}}
    dm: dict[int, DieboldMariano] = {}
    comparisons: list[Comparison] = []
    for j, h in enumerate(horizons):
        col = truth[:, j]
        model[h] = forecast_metrics(col, median[:, j])
        baselines[RANDOM_WALK][h] = forecast_metrics(col, np.zeros_like(col))
        baselines[HISTORICAL_MEAN][h] = forecast_metrics(col, np.full_like(col, mean[j]))
        dm[h] = diebold_mariano(col - median[:, j], col, horizon=h)
        for name in (RANDOM_WALK, HISTORICAL_MEAN):
            base = baselines[name][h]
            for metric, mine, theirs in (
                ("RMSE", model[h].rmse, base.rmse),
                ("MAE", model[h].mae, base.mae),
            ):
                comparisons.append(Comparison(name, metric, h, mine, theirs, mine < theirs))
    return EvaluationReport(
        horizons=horizons,
        n_test=int(truth.shape[0]),
        model=model,
        baselines=baselines,
        comparisons=tuple(comparisons),
        diebold_mariano=dm,
    )


def evaluate_model(model: Forecaster, dataset: ForecastDataset) -> EvaluationReport:
    """Evaluate ``model``'s median forecast on the dataset's test split."""
    if tuple(model.horizons) != dataset.horizons:
        raise NeuralError(
            f"model forecasts horizons {model.horizons} but the dataset has {dataset.horizons}"
        )
    quantiles = predict(model, dataset.test.x).numpy()
    median = quantiles[:, :, model.quantiles.index(0.5)]
    train_mean = dataset.train.y.numpy().astype(np.float64).mean(axis=0)
    return compare_forecasts(dataset.test.y.numpy(), median, train_mean, dataset.horizons)


__all__ = [
    "HISTORICAL_MEAN",
    "RANDOM_WALK",
    "Comparison",
    "DieboldMariano",
    "EvaluationReport",
    "ForecastMetrics",
    "compare_forecasts",
    "diebold_mariano",
    "evaluate_model",
    "forecast_metrics",
]
