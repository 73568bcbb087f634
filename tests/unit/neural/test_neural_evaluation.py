"""Forecast metrics, baselines and the Diebold–Mariano test against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from neural_trader.errors import NeuralError
from neural_trader.neural.evaluation import (
    HISTORICAL_MEAN,
    RANDOM_WALK,
    compare_forecasts,
    diebold_mariano,
    forecast_metrics,
)


def test_metrics_match_numpy() -> None:
    rng = np.random.default_rng(0)
    truth, pred = rng.normal(size=500), rng.normal(size=500)
    m = forecast_metrics(truth, pred)
    assert m.mae == pytest.approx(np.abs(truth - pred).mean(), rel=1e-12)
    assert m.rmse == pytest.approx(math.sqrt(((truth - pred) ** 2).mean()), rel=1e-12)
    hits = sum(1 for t, p in zip(truth, pred, strict=True) if (t > 0) == (p > 0))
    assert m.directional_accuracy == pytest.approx(hits / 500)


def test_baselines_have_their_closed_forms() -> None:
    rng = np.random.default_rng(1)
    truth = rng.normal(0.001, 0.01, size=(400, 2))
    train_mean = np.array([0.002, -0.003])
    report = compare_forecasts(truth, truth * 0.5, train_mean, (1, 5))
    walk, mean = report.baselines[RANDOM_WALK], report.baselines[HISTORICAL_MEAN]
    for j, h in enumerate((1, 5)):
        y = truth[:, j]
        # random walk forecasts a zero log return: its errors are the outcomes themselves
        assert walk[h].rmse == pytest.approx(math.sqrt(np.mean(y**2)), rel=1e-12)
        assert walk[h].mae == pytest.approx(np.mean(np.abs(y)), rel=1e-12)
        assert walk[h].directional_accuracy is None
        # RMSE of a constant c is sqrt(var + (mean - c)^2)
        expected = math.sqrt(np.var(y) + (np.mean(y) - train_mean[j]) ** 2)
        assert mean[h].rmse == pytest.approx(expected, rel=1e-10)
        share_same_sign = np.mean(np.sign(y) == np.sign(train_mean[j]))
        assert mean[h].directional_accuracy == pytest.approx(share_same_sign)
        # half the outcome is strictly closer than zero: the model beats the random walk
        assert report.model[h].rmse == pytest.approx(walk[h].rmse / 2, rel=1e-12)


def test_verdict_says_plainly_who_wins() -> None:
    truth = np.array([[0.01], [-0.02], [0.03], [-0.01]])
    worse = truth * -3.0  # always the wrong way and too far
    report = compare_forecasts(truth, worse, np.array([0.0005]), (1,))
    assert "beats random walk on RMSE at h=1: no" in report.verdict
    assert "beats historical mean on MAE at h=1: no" in report.verdict
    better = compare_forecasts(truth, truth * 0.9, np.array([0.0005]), (1,))
    assert "beats random walk on RMSE at h=1: yes" in better.verdict
    assert better.model[1].directional_accuracy == 1.0


def test_diebold_mariano_matches_hand_computation_at_h1() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=300), rng.normal(scale=1.2, size=300)
    d = a**2 - b**2
    n = d.size
    dm = d.mean() / math.sqrt(d.var() / n) * math.sqrt((n - 1) / n)
    result = diebold_mariano(a, b, horizon=1)
    assert result.statistic == pytest.approx(dm, rel=1e-10)
    assert result.p_value == pytest.approx(2 * stats.t.sf(abs(dm), n - 1), rel=1e-10)
    assert result.statistic < 0  # a is the more accurate forecast


def test_diebold_mariano_adds_autocovariances_for_longer_horizons() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=200), rng.normal(size=200)
    d = a**2 - b**2
    n, h = d.size, 3
    c = d - d.mean()
    gamma = [np.dot(c[k:], c[: n - k]) / n for k in range(h)]
    variance = gamma[0] + 2 * (gamma[1] + gamma[2])
    correction = math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    expected = d.mean() / math.sqrt(variance / n) * correction
    assert diebold_mariano(a, b, horizon=h).statistic == pytest.approx(expected, rel=1e-10)


def test_identical_forecasts_are_not_significantly_different() -> None:
    e = np.linspace(-1, 1, 50)
    result = diebold_mariano(e, e)
    assert result.statistic == 0.0 and result.p_value == 1.0


def test_bad_evaluation_inputs_are_clear_errors() -> None:
    with pytest.raises(NeuralError, match="y_true has 3 values but y_pred has 2"):
        forecast_metrics([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(NeuralError, match="y_pred contains NaN"):
        forecast_metrics([1.0, 2.0], [1.0, float("nan")])
    with pytest.raises(NeuralError, match=r"must both be \(N, 2\)"):
        compare_forecasts(np.zeros((5, 1)), np.zeros((5, 1)), np.zeros(2), (1, 5))
