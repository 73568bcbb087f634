"""Neural benchmarks for `make bench`: forecast latency through NeuralService and training speed.

* neural_inference_<arch> — p50/p99 latency of ``NeuralService.predict_bars`` at batch 1 (what a
  strategy calls on every bar: model resolution, feature preparation from the last bars,
  normalisation, the forward pass and the Forecast with its conformal interval), with torch on
  one thread and on its default; the reference in the same run is the bare forward pass of the
  same model on a ready tensor. Batch 256 is ``predict_batch`` over 256 consecutive bars (data
  read, features, one forward pass, 256 Forecasts) against the bare forward pass on 256 windows.
* neural_training_<arch> — training throughput (training windows × epochs / seconds) of
  ``NeuralService.train`` on SPX daily bars, CPU.

The LSTM is the 2-layer 64-unit network the issue names; the Transformer is the default
(d_model 32, 4 heads, 2 layers).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neural_trader.config import load_settings
from neural_trader.data import load_bars
from neural_trader.neural.service import NeuralService, TrainSpec
from neural_trader.storage import Store

MODELS: dict[str, dict[str, Any]] = {
    "lstm": {"hidden_size": 64, "num_layers": 2},
    "transformer": {},
}
TARGET_P50_MS = 0.5
CALLS = 2000


def _paired_latencies(
    fn: Callable[[], object], reference: Callable[[], object], calls: int
) -> tuple[np.ndarray, np.ndarray]:
    """Latencies (ms) of ``fn`` and ``reference`` called in turn, so both see the same load."""
    for _ in range(50):
        fn()
        reference()
    out = np.empty((2, calls))
    for i in range(calls):
        t0 = time.perf_counter()
        fn()
        t1 = time.perf_counter()
        reference()
        out[0, i] = t1 - t0
        out[1, i] = time.perf_counter() - t1
    return out[0] * 1e3, out[1] * 1e3


def _percentiles(ms: np.ndarray) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.median(ms)), 4),
        "p99_ms": round(float(np.quantile(ms, 0.99)), 4),
    }


def _inference(service: NeuralService, name: str) -> dict[str, Any]:
    bars = load_bars("SPX")
    loaded = service.load(name)
    recent = bars.slice_time(int(bars.ts[-loaded.history_needed]), None)
    one = torch.randn(1, loaded.window, loaded.model.params.n_features)
    many = torch.randn(256, loaded.window, loaded.model.params.n_features)
    start = str(np.datetime64(int(bars.ts[-256]), "ns"))
    assert len(service.predict_batch(name, start=start)) == 256
    default_threads = torch.get_num_threads()
    out: dict[str, Any] = {"target_p50_ms_batch_1": TARGET_P50_MS}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)

        def bare_1() -> object:
            with torch.inference_mode():
                return loaded.model(one)

        def bare_256() -> object:
            with torch.inference_mode():
                return loaded.model(many)

        service_1, bare = _paired_latencies(
            lambda: service.predict_bars(name, recent), bare_1, CALLS
        )
        service_256, bare_many = _paired_latencies(
            lambda: service.predict_batch(name, start=start), bare_256, 100
        )
        p = _percentiles(service_1)
        out[f"threads_{threads}"] = {
            "batch_1": {
                **p,
                "bare_forward_p50_ms": _percentiles(bare)["p50_ms"],
                "service_over_bare": round(p["p50_ms"] / float(np.median(bare)), 2),
                "ratio_to_target": round(p["p50_ms"] / TARGET_P50_MS, 3),
            },
            "batch_256": {
                **_percentiles(service_256),
                "bare_forward_p50_ms": _percentiles(bare_many)["p50_ms"],
                "forecasts_per_s": round(256 / float(np.median(service_256)) * 1e3),
            },
        }
    torch.set_num_threads(default_threads)
    return out


def neural_figures() -> dict[str, Any]:
    """Train each model briefly in a scratch registry, then time serving and training."""
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(None, {"neural.models_dir": str(Path(tmp) / "models")})
        store = Store(f"sqlite:///{Path(tmp) / 'nt.db'}")
        service = NeuralService(settings.neural, store)
        try:
            for arch, hparams in MODELS.items():
                spec = TrainSpec(arch, "SPX", epochs=3, patience=10, hparams=hparams)
                record = service.train(spec)
                epochs = len(record.training["history"])
                windows = int(record.training["splits"]["train"][2])
                seconds = float(record.training["seconds"])
                figures[f"neural_training_{arch}"] = {
                    "train_windows": windows,
                    "epochs": epochs,
                    "seconds": round(seconds, 3),
                    "samples_per_s": round(windows * epochs / seconds),
                    "device": record.training["device"],
                }
                figures[f"neural_inference_{arch}"] = _inference(service, record.name)
        finally:
            service.close()
            store.close()
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(neural_figures(), indent=2))
