"""Conformal intervals cover what they promise on data with a known distribution."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neural_trader.errors import NeuralError
from neural_trader.neural.conformal import (
    adaptive_conformal,
    conformal_quantile,
    empirical_coverage,
    fit_split_conformal,
)

ALPHA = 0.1


def test_conformal_quantile_uses_the_finite_sample_rank() -> None:
    scores = np.arange(1.0, 20.0)  # n = 19: rank ceil(20 * 0.9) = 18
    assert conformal_quantile(scores, ALPHA) == 18.0
    assert conformal_quantile(scores[:5], ALPHA) == math.inf  # ceil(6 * 0.9) = 6 > 5


def test_split_conformal_covers_one_minus_alpha_on_gaussian_residuals() -> None:
    rng = np.random.default_rng(42)
    n_cal, n_test = 1000, 2000
    cal_pred, test_pred = rng.normal(size=n_cal), rng.normal(size=n_test)
    cal_y = cal_pred + rng.normal(size=n_cal)
    test_y = test_pred + rng.normal(size=n_test)
    fitted = fit_split_conformal(cal_pred, cal_y, ALPHA)
    assert fitted.radius[0] == pytest.approx(1.645, abs=0.1)  # N(0,1) two-sided 90 %
    lower, upper = fitted.interval(test_pred[:, None])
    coverage = empirical_coverage(test_y[:, None], lower, upper)
    standard_error = math.sqrt(ALPHA * (1 - ALPHA) / n_test)
    assert abs(coverage - (1 - ALPHA)) < 3 * standard_error


def test_split_conformal_fits_one_radius_per_horizon() -> None:
    rng = np.random.default_rng(5)
    pred = np.zeros((3000, 2))
    truth = rng.normal(size=(3000, 2)) * np.array([1.0, 4.0])
    fitted = fit_split_conformal(pred, truth, ALPHA)
    assert fitted.radius[1] / fitted.radius[0] == pytest.approx(4.0, rel=0.1)


@pytest.mark.parametrize("window", [None, 500])
def test_aci_recovers_coverage_after_a_variance_shift(window: int | None) -> None:
    rng = np.random.default_rng(7)
    calibration = np.abs(rng.normal(size=500))
    noise = np.concatenate([rng.normal(size=1000), rng.normal(scale=3.0, size=3000)])
    pred = np.zeros(noise.size)
    gamma = 0.01
    result = adaptive_conformal(pred, noise, calibration, ALPHA, gamma=gamma, window=window)
    # Gibbs & Candès: |miss rate - α| <= (max(α_1, 1 - α) + γ) / (γ T), for any sequence
    assert abs(result.errors.mean() - ALPHA) <= result.coverage_bound
    assert result.coverage_bound == pytest.approx((0.9 + 0.01) / (0.01 * 4000))
    late = slice(2500, None)  # well after the shift: back near the target
    assert abs(1 - result.errors[late].mean() - (1 - ALPHA)) < 0.03
    # the fixed split-conformal radius from calm days badly under-covers after the shift
    fixed = fit_split_conformal(np.zeros(500), calibration, ALPHA)
    lower, upper = fixed.interval(pred[1000:, None])
    assert empirical_coverage(noise[1000:, None], lower, upper) < 0.5


def test_aci_widens_after_misses_and_narrows_after_hits() -> None:
    result = adaptive_conformal(
        np.zeros(3), np.array([10.0, 0.0, 0.0]), np.ones(50), ALPHA, gamma=0.05
    )
    assert list(result.errors) == [True, False, False]
    assert result.alphas[1] == pytest.approx(ALPHA + 0.05 * (ALPHA - 1))
    assert result.alphas[2] == pytest.approx(result.alphas[1] + 0.05 * ALPHA)


def test_bad_conformal_inputs_are_clear_errors() -> None:
    with pytest.raises(NeuralError, match="alpha must be strictly between 0 and 1"):
        fit_split_conformal(np.zeros(5), np.zeros(5), 1.5)
    with pytest.raises(NeuralError, match="calibration targets contains NaN"):
        fit_split_conformal(np.zeros(2), np.array([0.0, np.nan]), ALPHA)
    with pytest.raises(NeuralError, match="gamma must be positive"):
        adaptive_conformal(np.zeros(2), np.zeros(2), np.ones(5), ALPHA, gamma=0.0)
