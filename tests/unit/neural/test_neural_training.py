"""Training on real SPX windows: loss falls, runs reproduce, checkpoints survive safetensors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from neural_trader.errors import NeuralError
from neural_trader.neural.evaluation import HISTORICAL_MEAN, RANDOM_WALK, evaluate_model
from neural_trader.neural.features import ForecastDataset
from neural_trader.neural.models import Forecaster, build_model, predict
from neural_trader.neural.training import (
    EpochMetrics,
    TrainConfig,
    TrainResult,
    train_model,
    validation_loss,
)

HPARAMS = {
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
FAST = TrainConfig(epochs=4, batch_size=32, learning_rate=1e-2, patience=10, seed=7)


def _fresh(architecture: str) -> Forecaster:
    return build_model(architecture, HPARAMS[architecture], seed=11)


@pytest.fixture(scope="module", params=["lstm", "transformer"])
def trained(request: pytest.FixtureRequest, spx_dataset: ForecastDataset) -> TrainResult:
    model = _fresh(request.param)
    return train_model(model, spx_dataset.train, spx_dataset.val, FAST)


def test_train_loss_falls_and_metrics_are_recorded(trained: TrainResult) -> None:
    history = trained.history
    assert [m.epoch for m in history] == [1, 2, 3, 4]
    assert history[-1].train_loss < history[0].train_loss
    assert all(m.seconds > 0 and m.val_loss > 0 for m in history)
    assert trained.best_epoch is not None
    assert trained.best_val_loss == min(m.val_loss for m in history)
    assert not trained.cancelled and not trained.stopped_early
    assert trained.device == "cpu"


def test_best_checkpoint_is_what_the_model_holds(
    trained: TrainResult, spx_dataset: ForecastDataset
) -> None:
    assert validation_loss(trained.model, spx_dataset.val) == pytest.approx(
        trained.best_val_loss, rel=1e-6
    )


def test_safetensors_round_trip_gives_bit_identical_predictions(
    trained: TrainResult, spx_dataset: ForecastDataset, tmp_path: Path
) -> None:
    path = tmp_path / "model.safetensors"
    save_file(trained.model.state_dict(), str(path))
    architecture = trained.model.architecture
    fresh = build_model(architecture, trained.model.params.to_dict(), seed=999)
    assert not torch.equal(
        predict(fresh, spx_dataset.test.x), predict(trained.model, spx_dataset.test.x)
    )
    fresh.load_state_dict(load_file(str(path)))
    assert torch.equal(
        predict(fresh, spx_dataset.test.x), predict(trained.model, spx_dataset.test.x)
    )


def test_evaluation_report_on_a_trained_model(
    trained: TrainResult, spx_dataset: ForecastDataset
) -> None:
    report = evaluate_model(trained.model, spx_dataset)
    assert report.n_test == len(spx_dataset.test)
    assert set(report.baselines) == {RANDOM_WALK, HISTORICAL_MEAN}
    assert len(report.verdict) == 2 * 2 * 2  # horizons x baselines x metrics
    assert all(line.endswith((": yes", ": no")) for line in report.verdict)
    assert report.verdict[0].startswith("beats random walk on RMSE at h=1: ")
    assert 0.0 <= report.diebold_mariano[5].p_value <= 1.0
    assert json.loads(json.dumps(report.to_dict()))["horizons"] == [1, 5]


def test_same_seed_gives_identical_weights(spx_dataset: ForecastDataset) -> None:
    config = replace(FAST, epochs=2)
    first = train_model(_fresh("lstm"), spx_dataset.train, spx_dataset.val, config).model
    second = train_model(_fresh("lstm"), spx_dataset.train, spx_dataset.val, config).model
    for (name, a), (_, b) in zip(
        first.state_dict().items(), second.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_early_stopping_restores_the_best_epoch(spx_dataset: ForecastDataset) -> None:
    calls: list[tuple[int, int, EpochMetrics]] = []
    # no later epoch can improve by a whole unit of loss, so epoch 2 exhausts patience 1
    config = replace(FAST, epochs=10, patience=1, min_delta=1.0)
    result = train_model(
        _fresh("lstm"),
        spx_dataset.train,
        spx_dataset.val,
        config,
        on_epoch=lambda e, total, m: calls.append((e, total, m)),
    )
    assert result.stopped_early and result.best_epoch == 1
    assert [(e, total) for e, total, _ in calls] == [(1, 10), (2, 10)]
    assert calls[1][2] == result.history[1]
    assert validation_loss(result.model, spx_dataset.val) == pytest.approx(
        result.history[0].val_loss, rel=1e-6
    )


def test_should_stop_cancels_cleanly_between_batches(spx_dataset: ForecastDataset) -> None:
    batches_per_epoch = -(-len(spx_dataset.train) // FAST.batch_size)
    polls = 0

    def stop_in_second_epoch() -> bool:
        nonlocal polls
        polls += 1
        return polls > batches_per_epoch + 3

    result = train_model(
        _fresh("lstm"), spx_dataset.train, spx_dataset.val, FAST, should_stop=stop_in_second_epoch
    )
    assert result.cancelled and not result.stopped_early
    assert len(result.history) == 1 and result.best_epoch == 1
    assert validation_loss(result.model, spx_dataset.val) == pytest.approx(
        result.history[0].val_loss, rel=1e-6
    )


def test_bad_training_inputs_are_clear_errors(spx_dataset: ForecastDataset) -> None:
    train = spx_dataset.train
    poisoned_x = train.x.clone()
    poisoned_x[3, 4, 1] = float("nan")
    with pytest.raises(NeuralError, match="train split contains NaN or inf"):
        train_model(_fresh("lstm"), replace(train, x=poisoned_x), spx_dataset.val, FAST)
    with pytest.raises(NeuralError, match=r"expects input \(batch, 10, 5\), got \(1, 10, 4\)"):
        train_model(_fresh("lstm"), replace(train, x=train.x[:, :, :4]), spx_dataset.val, FAST)
    with pytest.raises(NeuralError, match="at least 1"):
        TrainConfig(epochs=0)
