"""NeuralService: train, register, serve and watch the forecasting models and the GAN.

Training runs in a worker thread (torch releases the GIL), never on the event loop; a job row
in the database carries its status and progress so any process can watch it. A trained model
is registered in ``staging`` with everything needed to trust and reproduce it: hyperparameters,
the data span and fingerprint, the train-only normaliser, the epoch history, its test error
against naive baselines, and conformal interval radii calibrated on the validation split.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from scipy import stats

from neural_trader.config import NeuralSettings
from neural_trader.data import load_bars
from neural_trader.data.catalog import TimeBound
from neural_trader.errors import NeuralError
from neural_trader.neural.artifacts import artifact_path, load_weights, save_weights
from neural_trader.neural.conformal import empirical_coverage, fit_split_conformal
from neural_trader.neural.device import select_device
from neural_trader.neural.evaluation import evaluate_model, forecast_metrics
from neural_trader.neural.features import (
    FEATURE_NAMES,
    Normaliser,
    build_features,
    ohlcv_features,
    prepare_dataset,
)
from neural_trader.neural.gan import GanHyperparameters, ReturnGan, train_gan
from neural_trader.neural.models import ARCHITECTURES, Forecaster, build_model, predict
from neural_trader.neural.stylized import compare, log_returns
from neural_trader.neural.training import EpochMetrics, TrainConfig, train_model
from neural_trader.storage import Store
from neural_trader.storage.registry import JobRecord, ModelRecord, RegistryStore

GAN = "gan"
VOL_WINDOW = 20
Progress = Callable[[int, int, dict[str, float]], None]


class TrainingCancelledError(NeuralError):
    """Training stopped on request before it finished; nothing was registered."""


@dataclass(frozen=True)
class TrainSpec:
    """What to train: an architecture on one bundled symbol, with its settings."""

    architecture: str
    symbol: str = "SPX"
    epochs: int = 20
    window: int = 30
    horizons: tuple[int, ...] = (1, 5)
    start: str | None = None
    end: str | None = None
    alpha: float = 0.1
    seed: int = 0
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 5
    hparams: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        arch = self.architecture.strip().lower()
        if arch != GAN and arch not in ARCHITECTURES:
            known = ", ".join([*sorted(ARCHITECTURES), GAN])
            raise NeuralError(f"unknown model {self.architecture!r}; known: {known}")
        object.__setattr__(self, "architecture", arch)
        object.__setattr__(self, "symbol", self.symbol.strip().upper())
        object.__setattr__(self, "horizons", tuple(int(h) for h in self.horizons))
        if self.epochs < 1 or self.window < 2:
            raise NeuralError(
                f"epochs must be >= 1 and window >= 2, got {self.epochs}, {self.window}"
            )
        if not 0 < self.alpha < 1:
            raise NeuralError(f"alpha must be strictly between 0 and 1, got {self.alpha}")

    @property
    def name(self) -> str:
        return f"{self.architecture}-{self.symbol}"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["horizons"] = list(self.horizons)
        return out


@dataclass(frozen=True)
class Forecast:
    """One forecast: per horizon the quantiles, the median and its conformal interval."""

    model: str
    version: int
    symbol: str
    as_of: int  # the last bar the forecast saw (ns)
    horizons: list[int]
    quantiles: dict[str, list[float]]  # "0.1" -> one value per horizon
    median: list[float]
    lower: list[float]
    upper: list[float]
    coverage: float  # nominal coverage of [lower, upper]
    latency_ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Loaded:
    record: ModelRecord
    model: Forecaster
    normaliser: Normaliser
    radius: np.ndarray


def model_name(model: str, symbol: str | None) -> str:
    """``lstm`` + ``SPX`` → ``lstm-SPX``; a full name passes through."""
    m = model.strip()
    if "-" in m or symbol is None:
        return m
    return f"{m.lower()}-{symbol.strip().upper()}"


def _fingerprint(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


class NeuralService:
    def __init__(self, settings: NeuralSettings, store: Store) -> None:
        self.settings = settings
        self.registry = RegistryStore(store)
        self.device = select_device(settings.device)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nt-train")
        self._jobs: dict[str, tuple[threading.Event, Future[ModelRecord]]] = {}
        self._cache: dict[tuple[str, int], _Loaded] = {}

    # -- training -----------------------------------------------------------------------------
    def train(
        self,
        spec: TrainSpec,
        on_epoch: Progress | None = None,
        should_stop: Callable[[], bool] | None = None,
        job_id: str | None = None,
    ) -> ModelRecord:
        """Train, evaluate and register a new version (in staging), or raise
        :class:`TrainingCancelledError` when ``should_stop`` fired."""
        if spec.architecture == GAN:
            return self._train_gan(spec, on_epoch, should_stop, job_id)
        bars = load_bars(spec.symbol, spec.start, spec.end)
        features = build_features(bars, spec.horizons, VOL_WINDOW)
        data = prepare_dataset(features, spec.window)
        hparams = {
            "n_features": len(FEATURE_NAMES),
            "window": spec.window,
            "horizons": list(spec.horizons),
            **spec.hparams,
        }
        model = build_model(spec.architecture, hparams, seed=spec.seed)
        config = TrainConfig(
            epochs=spec.epochs,
            batch_size=spec.batch_size,
            learning_rate=spec.learning_rate,
            patience=spec.patience,
            seed=spec.seed,
        )

        def epoch_done(epoch: int, total: int, m: EpochMetrics) -> None:
            if on_epoch is not None:
                on_epoch(epoch, total, {"train_loss": m.train_loss, "val_loss": m.val_loss})

        result = train_model(
            model, data.train, data.val, config, self.device, epoch_done, should_stop
        )
        if result.cancelled:
            raise TrainingCancelledError(
                f"training {spec.name} was cancelled at epoch {len(result.history)}"
            )
        model = result.model.cpu().eval()
        report = evaluate_model(model, data)
        median_index = model.quantiles.index(0.5)
        val_median = predict(model, data.val.x).numpy()[:, :, median_index]
        conformal = fit_split_conformal(val_median, data.val.y.numpy(), spec.alpha)
        test_median = predict(model, data.test.x).numpy()[:, :, median_index]
        test_y = data.test.y.numpy()
        lower, upper = conformal.interval(test_median)
        coverage = [
            empirical_coverage(test_y[:, j], lower[:, j], upper[:, j])
            for j in range(len(spec.horizons))
        ]
        metrics = {
            "evaluation": report.to_dict(),
            "verdict": report.verdict,
            "test_rmse": [
                forecast_metrics(test_y[:, j], test_median[:, j]).rmse
                for j in range(len(spec.horizons))
            ],
            # Kept for drift tests against live errors later.
            "test_abs_errors": [
                [round(float(e), 8) for e in np.abs(test_y[:, j] - test_median[:, j])]
                for j in range(len(spec.horizons))
            ],
            "conformal": {
                "alpha": spec.alpha,
                "radius": [float(r) for r in conformal.radius],
                "calibration_windows": conformal.n_calibration,
                "test_coverage": coverage,
            },
            "best_val_loss": result.best_val_loss,
        }
        training = {
            "spec": spec.as_dict(),
            "config": asdict(config),
            "normaliser": data.normaliser.to_dict(),
            "feature_names": list(data.feature_names),
            "vol_window": VOL_WINDOW,
            "splits": {
                name: [int(split.end_ts[0]), int(split.end_ts[-1]), len(split)]
                for name, split in (("train", data.train), ("val", data.val), ("test", data.test))
            },
            "history": [asdict(h) for h in result.history],
            "best_epoch": result.best_epoch,
            "stopped_early": result.stopped_early,
            "seconds": result.seconds,
            "device": result.device,
        }
        fingerprint = _fingerprint(features.ts, features.features)
        return self._register(
            spec, model.state_dict(), hparams, training, metrics, fingerprint, job_id
        )

    def _train_gan(
        self,
        spec: TrainSpec,
        on_epoch: Progress | None,
        should_stop: Callable[[], bool] | None,
        job_id: str | None,
    ) -> ModelRecord:
        bars = load_bars(spec.symbol, spec.start, spec.end)
        returns = log_returns(bars.close)
        hp = GanHyperparameters(**{"epochs": spec.epochs, "seed": spec.seed, **spec.hparams})

        def epoch_done(m: Any) -> None:
            if on_epoch is not None:
                on_epoch(
                    m.epoch, hp.epochs, {"critic_loss": m.critic_loss, "wasserstein": m.wasserstein}
                )

        trained = train_gan(returns, hp, on_epoch=epoch_done, should_stop=should_stop)
        if trained.stopped:
            raise TrainingCancelledError(
                f"training {spec.name} was cancelled at epoch {len(trained.history)}"
            )
        synthetic = trained.model.sample(500, hp.window, seed=spec.seed)
        facts = compare(returns, synthetic)
        metrics = {"stylized_facts": facts.as_dict(), "reproduced": facts.reproduced}
        training = {
            "spec": spec.as_dict(),
            "history": [asdict(h) for h in trained.history],
            "span": [int(bars.ts[0]), int(bars.ts[-1])],
        }
        fingerprint = _fingerprint(bars.ts, returns)
        return self._register(
            spec, trained.model.state_dict(), hp.as_dict(), training, metrics, fingerprint, job_id
        )

    def _register(
        self,
        spec: TrainSpec,
        state: dict[str, torch.Tensor],
        hparams: dict[str, Any],
        training: dict[str, Any],
        metrics: dict[str, Any],
        fingerprint: str,
        job_id: str | None,
    ) -> ModelRecord:
        version = self.registry.next_version(spec.name)
        path = artifact_path(self.settings.models_dir, spec.name, version)
        sha = save_weights(state, path)
        return self.registry.add_model(
            name=spec.name,
            architecture=spec.architecture,
            symbol=spec.symbol,
            hparams=hparams,
            training=training,
            metrics=metrics,
            data_fingerprint=fingerprint,
            artifact=str(path.relative_to(self.settings.models_dir)),
            artifact_sha256=sha,
            job_id=job_id,
            version=version,
        )

    # -- background jobs ----------------------------------------------------------------------
    def submit(self, spec: TrainSpec) -> JobRecord:
        """Queue a training job; its progress and outcome are in the job row."""
        job = self.registry.create_job("train", spec.as_dict())
        cancel = threading.Event()
        future = self._pool.submit(self._run_job, job.id, spec, cancel)
        self._jobs[job.id] = (cancel, future)
        return job

    def _run_job(self, job_id: str, spec: TrainSpec, cancel: threading.Event) -> ModelRecord:
        self.registry.update_job(job_id, status="running", message=f"training {spec.name}")

        def progress(epoch: int, total: int, m: dict[str, float]) -> None:
            shown = ", ".join(f"{k} {v:.6g}" for k, v in m.items())
            self.registry.update_job(
                job_id, progress=epoch / total, message=f"epoch {epoch}/{total}: {shown}"
            )

        try:
            record = self.train(spec, progress, cancel.is_set, job_id)
        except TrainingCancelledError as exc:
            self.registry.update_job(job_id, status="cancelled", message=str(exc))
            raise
        except Exception as exc:
            self.registry.update_job(
                job_id, status="failed", error=f"{type(exc).__name__}: {exc}", message="failed"
            )
            raise
        self.registry.update_job(
            job_id,
            status="succeeded",
            progress=1.0,
            message=f"registered {record.name} version {record.version}",
            result={"name": record.name, "version": record.version},
        )
        return record

    def cancel(self, job_id: str) -> JobRecord:
        entry = self._jobs.get(job_id)
        job = self.registry.get_job(job_id)
        if entry is None:
            if job.finished:
                return job
            raise NeuralError(f"job {job_id} is not running in this process")
        entry[0].set()
        return job

    def wait(self, job_id: str, timeout: float | None = None) -> JobRecord:
        entry = self._jobs.get(job_id)
        if entry is not None:
            # The job row records how it ended, failures included.
            with contextlib.suppress(Exception):
                entry[1].result(timeout)
        return self.registry.get_job(job_id)

    def close(self) -> None:
        for cancel, _ in self._jobs.values():
            cancel.set()
        self._pool.shutdown(wait=True)

    # -- serving ------------------------------------------------------------------------------
    def load(self, name: str, version: int | None = None) -> _Loaded:
        record = self.registry.get_model(name, version)
        if record.architecture == GAN:
            raise NeuralError(f"{name} is a GAN: it samples paths (synth), it does not forecast")
        key = (record.name, record.version)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        state = load_weights(self.settings.models_dir / record.artifact, record.artifact_sha256)
        model = build_model(record.architecture, record.hparams)
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise NeuralError(
                f"{name} v{record.version}: weights do not fit the model: {exc}"
            ) from None
        model.eval()
        loaded = _Loaded(
            record=record,
            model=model,
            normaliser=Normaliser.from_dict(record.training["normaliser"]),
            radius=np.asarray(record.metrics["conformal"]["radius"], dtype=np.float64),
        )
        self._cache[key] = loaded
        return loaded

    def _windows(
        self, loaded: _Loaded, symbol: str, start: TimeBound, end: TimeBound
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Normalised windows ending at each bar of [start, end] (history before ``start`` is
        read for the warm-up), their end times and closes."""
        window = int(loaded.record.hparams["window"])
        vol_window = int(loaded.record.training.get("vol_window", VOL_WINDOW))
        bars = load_bars(symbol, None, end)
        raw = ohlcv_features(bars, vol_window)
        x = loaded.normaliser.transform(raw)
        first = vol_window + window - 1  # the first row whose window has no warm-up NaN
        if bars.ts.size <= first:
            raise NeuralError(
                f"{symbol} has {bars.ts.size} bars up to {end}: a forecast needs {first + 1}"
            )
        ends = np.arange(first, bars.ts.size)
        if start is not None:
            start_ts = int(load_bars(symbol, start, end).ts[0])
            ends = ends[bars.ts[ends] >= start_ts]
        view = np.lib.stride_tricks.sliding_window_view(x, window, axis=0)  # (T-w+1, F, w)
        windows = view[ends - (window - 1)].transpose(0, 2, 1).astype(np.float32)
        return windows, bars.ts[ends], np.asarray(bars.close, dtype=np.float64)

    def predict(
        self,
        name: str,
        symbol: str | None = None,
        as_of: TimeBound = None,
        version: int | None = None,
    ) -> Forecast:
        """The forecast from the last bar at or before ``as_of`` (default: the latest)."""
        t0 = time.perf_counter()
        loaded = self.load(name, version)
        sym = symbol or loaded.record.symbol
        window = int(loaded.record.hparams["window"])
        vol_window = int(loaded.record.training.get("vol_window", VOL_WINDOW))
        bars = load_bars(sym, None, as_of)
        tail = bars.slice_time(int(bars.ts[max(0, bars.ts.size - window - vol_window - 1)]), None)
        raw = ohlcv_features(tail, vol_window)[-window:]
        if raw.shape[0] < window or not np.all(np.isfinite(raw)):
            raise NeuralError(
                f"{sym} has too little history before {as_of} for a {window}-bar window"
            )
        x = torch.from_numpy(loaded.normaliser.transform(raw)[None].astype(np.float32))
        with torch.no_grad():
            q = loaded.model(x)[0].numpy().astype(np.float64)  # (H, Q)
        return self._forecast(loaded, sym, int(bars.ts[-1]), q, t0)

    def predict_batch(
        self, name: str, start: TimeBound, end: TimeBound = None, symbol: str | None = None
    ) -> list[Forecast]:
        """A forecast from every bar in [start, end], in one batched pass."""
        t0 = time.perf_counter()
        loaded = self.load(name)
        sym = symbol or loaded.record.symbol
        windows, ends, _ = self._windows(loaded, sym, start, end)
        q = predict(loaded.model, torch.from_numpy(windows)).numpy().astype(np.float64)
        return [self._forecast(loaded, sym, int(ts), q[i], t0) for i, ts in enumerate(ends)]

    def _forecast(
        self, loaded: _Loaded, symbol: str, as_of: int, q: np.ndarray, t0: float
    ) -> Forecast:
        quantiles = loaded.model.quantiles
        median = q[:, quantiles.index(0.5)]
        return Forecast(
            model=loaded.record.name,
            version=loaded.record.version,
            symbol=symbol,
            as_of=as_of,
            horizons=list(loaded.model.horizons),
            quantiles={f"{p:g}": [float(v) for v in q[:, i]] for i, p in enumerate(quantiles)},
            median=[float(v) for v in median],
            lower=[float(v) for v in median - loaded.radius],
            upper=[float(v) for v in median + loaded.radius],
            coverage=1 - float(loaded.record.metrics["conformal"]["alpha"]),
            latency_ms=(time.perf_counter() - t0) * 1e3,
        )

    # -- monitoring ---------------------------------------------------------------------------
    def monitor(
        self, name: str, start: TimeBound, end: TimeBound = None, version: int | None = None
    ) -> dict[str, Any]:
        """Live error of the median forecast on bars from ``start`` against the registered
        test error: the ratio per horizon, a Mann–Whitney test of the absolute errors, and
        ``drift`` when the error grew past ``neural.drift_ratio`` or the test says it did."""
        loaded = self.load(name, version)
        record = loaded.record
        train_end = int(record.training["splits"]["test"][1])
        windows, ends, closes = self._windows(loaded, record.symbol, start, end)
        if int(ends[0]) <= train_end:
            raise NeuralError(
                f"monitoring must start after the model's data ({name} saw data up to "
                f"{np.datetime64(train_end, 'ns')}); pass a later start"
            )
        q = predict(loaded.model, torch.from_numpy(windows)).numpy()
        median = q[:, :, loaded.model.quantiles.index(0.5)].astype(np.float64)
        bars_ts = load_bars(record.symbol, None, end).ts
        rows = np.searchsorted(bars_ts, ends)
        log_close = np.log(closes)
        out: dict[str, Any] = {"model": name, "version": record.version, "horizons": []}
        drift = False
        for j, h in enumerate(loaded.model.horizons):
            known = rows + h < log_close.size
            if not np.any(known):
                continue
            realised = log_close[rows[known] + h] - log_close[rows[known]]
            errors = realised - median[known, j]
            live = forecast_metrics(realised, median[known, j])
            test_rmse = float(record.metrics["test_rmse"][j])
            ratio = live.rmse / test_rmse
            reference = np.asarray(record.metrics["test_abs_errors"][j], dtype=np.float64)
            p_value = None
            if reference.size >= 10 and errors.size >= 10:
                p_value = float(
                    stats.mannwhitneyu(np.abs(errors), reference, alternative="greater").pvalue
                )
            flagged = ratio > self.settings.drift_ratio or (p_value is not None and p_value < 0.01)
            drift = drift or flagged
            out["horizons"].append(
                {
                    "horizon": h,
                    "windows": int(known.sum()),
                    "live_rmse": live.rmse,
                    "test_rmse": test_rmse,
                    "ratio": ratio,
                    "p_value": p_value,
                    "drift": flagged,
                }
            )
        if not out["horizons"]:
            raise NeuralError("no forecast in that span has a realised outcome yet")
        out["drift"] = drift
        return out

    # -- synthetic paths ----------------------------------------------------------------------
    def sample_paths(
        self, name: str, n_paths: int, length: int, regime: str | None = None, seed: int = 0
    ) -> np.ndarray:
        record = self.registry.get_model(name)
        if record.architecture != GAN:
            raise NeuralError(f"{name} is a {record.architecture} forecaster, not a GAN")
        model = ReturnGan(GanHyperparameters.from_dict(record.hparams))
        model.load_state_dict(
            load_weights(self.settings.models_dir / record.artifact, record.artifact_sha256)
        )
        return model.sample(n_paths, length, regime, seed)
