"""Serving registered forecasters: load once, resolve cheaply, forecast from recent bars.

A strategy asks for a forecast on every bar, so the per-call path holds no database query, no
file read and no pandas: the model a name resolves to (production, else newest staging) is
re-read from the registry at most every :data:`RESOLVE_SECONDS`, weights are loaded and
verified once per version, and the features of only the last ``window + vol_window`` bars are
computed.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from neural_trader.core.market_data import BarSeries
from neural_trader.data import load_bars
from neural_trader.data.catalog import TimeBound
from neural_trader.errors import NeuralError
from neural_trader.neural.artifacts import load_weights
from neural_trader.neural.features import Normaliser, ohlcv_features
from neural_trader.neural.models import Forecaster, build_model, predict
from neural_trader.storage.registry import ModelRecord, RegistryStore

GAN = "gan"
VOL_WINDOW = 20
# A promotion made by another process is seen within this many seconds.
RESOLVE_SECONDS = 5.0


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
class LoadedModel:
    """A verified model in eval mode with what its inputs and intervals need."""

    record: ModelRecord
    model: Forecaster
    normaliser: Normaliser
    radius: np.ndarray
    window: int
    vol_window: int
    median_index: int
    quantile_keys: tuple[str, ...]
    # The model traced and frozen for one window at a time: the same operations without
    # nn.Module's per-call Python, about half the latency of the eager model at batch 1.
    single: Callable[[torch.Tensor], torch.Tensor]

    @property
    def history_needed(self) -> int:
        """Bars needed for one window without warm-up NaN (a return and a full vol window)."""
        return self.window + self.vol_window


class ModelServer:
    def __init__(self, registry: RegistryStore, models_dir: Any) -> None:
        self.registry = registry
        self.models_dir = models_dir
        self._cache: dict[tuple[str, int], LoadedModel] = {}
        self._resolved: dict[str, tuple[float, tuple[str, int]]] = {}

    def forget(self, name: str | None = None) -> None:
        """Drop cached resolutions (after a promotion or rollback made here)."""
        if name is None:
            self._resolved.clear()
        else:
            self._resolved.pop(name, None)

    def load(self, name: str, version: int | None = None) -> LoadedModel:
        if version is None:
            hit = self._resolved.get(name)
            if hit is not None and time.monotonic() - hit[0] < RESOLVE_SECONDS:
                return self._cache[hit[1]]
        record = self.registry.get_model(name, version)
        if record.architecture == GAN:
            raise NeuralError(f"{name} is a GAN: it samples paths (synth), it does not forecast")
        key = (record.name, record.version)
        loaded = self._cache.get(key)
        if loaded is None:
            loaded = self._cache[key] = self._read(record)
        if version is None:
            self._resolved[name] = (time.monotonic(), key)
        return loaded

    def _read(self, record: ModelRecord) -> LoadedModel:
        state = load_weights(self.models_dir / record.artifact, record.artifact_sha256)
        model = build_model(record.architecture, record.hparams)
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise NeuralError(
                f"{record.name} v{record.version}: weights do not fit the model: {exc}"
            ) from None
        model.eval()
        return LoadedModel(
            record=record,
            model=model,
            normaliser=Normaliser.from_dict(record.training["normaliser"]),
            radius=np.asarray(record.metrics["conformal"]["radius"], dtype=np.float64),
            window=int(record.hparams["window"]),
            vol_window=int(record.training.get("vol_window", VOL_WINDOW)),
            median_index=model.quantiles.index(0.5),
            quantile_keys=tuple(f"{p:g}" for p in model.quantiles),
            single=_traced(model),
        )

    # -- single forecasts ---------------------------------------------------------------------
    def predict_bars(self, name: str, bars: BarSeries, version: int | None = None) -> Forecast:
        """The forecast from the last of ``bars`` (a strategy's recent history)."""
        t0 = time.perf_counter()
        loaded = self.load(name, version)
        need = loaded.history_needed
        if len(bars) < need:
            raise NeuralError(
                f"{name} needs {need} bars of {bars.symbol} for one forecast, got {len(bars)}"
            )
        tail = bars if len(bars) == need else _last(bars, need)
        raw = ohlcv_features(tail, loaded.vol_window)[-loaded.window :]
        if not np.isfinite(raw).all():
            raise NeuralError(f"{bars.symbol}: the last {need} bars give non-finite features")
        x = torch.from_numpy(loaded.normaliser.transform(raw)[None].astype(np.float32))
        with torch.inference_mode():
            q = loaded.single(x)[0].numpy().astype(np.float64)  # (H, Q)
        return _forecast(loaded, bars.symbol, int(bars.ts[-1]), q, t0)

    def predict(
        self,
        name: str,
        symbol: str | None = None,
        as_of: TimeBound = None,
        version: int | None = None,
    ) -> Forecast:
        """The forecast from the last bundled bar at or before ``as_of`` (default: latest)."""
        loaded = self.load(name, version)
        bars = load_bars(symbol or loaded.record.symbol, None, as_of)
        if len(bars) < loaded.history_needed:
            raise NeuralError(
                f"{bars.symbol} has too little history before {as_of} for a "
                f"{loaded.window}-bar window"
            )
        return self.predict_bars(name, _last(bars, loaded.history_needed), version)

    # -- many forecasts -----------------------------------------------------------------------
    def windows(
        self, loaded: LoadedModel, symbol: str, start: TimeBound, end: TimeBound
    ) -> tuple[np.ndarray, np.ndarray, BarSeries]:
        """Normalised windows ending at each bar of [start, end] (history before ``start`` is
        read for the warm-up), their end times and the bars up to ``end``."""
        bars = load_bars(symbol, None, end)
        x = loaded.normaliser.transform(ohlcv_features(bars, loaded.vol_window))
        first = loaded.history_needed - 1  # the first row whose window has no warm-up NaN
        if len(bars) <= first:
            raise NeuralError(
                f"{symbol} has {len(bars)} bars up to {end}: a forecast needs {first + 1}"
            )
        ends = np.arange(first, len(bars))
        if start is not None:
            start_ts = int(load_bars(symbol, start, end).ts[0])
            ends = ends[bars.ts[ends] >= start_ts]
        view = np.lib.stride_tricks.sliding_window_view(x, loaded.window, axis=0)  # (T-w+1,F,w)
        windows = view[ends - (loaded.window - 1)].transpose(0, 2, 1).astype(np.float32)
        return windows, bars.ts[ends], bars

    def predict_batch(
        self, name: str, start: TimeBound, end: TimeBound = None, symbol: str | None = None
    ) -> list[Forecast]:
        """A forecast from every bar in [start, end], in one batched pass."""
        t0 = time.perf_counter()
        loaded = self.load(name)
        sym = symbol or loaded.record.symbol
        windows, ends, _ = self.windows(loaded, sym, start, end)
        q = predict(loaded.model, torch.from_numpy(windows)).numpy().astype(np.float64)
        return [_forecast(loaded, sym, int(ts), q[i], t0) for i, ts in enumerate(ends)]


def _traced(model: Forecaster) -> Callable[[torch.Tensor], torch.Tensor]:
    p = model.params
    example = torch.zeros(1, p.window, p.n_features)
    with warnings.catch_warnings(), torch.inference_mode():
        # The input-shape check becomes a constant in the trace (predict_bars builds the
        # window itself, so its shape is right by construction). torch 2.13 marks jit as
        # deprecated in favour of torch.compile, which needs a compile step per model and
        # shape; until that is measured here, the trace is what halves the latency.
        warnings.simplefilter("ignore")
        traced = torch.jit.freeze(torch.jit.trace(model, example).eval())  # type: ignore[no-untyped-call]
    return traced  # type: ignore[no-any-return]


def _last(bars: BarSeries, n: int) -> BarSeries:
    return BarSeries(
        bars.symbol,
        bars.interval,
        bars.ts[-n:],
        bars.open[-n:],
        bars.high[-n:],
        bars.low[-n:],
        bars.close[-n:],
        bars.volume[-n:],
    )


def _forecast(loaded: LoadedModel, symbol: str, as_of: int, q: np.ndarray, t0: float) -> Forecast:
    median = q[:, loaded.median_index]
    return Forecast(
        model=loaded.record.name,
        version=loaded.record.version,
        symbol=symbol,
        as_of=as_of,
        horizons=list(loaded.model.horizons),
        quantiles={k: q[:, i].tolist() for i, k in enumerate(loaded.quantile_keys)},
        median=median.tolist(),
        lower=(median - loaded.radius).tolist(),
        upper=(median + loaded.radius).tolist(),
        coverage=1 - float(loaded.record.metrics["conformal"]["alpha"]),
        latency_ms=(time.perf_counter() - t0) * 1e3,
    )
