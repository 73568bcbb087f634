"""Model performance monitoring: is a model's live error still the error it was registered with?

The registry keeps each horizon's test RMSE and the test windows' absolute errors, so drift is
judged two ways: the ratio of live to test RMSE against ``neural.drift_ratio``, and a one-sided
Mann–Whitney test that the live absolute errors are stochastically larger than the test ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy import stats

from neural_trader.data.catalog import TimeBound
from neural_trader.errors import NeuralError
from neural_trader.neural.evaluation import forecast_metrics
from neural_trader.neural.models import predict
from neural_trader.neural.serving import ModelServer

DRIFT_P_VALUE = 0.01
MIN_ERRORS_FOR_TEST = 10


def monitor(
    server: ModelServer,
    name: str,
    start: TimeBound,
    end: TimeBound,
    version: int | None,
    drift_ratio: float,
) -> dict[str, Any]:
    """Live error of the median forecast on bars from ``start`` against the registered test
    error, per horizon, with ``drift`` set when either judgement says the error grew."""
    loaded = server.load(name, version)
    record = loaded.record
    data_end = int(record.training["splits"]["test"][1])
    windows, ends, bars = server.windows(loaded, record.symbol, start, end)
    if ends.size == 0 or int(ends[0]) <= data_end:
        raise NeuralError(
            f"monitoring must start after the model's data ({name} saw data up to "
            f"{np.datetime64(data_end, 'ns')}); pass a later start"
        )
    q = predict(loaded.model, torch.from_numpy(windows)).numpy()
    median = q[:, :, loaded.median_index].astype(np.float64)
    rows = np.searchsorted(bars.ts, ends)
    log_close = np.log(np.asarray(bars.close, dtype=np.float64))
    horizons = []
    for j, h in enumerate(loaded.model.horizons):
        known = rows + h < log_close.size
        if not np.any(known):
            continue
        realised = log_close[rows[known] + h] - log_close[rows[known]]
        horizons.append(
            _judge(
                h,
                realised,
                median[known, j],
                float(record.metrics["test_rmse"][j]),
                np.asarray(record.metrics["test_abs_errors"][j], dtype=np.float64),
                drift_ratio,
            )
        )
    if not horizons:
        raise NeuralError("no forecast in that span has a realised outcome yet")
    drift = any(row["drift"] for row in horizons)
    return {"model": name, "version": record.version, "horizons": horizons, "drift": drift}


def _judge(
    horizon: int,
    realised: np.ndarray,
    forecast: np.ndarray,
    test_rmse: float,
    test_abs_errors: np.ndarray,
    drift_ratio: float,
) -> dict[str, Any]:
    live = forecast_metrics(realised, forecast)
    ratio = live.rmse / test_rmse
    errors = np.abs(realised - forecast)
    p_value = None
    if test_abs_errors.size >= MIN_ERRORS_FOR_TEST and errors.size >= MIN_ERRORS_FOR_TEST:
        p_value = float(stats.mannwhitneyu(errors, test_abs_errors, alternative="greater").pvalue)
    flagged = ratio > drift_ratio or (p_value is not None and p_value < DRIFT_P_VALUE)
    return {
        "horizon": horizon,
        "windows": int(errors.size),
        "live_rmse": live.rmse,
        "test_rmse": test_rmse,
        "ratio": ratio,
        "p_value": p_value,
        "drift": flagged,
    }
