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
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from neural_trader.config import NeuralSettings
from neural_trader.core.market_data import BarSeries
from neural_trader.data import load_bars
from neural_trader.data.catalog import TimeBound
from neural_trader.errors import NeuralError
from neural_trader.neural.artifacts import artifact_path, load_weights, save_weights
from neural_trader.neural.conformal import empirical_coverage, fit_split_conformal
from neural_trader.neural.device import select_device
from neural_trader.neural.evaluation import evaluate_model, forecast_metrics
from neural_trader.neural.features import (
    FEATURE_NAMES,
    build_features,
    prepare_dataset,
)
from neural_trader.neural.gan import GanHyperparameters, ReturnGan, train_gan
from neural_trader.neural.models import ARCHITECTURES, build_model, predict
from neural_trader.neural.monitoring import monitor
from neural_trader.neural.serving import GAN, VOL_WINDOW, Forecast, LoadedModel, ModelServer
from neural_trader.neural.stylized import compare, log_returns
from neural_trader.neural.training import EpochMetrics, TrainConfig, train_model
from neural_trader.storage import Store
from neural_trader.storage.registry import JobRecord, ModelRecord, RegistryStore

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
        self.server = ModelServer(self.registry, settings.models_dir)

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
        self.server.forget(spec.name)  # the new version may be what the name resolves to now
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
    def load(self, name: str, version: int | None = None) -> LoadedModel:
        return self.server.load(name, version)

    def predict(
        self,
        name: str,
        symbol: str | None = None,
        as_of: TimeBound = None,
        version: int | None = None,
    ) -> Forecast:
        """The forecast from the last bundled bar at or before ``as_of`` (default: latest)."""
        return self.server.predict(name, symbol, as_of, version)

    def history_needed(self, name: str) -> int:
        """Bars a forecast from ``name`` needs (its window and volatility warm-up)."""
        return self.server.load(name).history_needed

    def predict_bars(self, name: str, bars: BarSeries, version: int | None = None) -> Forecast:
        """The forecast from the last of ``bars``: the path a strategy uses on every bar."""
        return self.server.predict_bars(name, bars, version)

    def predict_batch(
        self, name: str, start: TimeBound, end: TimeBound = None, symbol: str | None = None
    ) -> list[Forecast]:
        """A forecast from every bar in [start, end], in one batched pass."""
        return self.server.predict_batch(name, start, end, symbol)

    def promote(self, name: str, version: int) -> ModelRecord:
        record = self.registry.promote(name, version)
        self.server.forget(name)
        return record

    def rollback(self, name: str) -> ModelRecord:
        record = self.registry.rollback(name)
        self.server.forget(name)
        return record

    def monitor(
        self, name: str, start: TimeBound, end: TimeBound = None, version: int | None = None
    ) -> dict[str, Any]:
        """Live error against the registered test error, with drift flagged."""
        return monitor(self.server, name, start, end, version, self.settings.drift_ratio)

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
