"""WGAN-GP on real S&P 500 windows: it learns, samples reproducibly, saves, and fails clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from scipy.stats import wasserstein_distance

from neural_trader.errors import NeuralError
from neural_trader.neural.gan import (
    GanEpochMetrics,
    GanHyperparameters,
    ReturnGan,
    TrainedGan,
    load_gan,
    save_gan,
    scenarios,
    train_gan,
    worst_paths,
)
from neural_trader.neural.stylized import bundled_log_returns, compare

# Small but real: 64-day windows every 4th day of 20 years of S&P 500 returns.
HP = GanHyperparameters(epochs=4, stride=4, seed=0)
N_EVAL = 512


@pytest.fixture(scope="module")
def spx() -> np.ndarray:
    return bundled_log_returns("SPX")


@pytest.fixture(scope="module")
def trained(spx: np.ndarray) -> tuple[TrainedGan, list[GanEpochMetrics]]:
    seen: list[GanEpochMetrics] = []
    return train_gan(spx, HP, on_epoch=seen.append), seen


@pytest.fixture(scope="module")
def untrained(spx: np.ndarray) -> TrainedGan:
    """The same model before its first step: stopped at once, with the data scale set."""
    return train_gan(spx, HP, should_stop=lambda: True)


def _real_windows(spx: np.ndarray) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(spx, HP.window)[:: HP.window // 4]


def test_training_records_every_epoch(trained: tuple[TrainedGan, list[GanEpochMetrics]]) -> None:
    result, seen = trained
    assert not result.stopped
    assert [m.epoch for m in result.history] == list(range(1, HP.epochs + 1))
    assert seen == list(result.history)
    for m in result.history:
        assert all(np.isfinite(v) for v in m.as_dict().values())
        assert m.gradient_penalty >= 0.0
    # The critic is trained to make E[D(real)] - E[D(fake)] large; its loss is its negative
    # plus the penalty, so the recorded pieces must add up.
    for m in result.history:
        expected = -m.wasserstein + HP.gp_weight * m.gradient_penalty
        assert m.critic_loss == pytest.approx(expected, rel=1e-4, abs=1e-4)


def test_training_moves_samples_towards_the_real_distribution(
    spx: np.ndarray, trained: tuple[TrainedGan, list[GanEpochMetrics]], untrained: TrainedGan
) -> None:
    """Both the distance between daily-return marginals and between the distributions of
    per-window volatility fall versus the same generator before training (fixed seeds)."""
    assert untrained.stopped and untrained.history == ()
    real_log_vol = np.log(_real_windows(spx).std(axis=1))
    distances = {}
    for name, model in (("before", untrained.model), ("after", trained[0].model)):
        paths = model.sample(N_EVAL, HP.window, seed=7)
        distances[name] = (
            wasserstein_distance(paths.ravel(), spx),
            wasserstein_distance(np.log(paths.std(axis=1)), real_log_vol),
        )
    (marginal_before, vol_before), (marginal_after, vol_after) = distances.values()
    assert marginal_after < 0.85 * marginal_before
    assert vol_after < 0.95 * vol_before


def test_samples_have_shape_scale_and_are_reproducible(
    spx: np.ndarray, trained: tuple[TrainedGan, list[GanEpochMetrics]]
) -> None:
    model = trained[0].model
    paths = model.sample(300, 100, seed=3)
    assert paths.shape == (300, 100)
    assert paths.dtype == np.float64
    assert np.all(np.isfinite(paths))
    assert 0.25 * spx.std() < paths.std() < 4.0 * spx.std()
    np.testing.assert_array_equal(paths, model.sample(300, 100, seed=3))
    assert not np.array_equal(paths, model.sample(300, 100, seed=4))
    for regime in ("low", "high"):
        assert model.sample(10, 64, regime=regime, seed=0).shape == (10, 64)


def test_training_is_deterministic_for_a_seed(spx: np.ndarray) -> None:
    hp = GanHyperparameters(epochs=1, stride=16, seed=5)
    first, second = train_gan(spx, hp), train_gan(spx, hp)
    assert [m.critic_loss for m in first.history] == [m.critic_loss for m in second.history]
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[key]), key


def test_should_stop_cancels_mid_training(spx: np.ndarray) -> None:
    calls = 0

    def stop_after_25_steps() -> bool:
        nonlocal calls
        calls += 1
        return calls > 25

    hp = GanHyperparameters(epochs=50, stride=16, seed=1)
    result = train_gan(spx, hp, should_stop=stop_after_25_steps)
    assert result.stopped
    batches_per_epoch = ((len(spx) - hp.window) // hp.stride + 1) // hp.batch_size
    assert len(result.history) == 25 // batches_per_epoch


def test_save_load_round_trip_gives_bit_identical_samples(
    tmp_path: Path, trained: tuple[TrainedGan, list[GanEpochMetrics]]
) -> None:
    model = trained[0].model
    path = tmp_path / "gan.safetensors"
    save_gan(model, path)
    loaded = load_gan(path)
    assert loaded.hparams == model.hparams
    for regime in (None, "low", "high"):
        np.testing.assert_array_equal(
            loaded.sample(64, 80, regime=regime, seed=11),
            model.sample(64, 80, regime=regime, seed=11),
        )


def test_hyperparameters_round_trip_through_a_dict() -> None:
    hp = GanHyperparameters(window=96, dilations=(1, 3, 9), regime_conditioning=False)
    as_dict = hp.as_dict()
    assert as_dict["dilations"] == [1, 3, 9]
    assert GanHyperparameters.from_dict(as_dict) == hp
    assert hp.burn_in == (hp.kernel_size - 1) * 13


def test_compare_reports_every_fact_for_generated_paths(
    spx: np.ndarray, trained: tuple[TrainedGan, list[GanEpochMetrics]]
) -> None:
    synthetic = trained[0].model.sample(400, HP.window, seed=2)
    report = compare(spx, synthetic)
    verdicts = report.as_dict()["verdicts"]
    assert set(verdicts) == {
        "fat_tails",
        "power_tail",
        "no_autocorrelation",
        "volatility_clustering",
        "slow_decay",
        "leverage_effect",
    }
    assert report.synthetic.n_observations == synthetic.size
    assert all(v["verdict"] for v in verdicts.values())


def test_scenarios_are_cumulative_generated_returns(
    trained: tuple[TrainedGan, list[GanEpochMetrics]],
) -> None:
    model = trained[0].model
    cumulative = scenarios(model, 200, 20, seed=9)
    expected = np.exp(np.cumsum(model.sample(200, 20, seed=9), axis=1)) - 1.0
    np.testing.assert_allclose(cumulative, expected, rtol=1e-12, atol=1e-15)
    worst = worst_paths(cumulative, 5)
    np.testing.assert_array_equal(worst[:, -1], np.sort(cumulative[:, -1])[:5])


def test_worst_paths_by_drawdown() -> None:
    cumulative = np.array(
        [
            [0.10, 0.20, 0.15],  # peak 1.2 -> 1.15: drawdown -4.2%
            [-0.05, -0.30, 0.05],  # 1 -> 0.70: drawdown -30%, ends up
            [-0.02, -0.04, -0.06],  # drawdown -6%, worst final return
        ]
    )
    np.testing.assert_array_equal(worst_paths(cumulative, 1, by="drawdown"), cumulative[[1]])
    np.testing.assert_array_equal(worst_paths(cumulative, 1, by="final"), cumulative[[2]])
    np.testing.assert_array_equal(worst_paths(cumulative, 3, by="drawdown"), cumulative[[1, 2, 0]])


@pytest.mark.parametrize(
    "overrides",
    [
        {"window": 4},
        {"batch_size": 0},
        {"lr_generator": -1e-4},
        {"gp_weight": float("nan")},
        {"num_threads": 8},
        {"dilations": ()},
        {"beta2": 1.0},
        {"epochs": True},
    ],
)
def test_bad_hyperparameters_raise(overrides: dict[str, object]) -> None:
    with pytest.raises(NeuralError):
        GanHyperparameters(**overrides)  # type: ignore[arg-type]


def test_bad_training_data_raise(spx: np.ndarray) -> None:
    hp = GanHyperparameters(epochs=1)
    with pytest.raises(NeuralError, match="too short"):
        train_gan(spx[:100], hp)
    with_nan = spx.copy()
    with_nan[500] = np.nan
    with pytest.raises(NeuralError, match="NaN"):
        train_gan(with_nan, hp)
    with pytest.raises(NeuralError, match="1-D"):
        train_gan(spx.reshape(-1, 10), hp)
    with pytest.raises(NeuralError, match="constant"):
        train_gan(np.zeros(1000), hp)
    with pytest.raises(NeuralError, match="unknown GAN hyperparameters"):
        GanHyperparameters.from_dict({"window": 64, "learning_rate": 0.1})


def test_bad_sampling_requests_raise(tmp_path: Path) -> None:
    conditioned = ReturnGan(GanHyperparameters())
    with pytest.raises(NeuralError, match="unknown regime"):
        conditioned.sample(4, 10, regime="crash")
    with pytest.raises(NeuralError, match="positive"):
        conditioned.sample(0, 10)
    plain = ReturnGan(GanHyperparameters(regime_conditioning=False))
    with pytest.raises(NeuralError, match="without regime conditioning"):
        plain.sample(4, 10, regime="high")
    with pytest.raises(NeuralError):
        worst_paths(np.zeros((3, 5)), 0)
    with pytest.raises(NeuralError, match="cannot read"):
        load_gan(tmp_path / "missing.safetensors")
    bare = tmp_path / "bare.safetensors"
    save_file({"x": torch.zeros(2)}, str(bare))
    with pytest.raises(NeuralError, match="no GAN hyperparameters"):
        load_gan(bare)
    small = tmp_path / "small.safetensors"
    save_gan(ReturnGan(GanHyperparameters(hidden=8)), small)
    wrong = tmp_path / "wrong.safetensors"
    save_file(
        load_gan(small).state_dict(),
        str(wrong),
        metadata={"neural_trader.gan.hparams": '{"hidden": 16}'},
    )
    with pytest.raises(NeuralError, match="do not fit"):
        load_gan(wrong)
