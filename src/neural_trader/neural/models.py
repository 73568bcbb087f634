"""LSTM and Transformer forecasters with a monotone multi-horizon quantile head.

Both map windows (batch, window, features) to quantiles (batch, horizons, quantiles). The head
predicts the median and adds cumulative softplus offsets above and below it, so quantiles can
never cross. Hyperparameters are frozen pydantic models: validated once, dumped to a plain dict
for the model registry, and rebuilt by :func:`build_model`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import torch
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from torch import nn
from torch.nn import functional as F  # noqa: N812 - the conventional torch alias

from neural_trader.errors import NeuralError


class ForecasterParams(BaseModel):
    """What every forecaster needs: input width, window length, horizons and quantiles."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_features: int = Field(gt=0)
    window: int = Field(gt=0)
    horizons: tuple[int, ...] = (1, 5)
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)

    @field_validator("horizons")
    @classmethod
    def _increasing_horizons(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(h < 1 for h in value) or list(value) != sorted(set(value)):
            raise ValueError("must be distinct positive integers in increasing order")
        return value

    @field_validator("quantiles")
    @classmethod
    def _quantiles_with_median(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if list(value) != sorted(set(value)) or any(not 0.0 < q < 1.0 for q in value):
            raise ValueError("must be distinct, increasing and strictly between 0 and 1")
        if 0.5 not in value:
            raise ValueError("must include 0.5, the median used as the point forecast")
        return value

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists) that :func:`build_model` accepts back."""
        return self.model_dump(mode="json")


class LSTMParams(ForecasterParams):
    hidden_size: int = Field(default=32, gt=0)
    num_layers: int = Field(default=1, gt=0)


class TransformerParams(ForecasterParams):
    d_model: int = Field(default=32, gt=0)
    n_heads: int = Field(default=4, gt=0)
    num_layers: int = Field(default=2, gt=0)
    dim_feedforward: int = Field(default=64, gt=0)
    positional: Literal["sinusoidal", "learned"] = "sinusoidal"

    @field_validator("n_heads")
    @classmethod
    def _heads_divide_width(cls, value: int, info: ValidationInfo) -> int:
        d_model = info.data.get("d_model")
        if d_model is not None and d_model % value != 0:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {value}")
        return value


class QuantileHead(nn.Module):
    """Linear map to (horizons, quantiles), made monotone around the median."""

    def __init__(self, in_features: int, horizons: int, quantiles: tuple[float, ...]) -> None:
        super().__init__()
        self.horizons = horizons
        self.n_quantiles = len(quantiles)
        self.median_index = quantiles.index(0.5)
        self.linear = nn.Linear(in_features, horizons * self.n_quantiles)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        raw = self.linear(hidden).view(-1, self.horizons, self.n_quantiles)
        m = self.median_index
        centre = raw[..., m : m + 1]
        above = centre + torch.cumsum(F.softplus(raw[..., m + 1 :]), dim=-1)
        below_offsets = torch.cumsum(F.softplus(raw[..., :m].flip(-1)), dim=-1).flip(-1)
        return torch.cat([centre - below_offsets, centre, above], dim=-1)


class Forecaster(nn.Module):
    """Shared shape checks and metadata of the quantile forecasters."""

    architecture: ClassVar[str]
    params: ForecasterParams

    def __init__(self, params: ForecasterParams) -> None:
        super().__init__()
        self.params = params

    @property
    def quantiles(self) -> tuple[float, ...]:
        return self.params.quantiles

    @property
    def horizons(self) -> tuple[int, ...]:
        return self.params.horizons

    def check_input(self, x: torch.Tensor) -> None:
        """Raise :class:`NeuralError` unless ``x`` is (batch, window, n_features)."""
        p = self.params
        if x.ndim != 3 or x.shape[2] != p.n_features or x.shape[1] != p.window:
            raise NeuralError(
                f"{self.architecture} expects input (batch, {p.window}, {p.n_features}), "
                f"got {tuple(x.shape)}"
            )


class LSTMForecaster(Forecaster):
    """LSTM over the window; the last step's hidden state feeds the quantile head."""

    architecture = "lstm"
    params: LSTMParams

    def __init__(self, params: LSTMParams) -> None:
        super().__init__(params)
        self.lstm = nn.LSTM(
            input_size=params.n_features,
            hidden_size=params.hidden_size,
            num_layers=params.num_layers,
            batch_first=True,
            dropout=params.dropout if params.num_layers > 1 else 0.0,
        )
        self.head = QuantileHead(params.hidden_size, len(params.horizons), params.quantiles)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        out, _ = self.lstm(x)
        quantiles: torch.Tensor = self.head(out[:, -1, :])
        return quantiles


def sinusoidal_encoding(length: int, d_model: int) -> torch.Tensor:
    """The fixed sine/cosine position table of Vaswani et al. (2017), shape (length, d_model)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(
        torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model)
    )
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(position * div)
    table[:, 1::2] = torch.cos(position * div)[:, : d_model // 2]
    return table


class TransformerForecaster(Forecaster):
    """Transformer encoder over the projected window; the last position feeds the head."""

    architecture = "transformer"
    params: TransformerParams

    def __init__(self, params: TransformerParams) -> None:
        super().__init__(params)
        self.input_proj = nn.Linear(params.n_features, params.d_model)
        self.learned_position: nn.Parameter | None = None
        if params.positional == "learned":
            self.learned_position = nn.Parameter(torch.randn(params.window, params.d_model) * 0.02)
        else:
            # not persistent: it is a pure function of the hparams, so it stays out of weights
            self.register_buffer(
                "fixed_position",
                sinusoidal_encoding(params.window, params.d_model),
                persistent=False,
            )
        layer = nn.TransformerEncoderLayer(
            d_model=params.d_model,
            nhead=params.n_heads,
            dim_feedforward=params.dim_feedforward,
            dropout=params.dropout,
            batch_first=True,
        )
        self.encoder = nn.TransformerEncoder(
            layer, num_layers=params.num_layers, enable_nested_tensor=False
        )
        self.head = QuantileHead(params.d_model, len(params.horizons), params.quantiles)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        position = (
            self.learned_position
            if self.learned_position is not None
            else self.get_buffer("fixed_position")
        )
        encoded = self.encoder(self.input_proj(x) + position)
        quantiles: torch.Tensor = self.head(encoded[:, -1, :])
        return quantiles


ARCHITECTURES: dict[str, tuple[type[Forecaster], type[ForecasterParams]]] = {
    "lstm": (LSTMForecaster, LSTMParams),
    "transformer": (TransformerForecaster, TransformerParams),
}


def build_model(
    architecture: str, hparams: Mapping[str, Any], seed: int | None = None
) -> Forecaster:
    """A fresh forecaster from its registry name and hparams dict (as ``to_dict`` wrote it).

    With ``seed`` the initial weights are reproducible (torch's global generator is seeded).

    Raises :class:`NeuralError` naming the known architectures, or listing what is wrong with
    the hparams.
    """
    entry = ARCHITECTURES.get(architecture.strip().lower())
    if entry is None:
        known = ", ".join(sorted(ARCHITECTURES))
        raise NeuralError(
            f"unknown architecture {architecture!r}; known: {known}", architecture=architecture
        )
    model_cls, params_cls = entry
    try:
        params = params_cls.model_validate(dict(hparams))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'hparams'}: {err['msg']}"
            for err in exc.errors()
        )
        raise NeuralError(
            f"bad hparams for {architecture}: {problems}", architecture=architecture
        ) from exc
    if seed is not None:
        torch.manual_seed(seed)
    return model_cls(params)


def pinball_loss(
    predictions: torch.Tensor, targets: torch.Tensor, quantiles: tuple[float, ...]
) -> torch.Tensor:
    """Mean quantile (pinball) loss of predictions (B, H, Q) against targets (B, H).

    For quantile ``q`` and error ``e = y - ŷ`` the loss is ``max(q·e, (q-1)·e)``; its minimiser
    is the ``q``-quantile, which is what makes the head's outputs quantiles.
    """
    if predictions.ndim != 3 or predictions.shape[:2] != targets.shape:
        raise NeuralError(
            f"pinball loss needs predictions (B, H, Q) and targets (B, H), got "
            f"{tuple(predictions.shape)} and {tuple(targets.shape)}"
        )
    if predictions.shape[2] != len(quantiles):
        raise NeuralError(
            f"predictions have {predictions.shape[2]} quantiles but {len(quantiles)} were given"
        )
    q = torch.tensor(quantiles, dtype=predictions.dtype, device=predictions.device)
    errors = targets.unsqueeze(-1) - predictions
    return torch.maximum(q * errors, (q - 1.0) * errors).mean()


@torch.no_grad()
def predict(model: Forecaster, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Quantile forecasts (N, H, Q) in eval mode, batched, on the model's device, as CPU float32."""
    model.check_input(x)
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        parts = [
            model(x[i : i + batch_size].to(device)).cpu() for i in range(0, x.shape[0], batch_size)
        ]
    finally:
        model.train(was_training)
    if not parts:
        return torch.empty(0, len(model.horizons), len(model.quantiles))
    return torch.cat(parts)


__all__ = [
    "ARCHITECTURES",
    "Forecaster",
    "ForecasterParams",
    "LSTMForecaster",
    "LSTMParams",
    "QuantileHead",
    "TransformerForecaster",
    "TransformerParams",
    "build_model",
    "pinball_loss",
    "predict",
    "sinusoidal_encoding",
]
