"""Stylized-fact statistics against scipy/statsmodels/numpy references, on real and null data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.tsa.stattools import acf

from neural_trader.errors import NeuralError
from neural_trader.neural.stylized import (
    abs_autocorrelation,
    autocorrelation,
    bundled_log_returns,
    compare,
    excess_kurtosis,
    hill_tail_index,
    leverage_effect,
    log_returns,
    stylized_facts,
)

LAGS = 10


@pytest.fixture(scope="module")
def spx() -> np.ndarray:
    return bundled_log_returns("SPX")


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    return np.random.default_rng(12345).standard_normal(5000)


def test_log_returns_match_numpy_on_prices() -> None:
    prices = np.array([100.0, 101.0, 99.5, 102.0])
    np.testing.assert_allclose(log_returns(prices), np.log(prices[1:] / prices[:-1]))


def test_kurtosis_matches_scipy(spx: np.ndarray) -> None:
    assert excess_kurtosis(spx) == pytest.approx(stats.kurtosis(spx), rel=1e-12)
    batch = spx[: 64 * 70].reshape(70, 64)
    assert excess_kurtosis(batch) == pytest.approx(stats.kurtosis(batch.ravel()), rel=1e-12)


def test_acf_matches_statsmodels(spx: np.ndarray) -> None:
    expected_raw = acf(spx, nlags=LAGS, adjusted=True, fft=False)[1:]
    expected_abs = acf(np.abs(spx), nlags=LAGS, adjusted=True, fft=False)[1:]
    np.testing.assert_allclose(autocorrelation(spx, LAGS), expected_raw, atol=1e-12)
    np.testing.assert_allclose(abs_autocorrelation(spx, LAGS), expected_abs, atol=1e-12)


def test_leverage_matches_numpy_corrcoef(spx: np.ndarray) -> None:
    expected = [np.corrcoef(spx[:-k], spx[k:] ** 2)[0, 1] for k in range(1, LAGS + 1)]
    np.testing.assert_allclose(leverage_effect(spx, LAGS), expected, atol=1e-12)


def test_pooled_batch_acf_agrees_with_long_series() -> None:
    """Cutting one AR(1) series into paths must not bias the lag-k estimates towards zero."""
    rng = np.random.default_rng(7)
    n, phi = 64 * 400, 0.5
    x = np.empty(n)
    x[0] = rng.standard_normal()
    for t in range(1, n):
        x[t] = phi * x[t - 1] + rng.standard_normal()
    paths = x.reshape(400, 64)
    theory = phi ** np.arange(1, 6)
    np.testing.assert_allclose(autocorrelation(paths, 5), theory, atol=0.03)


def test_hill_estimate_recovers_a_pareto_tail_index() -> None:
    rng = np.random.default_rng(3)
    alpha = 3.0
    magnitudes = rng.pareto(alpha, 40_000) + 1.0
    signed = magnitudes * rng.choice([-1.0, 1.0], size=magnitudes.size)
    assert hill_tail_index(signed) == pytest.approx(alpha, rel=0.1)


def test_real_spx_shows_the_stylized_facts(spx: np.ndarray) -> None:
    facts = stylized_facts(spx, LAGS)
    assert facts.excess_kurtosis > 3.0
    assert 2.0 < facts.hill_tail_index < 5.0
    max_raw = max(abs(v) for v in facts.acf_returns)
    assert max_raw < 0.1
    assert facts.acf_abs[0] > 0.1
    assert facts.acf_abs[0] > max_raw
    assert min(facts.acf_abs) > 0.1  # still clearly positive at lag 10: slow decay
    assert facts.leverage[0] < 0.0
    assert np.mean(facts.leverage) < 0.0


def test_gaussian_noise_has_no_clustering_or_leverage(noise: np.ndarray) -> None:
    bound = 3.0 / math.sqrt(noise.size)
    facts = stylized_facts(noise, LAGS)
    assert abs(facts.excess_kurtosis) < 3.0 * math.sqrt(24.0 / noise.size)
    assert max(abs(v) for v in facts.acf_returns) < bound
    assert max(abs(v) for v in facts.acf_abs) < bound
    assert max(abs(v) for v in facts.leverage) < bound
    assert facts.hill_tail_index > 5.0


def test_compare_reports_every_fact_side_by_side(spx: np.ndarray, noise: np.ndarray) -> None:
    report = compare(spx, noise.reshape(50, 100) * spx.std(), LAGS)
    facts = {v.fact for v in report.verdicts}
    assert facts == {
        "fat_tails",
        "power_tail",
        "no_autocorrelation",
        "volatility_clustering",
        "slow_decay",
        "leverage_effect",
    }
    assert all(v.real_holds for v in report.verdicts)
    reproduced = report.reproduced
    assert reproduced["no_autocorrelation"] is True
    for fact in ("fat_tails", "power_tail", "volatility_clustering", "slow_decay"):
        assert reproduced[fact] is False, fact
    as_dict = report.as_dict()
    assert set(as_dict["verdicts"]) == facts
    assert as_dict["real"]["excess_kurtosis"] == pytest.approx(stats.kurtosis(spx))
    assert len(as_dict["synthetic"]["acf_abs"]) == LAGS
    assert "missing" in as_dict["verdicts"]["fat_tails"]["verdict"]
    assert len(report.summary().splitlines()) == len(facts)


@pytest.mark.parametrize(
    "bad",
    [
        np.array([0.01, np.nan] * 40),
        np.array([0.01, np.inf] * 40),
        np.zeros((2, 3, 10)),
        np.array([0.01, -0.02, 0.03]),
    ],
    ids=["nan", "inf", "3d", "too-short"],
)
def test_bad_series_raise_neural_error(bad: np.ndarray) -> None:
    with pytest.raises(NeuralError):
        stylized_facts(bad)


def test_bad_arguments_raise_neural_error(noise: np.ndarray) -> None:
    with pytest.raises(NeuralError, match="max_lag"):
        autocorrelation(noise.reshape(500, 10), max_lag=10)
    with pytest.raises(NeuralError, match="max_lag"):
        leverage_effect(noise, max_lag=0)
    with pytest.raises(NeuralError, match="constant"):
        excess_kurtosis(np.ones(100))
    with pytest.raises(NeuralError, match="tail_fraction"):
        hill_tail_index(noise, tail_fraction=0.7)
    with pytest.raises(NeuralError, match="positive"):
        log_returns([100.0, 0.0, 101.0])
