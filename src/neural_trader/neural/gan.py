"""A Wasserstein GAN (gradient penalty) that generates synthetic daily log-return paths.

Why a GAN: Monte Carlo from a fitted normal or GARCH model only has the stylized facts its
formula puts in; a generator trained on real windows can learn fat tails, volatility clustering
and the leverage effect from the data, and so draw stress scenarios the history never showed.

* **Data.** Overlapping windows of ``window`` standardised log returns; each window is labelled
  *low* or *high* volatility by whether its realised volatility is above the median window's.
* **Generator.** A causal temporal convolution network over per-day noise. Its output is a
  stochastic-volatility draw ``r_t = mu_t + softplus(s_t) * xi_t`` where ``xi_t`` is that day's
  first noise channel and ``mu_t, s_t`` depend on all earlier noise — the structure in which
  clustering, fat tails and leverage are easy to learn. It runs ``burn_in`` extra days first and
  drops them, so a path of any length is a draw from the stationary process, not from zeros.
* **Critic.** A dilated convolution net over ``(r, |r|)`` (plus the regime), pooled over time.
* **Training.** WGAN-GP (Gulrajani et al., 2017): ``n_critic`` critic steps per generator step,
  Adam with ``beta1 = 0``; every random draw comes from generators seeded by ``hparams.seed``.

Weights are saved with :mod:`safetensors` (state dicts only; the hyperparameters and the data
scale travel as metadata and buffers), so a loaded model draws bit-identical samples.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional

from neural_trader.errors import NeuralError

REGIMES: tuple[str, ...] = ("low", "high")
SAMPLE_CHUNK = 1024
METADATA_KEY = "neural_trader.gan.hparams"


@dataclass(frozen=True)
class GanHyperparameters:
    """Everything that shapes the model and its training; round-trips through a dict."""

    window: int = 64
    stride: int = 1
    noise_dim: int = 4
    path_noise_dim: int = 2
    hidden: int = 32
    kernel_size: int = 3
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16)
    critic_hidden: int = 32
    batch_size: int = 64
    epochs: int = 20
    n_critic: int = 5
    gp_weight: float = 10.0
    lr_generator: float = 1e-4
    lr_critic: float = 4e-4
    beta1: float = 0.0
    beta2: float = 0.9
    regime_conditioning: bool = True
    seed: int = 0
    num_threads: int = 1

    def __post_init__(self) -> None:
        positive = ("window", "stride", "noise_dim", "hidden", "critic_hidden", "batch_size")
        for name in (*positive, "epochs", "n_critic", "num_threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise NeuralError(
                    f"hyperparameter {name} must be a positive integer, got {value!r}"
                )
        if not isinstance(self.path_noise_dim, int) or self.path_noise_dim < 0:
            raise NeuralError(f"path_noise_dim must be >= 0, got {self.path_noise_dim!r}")
        if self.window < 8:
            raise NeuralError(f"window must be at least 8 days, got {self.window}")
        if self.kernel_size < 2:
            raise NeuralError(f"kernel_size must be at least 2, got {self.kernel_size}")
        if not self.dilations or any(d < 1 for d in self.dilations):
            raise NeuralError(f"dilations must be positive integers, got {self.dilations}")
        if self.num_threads > 2:
            raise NeuralError(f"num_threads is capped at 2, got {self.num_threads}")
        for name in ("gp_weight", "lr_generator", "lr_critic"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise NeuralError(f"hyperparameter {name} must be a positive number, got {value}")
        if not (0.0 <= self.beta1 < 1.0 and 0.0 <= self.beta2 < 1.0):
            raise NeuralError(f"Adam betas must be in [0, 1), got ({self.beta1}, {self.beta2})")

    @property
    def burn_in(self) -> int:
        """Days the causal generator needs before its output no longer sees the zero padding."""
        return (self.kernel_size - 1) * sum(self.dilations)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        out = asdict(self)
        out["dilations"] = list(self.dilations)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GanHyperparameters:
        """The inverse of :meth:`as_dict`; unknown keys are an error, missing keys default."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise NeuralError(f"unknown GAN hyperparameters: {', '.join(unknown)}")
        kwargs = dict(values)
        if "dilations" in kwargs:
            kwargs["dilations"] = tuple(int(d) for d in kwargs["dilations"])
        return cls(**kwargs)


