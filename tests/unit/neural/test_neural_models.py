"""Quantile forecasters: monotone outputs, the pinball loss, the factory and its errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neural_trader.errors import NeuralError
from neural_trader.neural.models import (
    LSTMForecaster,
    TransformerForecaster,
    build_model,
    pinball_loss,
    predict,
    sinusoidal_encoding,
)

SMALL = {
    "lstm": {"n_features": 5, "window": 10, "hidden_size": 8},
    "transformer": {
        "n_features": 5,
        "window": 10,
        "d_model": 8,
        "n_heads": 2,
        "num_layers": 1,
        "dim_feedforward": 16,
    },
}


def test_pinball_loss_matches_hand_computation() -> None:
    preds = torch.tensor([[[-1.0, 0.0, 2.0]], [[0.5, 1.0, 1.5]]])  # (B=2, H=1, Q=3)
    targets = torch.tensor([[1.0], [0.0]])
    quantiles = (0.1, 0.5, 0.9)
    # e = y - ŷ; loss = max(q e, (q - 1) e)
    # sample 1: e = 2, 1, -1 -> 0.1*2, 0.5*1, 0.1*1
    # sample 2: e = -0.5, -1, -1.5 -> 0.9*0.5, 0.5*1, 0.1*1.5
    hand = (0.2 + 0.5 + 0.1 + 0.45 + 0.5 + 0.15) / 6
    assert float(pinball_loss(preds, targets, quantiles)) == pytest.approx(hand, rel=1e-6)


def test_pinball_loss_is_minimised_by_the_empirical_quantile() -> None:
    y = torch.linspace(0.0, 1.0, 1001).reshape(-1, 1)
    candidates = torch.linspace(0.0, 1.0, 101)
    losses = [
        float(pinball_loss(torch.full((1001, 1, 1), float(c)), y, (0.9,))) for c in candidates
    ]
    assert float(candidates[int(np.argmin(losses))]) == pytest.approx(0.9, abs=0.011)


def test_pinball_loss_rejects_mismatched_shapes() -> None:
    with pytest.raises(NeuralError, match="predictions \\(B, H, Q\\) and targets \\(B, H\\)"):
        pinball_loss(torch.zeros(4, 2, 3), torch.zeros(4, 3), (0.1, 0.5, 0.9))
    with pytest.raises(NeuralError, match="3 quantiles but 2 were given"):
        pinball_loss(torch.zeros(4, 2, 3), torch.zeros(4, 2), (0.1, 0.9))


@pytest.mark.parametrize("architecture", ["lstm", "transformer"])
def test_quantile_outputs_are_monotone_even_with_wild_weights(architecture: str) -> None:
    model = build_model(
        architecture, {**SMALL[architecture], "quantiles": [0.05, 0.25, 0.5, 0.75, 0.95]}, seed=3
    )
    with torch.no_grad():
        for p in model.get_submodule("head").parameters():
            p.normal_(0.0, 5.0)
    out = predict(model, torch.randn(256, 10, 5) * 10)
    assert out.shape == (256, 2, 5)
    assert bool((out.diff(dim=-1) >= 0).all())


@pytest.mark.parametrize("architecture", ["lstm", "transformer"])
def test_hparams_round_trip_through_a_json_dict(architecture: str) -> None:
    model = build_model(architecture, SMALL[architecture], seed=0)
    stored = json.loads(json.dumps(model.params.to_dict()))
    rebuilt = build_model(architecture, stored, seed=0)
    assert rebuilt.params == model.params
    assert type(rebuilt) is type(model)
    x = torch.randn(4, 10, 5)
    assert torch.equal(predict(model, x), predict(rebuilt, x))


def test_learned_positions_are_weights_and_sinusoidal_ones_are_not() -> None:
    learned = build_model("transformer", {**SMALL["transformer"], "positional": "learned"})
    fixed = build_model("transformer", SMALL["transformer"])
    assert isinstance(learned, TransformerForecaster)
    assert "learned_position" in learned.state_dict()
    assert not any("position" in k for k in fixed.state_dict())
    table = sinusoidal_encoding(10, 8)
    assert float(table[3, 0]) == pytest.approx(np.sin(3.0))
    assert float(table[3, 1]) == pytest.approx(np.cos(3.0))


def test_unknown_architecture_names_the_known_ones() -> None:
    with pytest.raises(NeuralError, match="unknown architecture 'gru'; known: lstm, transformer"):
        build_model("gru", SMALL["lstm"])


@pytest.mark.parametrize(
    ("architecture", "change", "message"),
    [
        ("lstm", {"quantiles": [0.1, 0.9]}, "quantiles: .*must include 0.5"),
        ("lstm", {"quantiles": [0.5, 0.1]}, "quantiles: .*increasing"),
        ("lstm", {"hidden_size": 0}, "hidden_size: .*greater than 0"),
        ("lstm", {"horizons": [5, 1]}, "horizons: .*increasing"),
        ("lstm", {"colour": "red"}, "colour: .*Extra inputs"),
        ("transformer", {"n_heads": 3}, "d_model 8 is not divisible by n_heads 3"),
        ("transformer", {"positional": "rotary"}, "positional"),
    ],
)
def test_bad_hparams_are_a_clear_error(
    architecture: str, change: dict[str, object], message: str
) -> None:
    with pytest.raises(NeuralError, match=f"bad hparams for {architecture}: .*{message}"):
        build_model(architecture, {**SMALL[architecture], **change})


@pytest.mark.parametrize("architecture", ["lstm", "transformer"])
@pytest.mark.parametrize("shape", [(4, 10, 6), (4, 12, 5), (10, 5)])
def test_wrong_input_shape_is_a_clear_error(architecture: str, shape: tuple[int, ...]) -> None:
    model = build_model(architecture, SMALL[architecture])
    with pytest.raises(NeuralError, match=r"expects input \(batch, 10, 5\), got"):
        predict(model, torch.zeros(shape))
    with pytest.raises(NeuralError, match=r"expects input \(batch, 10, 5\)"):
        model(torch.zeros(shape))


def test_factory_returns_the_named_classes() -> None:
    assert isinstance(build_model("LSTM", SMALL["lstm"]), LSTMForecaster)
    assert isinstance(build_model("transformer", SMALL["transformer"]), TransformerForecaster)
