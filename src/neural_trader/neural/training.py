"""Train a forecaster with Adam and early stopping, reproducibly and cancellably.

The same seed, data and hparams give the same weights: torch and numpy are seeded, batches are
shuffled by a private generator, and deterministic algorithms are switched on for the run and
restored after it. The best validation checkpoint is kept in memory and loaded back at the end.
``should_stop`` is polled between batches so a UI can cancel without killing the process.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from neural_trader.errors import NeuralError
from neural_trader.neural.features import WindowedSplit
from neural_trader.neural.models import Forecaster, pinball_loss, predict


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser and stopping settings for one training run."""

    epochs: int = 50
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 5
    min_delta: float = 0.0
    grad_clip: float | None = 1.0
    seed: int = 0
    max_threads: int | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1:
            raise NeuralError("epochs, batch_size and patience must be at least 1")
        if self.max_threads is not None and self.max_threads < 1:
            raise NeuralError(f"max_threads must be at least 1, got {self.max_threads}")
        if not self.learning_rate > 0 or self.weight_decay < 0 or self.min_delta < 0:
            raise NeuralError("learning_rate must be > 0; weight_decay and min_delta >= 0")


@dataclass(frozen=True)
class EpochMetrics:
    """One finished epoch: mean train loss, validation loss and wall time."""

    epoch: int
    train_loss: float
    val_loss: float
    seconds: float


@dataclass
class TrainResult:
    """The trained model (best checkpoint restored) and how the run went."""

    model: Forecaster
    history: list[EpochMetrics] = field(default_factory=list)
    best_epoch: int | None = None
    best_val_loss: float = math.inf
    stopped_early: bool = False
    cancelled: bool = False
    device: str = "cpu"
    seconds: float = 0.0


EpochCallback = Callable[[int, int, EpochMetrics], None]
StopCheck = Callable[[], bool]


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA) and numpy's global generator."""
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


SMALL_MODEL_PARAMETERS = 100_000


def thread_count(model: Forecaster, max_threads: int | None = None) -> int:
    """Intra-op threads for training: 1 for small models, else up to 2 (or ``max_threads``).

    Small recurrent and attention layers do matrices too small to split, and on a busy
    machine a second spinning OpenMP thread made a tiny LSTM ten times slower, not faster.
    """
    cores = os.cpu_count() or 1
    if max_threads is not None:
        return max(1, min(max_threads, cores))
    n_params = sum(p.numel() for p in model.parameters())
    return 1 if n_params < SMALL_MODEL_PARAMETERS else min(2, cores)


@contextmanager
def _deterministic_run(threads: int) -> Iterator[None]:
    """Deterministic algorithms and a small thread count for the run, restored afterwards."""
    previous_det = torch.are_deterministic_algorithms_enabled()
    previous_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    previous_threads = torch.get_num_threads()
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous_det, warn_only=previous_warn)
        torch.set_num_threads(previous_threads)


def validation_loss(model: Forecaster, split: WindowedSplit, batch_size: int = 1024) -> float:
    """Mean pinball loss of ``model`` on ``split`` in eval mode."""
    preds = predict(model, split.x, batch_size)
    return float(pinball_loss(preds, split.y, model.quantiles))


def _check_split(name: str, split: WindowedSplit, model: Forecaster) -> None:
    if len(split) == 0:
        raise NeuralError(f"{name} split is empty")
    model.check_input(split.x[:1])
    if split.y.shape != (len(split), len(model.horizons)):
        raise NeuralError(
            f"{name} targets have shape {tuple(split.y.shape)}, expected "
            f"({len(split)}, {len(model.horizons)})"
        )
    if not bool(torch.isfinite(split.x).all()) or not bool(torch.isfinite(split.y).all()):
        raise NeuralError(f"{name} split contains NaN or inf")


def train_model(
    model: Forecaster,
    train: WindowedSplit,
    val: WindowedSplit,
    config: TrainConfig | None = None,
    device: torch.device | None = None,
    on_epoch: EpochCallback | None = None,
    should_stop: StopCheck | None = None,
) -> TrainResult:
    """Fit ``model`` in place on ``train``, early-stopping on ``val``; see :class:`TrainResult`.

    ``on_epoch(epoch, total_epochs, metrics)`` is called after each finished epoch (1-based);
    ``should_stop()`` is polled before every batch and ends the run cleanly with
    ``cancelled=True`` and the best checkpoint so far restored (cancelled before any epoch
    finished, the partly trained weights stay and ``best_epoch`` is None).
    """
    cfg = config or TrainConfig()
    _check_split("train", train, model)
    _check_split("validation", val, model)
    dev = device or torch.device("cpu")
    started = time.perf_counter()
    result = TrainResult(model=model, device=str(dev))
    with _deterministic_run(thread_count(model, cfg.max_threads)):
        seed_everything(cfg.seed)
        model.to(dev)
        optimiser = torch.optim.Adam(
            model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay
        )
        shuffler = torch.Generator().manual_seed(cfg.seed)
        best_state: dict[str, torch.Tensor] | None = None
        stale = 0
        for epoch in range(1, cfg.epochs + 1):
            epoch_start = time.perf_counter()
            model.train()
            order = torch.randperm(len(train), generator=shuffler)
            total, seen = 0.0, 0
            for i in range(0, len(train), cfg.batch_size):
                if should_stop is not None and should_stop():
                    result.cancelled = True
                    break
                idx = order[i : i + cfg.batch_size]
                xb, yb = train.x[idx].to(dev), train.y[idx].to(dev)
                optimiser.zero_grad()
                loss = pinball_loss(model(xb), yb, model.quantiles)
                loss.backward()  # type: ignore[no-untyped-call]
                if cfg.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                optimiser.step()
                total += float(loss.detach()) * int(idx.shape[0])
                seen += int(idx.shape[0])
            if result.cancelled:
                break
            val_loss = validation_loss(model, val)
            metrics = EpochMetrics(epoch, total / seen, val_loss, time.perf_counter() - epoch_start)
            result.history.append(metrics)
            if val_loss < result.best_val_loss - cfg.min_delta:
                result.best_val_loss, result.best_epoch, stale = val_loss, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                stale += 1
            if on_epoch is not None:
                on_epoch(epoch, cfg.epochs, metrics)
            if stale >= cfg.patience:
                result.stopped_early = epoch < cfg.epochs
                break
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
    result.seconds = time.perf_counter() - started
    return result


__all__ = [
    "EpochCallback",
    "EpochMetrics",
    "StopCheck",
    "TrainConfig",
    "TrainResult",
    "seed_everything",
    "thread_count",
    "train_model",
    "validation_loss",
]