@dataclass(frozen=True)
class GanEpochMetrics:
    """Means over one epoch; ``wasserstein`` is the critic's ``E[D(real)] - E[D(fake)]``."""

    epoch: int
    critic_loss: float
    generator_loss: float
    wasserstein: float
    gradient_penalty: float
    seconds: float

    def as_dict(self) -> dict[str, float]:
        """Plain JSON-ready values."""
        return {k: float(v) for k, v in asdict(self).items()}


class _CausalBlock(nn.Module):
    """Dilated causal convolution with a residual connection: output t sees inputs <= t."""

    def __init__(self, channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.pad = (kernel_size - 1) * dilation
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        y = functional.gelu(self.conv(functional.pad(h, (self.pad, 0))))
        mixed: torch.Tensor = self.mix(y)
        return h + mixed


class Generator(nn.Module):
    """Per-day noise (and a regime) to standardised log returns, via a causal TCN."""

    ret_mean: torch.Tensor
    ret_std: torch.Tensor
    vol_threshold: torch.Tensor
    high_fraction: torch.Tensor

    def __init__(self, hp: GanHyperparameters) -> None:
        super().__init__()
        n_cond = len(REGIMES) if hp.regime_conditioning else 0
        self.burn_in = hp.burn_in
        self.noise_dim = hp.noise_dim
        self.inp = nn.Conv1d(hp.noise_dim + hp.path_noise_dim + n_cond, hp.hidden, 1)
        self.blocks = nn.ModuleList(
            _CausalBlock(hp.hidden, hp.kernel_size, d) for d in hp.dilations
        )
        self.head = nn.Conv1d(hp.hidden, 2, 1)
        # The data scale and regime threshold travel with the weights in the state dict.
        self.register_buffer("ret_mean", torch.zeros(()))
        self.register_buffer("ret_std", torch.ones(()))
        self.register_buffer("vol_threshold", torch.ones(()))
        self.register_buffer("high_fraction", torch.full((), 0.5))

    def forward(self, noise: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        """``noise`` is ``(batch, noise_dim + path_noise_dim, burn_in + length)``, its first
        channel the day's innovation; returns ``(batch, length)``."""
        x = noise if cond is None else torch.cat([noise, _broadcast(cond, noise)], dim=1)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h)
        mu, log_scale = self.head(h).unbind(dim=1)
        out = mu + functional.softplus(log_scale + 0.5413) * noise[:, 0, :]  # softplus(.54) = 1
        paths: torch.Tensor = out[:, self.burn_in :]
        return paths


class Critic(nn.Module):
    """A path (and its regime) to a real-valued score; higher means more like the data."""

    def __init__(self, hp: GanHyperparameters) -> None:
        super().__init__()
        n_cond = len(REGIMES) if hp.regime_conditioning else 0
        h = hp.critic_hidden
        self.inp = nn.Conv1d(2 + n_cond, h, 5, padding=2)
        self.convs = nn.ModuleList(nn.Conv1d(h, h, 3, dilation=d, padding=d) for d in (1, 2, 4, 8))
        self.out = nn.Sequential(nn.Linear(2 * h, h), nn.LeakyReLU(0.2), nn.Linear(h, 1))

    def forward(self, paths: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        """``paths`` is ``(batch, length)``; returns ``(batch,)`` scores."""
        x = torch.stack([paths, paths.abs()], dim=1)
        if cond is not None:
            x = torch.cat([x, _broadcast(cond, x)], dim=1)
        h = functional.leaky_relu(self.inp(x), 0.2)
        for conv in self.convs:
            h = h + functional.leaky_relu(conv(h), 0.2)
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        scores: torch.Tensor = self.out(pooled).squeeze(1)
        return scores


def _broadcast(cond: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return cond[:, :, None].expand(-1, -1, like.shape[2])


class ReturnGan:
    """A generator and critic with the hyperparameters and data scale they were built for."""

    def __init__(self, hparams: GanHyperparameters, device: torch.device | None = None) -> None:
        self.hparams = hparams
        self.device = device or torch.device("cpu")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(hparams.seed)
            self.generator = Generator(hparams).to(self.device)
            self.critic = Critic(hparams).to(self.device)

    def noise(self, n: int, length: int, rng: torch.Generator) -> torch.Tensor:
        """Standard normal generator input for ``n`` paths of ``length`` days (plus burn-in).

        ``noise_dim`` channels are fresh each day; ``path_noise_dim`` channels hold one draw
        per path, a latent market state (calm, stressed, ...) that lasts the whole path.
        """
        hp = self.hparams
        days = hp.burn_in + length
        daily = torch.randn((n, hp.noise_dim, days), generator=rng)
        per_path = torch.randn((n, hp.path_noise_dim, 1), generator=rng)
        return torch.cat([daily, per_path.expand(-1, -1, days)], dim=1).to(self.device)

    def regime_codes(self, regime: str | None, n: int, rng: torch.Generator) -> torch.Tensor | None:
        """One-hot regimes for ``n`` paths: the named one, or drawn as often as in training."""
        if not self.hparams.regime_conditioning:
            if regime is not None:
                raise NeuralError("this GAN was trained without regime conditioning; pass None")
            return None
        if regime is None:
            p = torch.full((n,), float(self.generator.high_fraction))
            labels = torch.bernoulli(p, generator=rng).long()
        elif regime in REGIMES:
            labels = torch.full((n,), REGIMES.index(regime), dtype=torch.long)
        else:
            raise NeuralError(f"unknown regime {regime!r}; known: {', '.join(REGIMES)}")
        return functional.one_hot(labels, len(REGIMES)).float().to(self.device)

    def sample(
        self, n_paths: int, length: int, regime: str | None = None, seed: int = 0
    ) -> npt.NDArray[np.float64]:
        """``(n_paths, length)`` daily log returns on the scale of the training data.

        The same ``seed`` and weights give bit-identical paths; ``regime`` is "low" or "high"
        (or None to draw regimes as often as they occurred in the training windows).
        """
        if n_paths < 1 or length < 1:
            raise NeuralError(f"n_paths and length must be positive, got {n_paths}, {length}")
        rng = torch.Generator(device="cpu").manual_seed(seed)
        cond_all = self.regime_codes(regime, n_paths, rng)
        out: list[torch.Tensor] = []
        with torch.no_grad(), _threads(self.hparams.num_threads):
            for start in range(0, n_paths, SAMPLE_CHUNK):
                n = min(SAMPLE_CHUNK, n_paths - start)
                cond = None if cond_all is None else cond_all[start : start + n]
                out.append(self.generator(self.noise(n, length, rng), cond).cpu())
        std, mean = float(self.generator.ret_std), float(self.generator.ret_mean)
        return torch.cat(out).double().numpy() * std + mean

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Generator and critic weights (and the data-scale buffers) under one flat namespace."""
        gen = {f"generator.{k}": v for k, v in self.generator.state_dict().items()}
        crit = {f"critic.{k}": v for k, v in self.critic.state_dict().items()}
        return {**gen, **crit}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore weights saved by :meth:`state_dict`; a mismatch is a :class:`NeuralError`."""
        parts: dict[str, dict[str, torch.Tensor]] = {"generator": {}, "critic": {}}
        for key, value in state.items():
            head, _, rest = key.partition(".")
            if head not in parts:
                raise NeuralError(f"unexpected tensor {key!r} in GAN weights")
            parts[head][rest] = value
        try:
            self.generator.load_state_dict(parts["generator"])
            self.critic.load_state_dict(parts["critic"])
        except RuntimeError as exc:
            raise NeuralError(f"GAN weights do not fit these hyperparameters: {exc}") from exc


@contextmanager
def _threads(n: int) -> Iterator[None]:
    """Run torch on at most ``n`` intra-op threads, restoring the previous setting after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(min(n, previous))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _validated_returns(returns: npt.ArrayLike, hp: GanHyperparameters) -> npt.NDArray[np.float64]:
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1:
        raise NeuralError(f"training returns must be a 1-D series, got shape {r.shape}")
    if not np.all(np.isfinite(r)):
        bad = int(np.flatnonzero(~np.isfinite(r))[0])
        raise NeuralError(f"training returns contain NaN or infinite values (first at {bad})")
    needed = hp.window + (hp.batch_size - 1) * hp.stride
    if r.size < needed:
        raise NeuralError(
            f"series too short: {r.size} returns give fewer than one batch of "
            f"{hp.batch_size} windows of {hp.window} days at stride {hp.stride}; need {needed}"
        )
    if float(r.std()) == 0.0:
        raise NeuralError("training returns are constant; there is nothing to learn")
    return r


def _windows(r: npt.NDArray[np.float64], model: ReturnGan) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardised overlapping windows and their volatility-regime labels; sets the buffers."""
    hp, gen = model.hparams, model.generator
    mean, std = float(r.mean()), float(r.std())
    z = (r - mean) / std
    starts = np.arange(0, z.size - hp.window + 1, hp.stride)
    windows = np.stack([z[s : s + hp.window] for s in starts])
    vol = windows.std(axis=1)
    threshold = float(np.median(vol))
    labels = (vol > threshold).astype(np.int64)
    gen.ret_mean.fill_(mean)
    gen.ret_std.fill_(std)
    gen.vol_threshold.fill_(threshold)
    gen.high_fraction.fill_(float(labels.mean()))
    return torch.from_numpy(windows).float(), torch.from_numpy(labels)


def _gradient_penalty(
    critic: Critic,
    real: torch.Tensor,
    fake: torch.Tensor,
    cond: torch.Tensor | None,
    rng: torch.Generator,
) -> torch.Tensor:
    eps = torch.rand((real.shape[0], 1), generator=rng).to(real.device)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    scores = critic(mixed, cond)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    penalty: torch.Tensor = ((grad.norm(dim=1) - 1.0) ** 2).mean()
    return penalty


@dataclass
class _Optimisers:
    critic: torch.optim.Optimizer
    generator: torch.optim.Optimizer


def _optimisers(model: ReturnGan) -> _Optimisers:
    hp = model.hparams
    betas = (hp.beta1, hp.beta2)
    return _Optimisers(
        critic=torch.optim.Adam(model.critic.parameters(), lr=hp.lr_critic, betas=betas),
        generator=torch.optim.Adam(model.generator.parameters(), lr=hp.lr_generator, betas=betas),
    )


def _critic_step(
    model: ReturnGan,
    opt: _Optimisers,
    real: torch.Tensor,
    cond: torch.Tensor | None,
    rng: torch.Generator,
) -> tuple[float, float, float]:
    """One critic update; returns (loss, Wasserstein estimate, gradient penalty)."""
    with torch.no_grad():
        fake = model.generator(model.noise(real.shape[0], real.shape[1], rng), cond)
    w_est = model.critic(real, cond).mean() - model.critic(fake, cond).mean()
    gp = _gradient_penalty(model.critic, real, fake, cond, rng)
    loss = -w_est + model.hparams.gp_weight * gp
    opt.critic.zero_grad(set_to_none=True)
    loss.backward()
    opt.critic.step()
    return float(loss.item()), float(w_est.item()), float(gp.item())


def _generator_step(
    model: ReturnGan,
    opt: _Optimisers,
    real: torch.Tensor,
    cond: torch.Tensor | None,
    rng: torch.Generator,
) -> float:
    fake = model.generator(model.noise(real.shape[0], real.shape[1], rng), cond)
    loss = -model.critic(fake, cond).mean()
    opt.generator.zero_grad(set_to_none=True)
    loss.backward()
    opt.generator.step()
    return float(loss.item())


@dataclass(frozen=True)
class TrainedGan:
    """The model, one :class:`GanEpochMetrics` per finished epoch, and whether it was stopped."""

    model: ReturnGan
    history: tuple[GanEpochMetrics, ...]
    stopped: bool


def _run_epoch(
    model: ReturnGan,
    opt: _Optimisers,
    data: tuple[torch.Tensor, torch.Tensor],
    rng: torch.Generator,
    should_stop: Callable[[], bool],
) -> tuple[list[tuple[float, float, float]], list[float]] | None:
    """One pass over the shuffled windows; None if ``should_stop`` fired part-way."""
    windows, labels = data
    hp = model.hparams
    order = torch.randperm(windows.shape[0], generator=rng)
    critic_stats: list[tuple[float, float, float]] = []
    gen_losses: list[float] = []
    for i in range(windows.shape[0] // hp.batch_size):
        if should_stop():
            return None
        idx = order[i * hp.batch_size : (i + 1) * hp.batch_size]
        real = windows[idx].to(model.device)
        cond = None
        if hp.regime_conditioning:
            cond = functional.one_hot(labels[idx], len(REGIMES)).float().to(model.device)
        critic_stats.append(_critic_step(model, opt, real, cond, rng))
        if (i + 1) % hp.n_critic == 0:
            gen_losses.append(_generator_step(model, opt, real, cond, rng))
    return critic_stats, gen_losses


def train_gan(
    returns: npt.ArrayLike,
    hparams: GanHyperparameters | None = None,
    *,
    device: torch.device | None = None,
    on_epoch: Callable[[GanEpochMetrics], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainedGan:
    """Train a WGAN-GP on overlapping windows of a 1-D series of daily log returns.

    Deterministic for a given ``hparams.seed`` on a given device and thread count.
    ``should_stop`` is polled before every critic step; when it answers True training ends
    and the result says ``stopped=True`` with the epochs finished so far.
    """
    hp = hparams or GanHyperparameters()
    r = _validated_returns(returns, hp)
    model = ReturnGan(hp, device)
    data = _windows(r, model)
    opt = _optimisers(model)
    rng = torch.Generator(device="cpu").manual_seed(hp.seed)
    stop = should_stop or (lambda: False)
    history: list[GanEpochMetrics] = []
    with _threads(hp.num_threads):
        for epoch in range(1, hp.epochs + 1):
            began = time.perf_counter()
            result = _run_epoch(model, opt, data, rng, stop)
            if result is None:
                return TrainedGan(model, tuple(history), stopped=True)
            critic_stats, gen_losses = result
            stats = np.asarray(critic_stats)
            metrics = GanEpochMetrics(
                epoch=epoch,
                critic_loss=float(stats[:, 0].mean()),
                generator_loss=float(np.mean(gen_losses)) if gen_losses else math.nan,
                wasserstein=float(stats[:, 1].mean()),
                gradient_penalty=float(stats[:, 2].mean()),
                seconds=time.perf_counter() - began,
            )
            history.append(metrics)
            if on_epoch is not None:
                on_epoch(metrics)
    return TrainedGan(model, tuple(history), stopped=False)


def save_gan(model: ReturnGan, path: str | Path) -> None:
    """Write the weights to a ``.safetensors`` file, hyperparameters in its metadata."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {METADATA_KEY: json.dumps(model.hparams.as_dict())}
    save_file(tensors, str(path), metadata=metadata)


def load_gan(path: str | Path, device: torch.device | None = None) -> ReturnGan:
    """A model saved by :func:`save_gan`, ready to sample."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        state = load_file(str(path))
    except (OSError, ValueError, RuntimeError) as exc:
        raise NeuralError(f"cannot read GAN weights from {path}: {exc}") from exc
    if METADATA_KEY not in metadata:
        raise NeuralError(f"{path} has no GAN hyperparameters in its metadata")
    model = ReturnGan(GanHyperparameters.from_dict(json.loads(metadata[METADATA_KEY])), device)
    model.load_state_dict({k: v.to(model.device) for k, v in state.items()})
    return model


def scenarios(
    model: ReturnGan, n_paths: int, horizon: int, regime: str | None = None, seed: int = 0
) -> npt.NDArray[np.float64]:
    """``(n_paths, horizon)`` cumulative simple returns ``exp(Σ r) - 1`` of generated paths."""
    log_paths = model.sample(n_paths, horizon, regime=regime, seed=seed)
    return np.expm1(np.cumsum(log_paths, axis=1))


def worst_paths(
    cumulative: npt.ArrayLike, k: int, by: Literal["final", "drawdown"] = "final"
) -> npt.NDArray[np.float64]:
    """The ``k`` worst cumulative-return paths, worst first.

    ``by="final"`` ranks by the return at the horizon, ``by="drawdown"`` by the deepest
    peak-to-trough fall of wealth ``1 + cumulative`` along the way (starting from 1).
    """
    paths = np.asarray(cumulative, dtype=np.float64)
    if paths.ndim != 2 or paths.shape[1] < 1:
        raise NeuralError(f"cumulative paths must be 2-D (n_paths, horizon), got {paths.shape}")
    if not 1 <= k <= paths.shape[0]:
        raise NeuralError(f"k must be in [1, {paths.shape[0]}], got {k}")
    if by == "final":
        score = paths[:, -1]
    elif by == "drawdown":
        wealth = np.concatenate([np.ones((paths.shape[0], 1)), 1.0 + paths], axis=1)
        score = np.min(wealth / np.maximum.accumulate(wealth, axis=1) - 1.0, axis=1)
    else:
        raise NeuralError(f"unknown ranking {by!r}; use 'final' or 'drawdown'")
    return paths[np.argsort(score, kind="stable")[:k]]


__all__ = [
    "REGIMES",
    "Critic",
    "GanEpochMetrics",
    "GanHyperparameters",
    "Generator",
    "ReturnGan",
    "TrainedGan",
    "load_gan",
    "save_gan",
    "scenarios",
    "train_gan",
    "worst_paths",
]
