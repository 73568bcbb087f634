"""Deflated and probabilistic Sharpe ratios: the paper's published example, a case worked by
hand from the formula, and simulations of what the statistics claim to measure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neural_trader.optimize.deflated import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    return_moments,
)


def test_bailey_lopez_de_prado_2014_numerical_example() -> None:
    """Their example: annual SR 2.5 over 5 years of daily returns (T = 1250), skew -3,
    kurtosis 10, chosen among N = 100 trials whose annual Sharpe ratios have variance 0.5.
    The paper reports SR0 = 0.1132 (daily) and DSR = 0.9004."""
    sr = 2.5 / math.sqrt(250)
    variance = 0.5 / 250
    assert expected_max_sharpe(100, variance) == pytest.approx(0.1132, abs=5e-5)
    assert deflated_sharpe_ratio(sr, 100, variance, 1250, -3.0, 10.0) == pytest.approx(
        0.9004, abs=5e-5
    )


def test_hand_worked_case() -> None:
    """SR 0.08, N 20, V 0.0009, T 750, skew -0.5, kurtosis 5, worked by hand:

    Φ⁻¹(1 - 1/20) = 1.644854, Φ⁻¹(1 - 1/(20e)) = 2.088110,
    SR0 = √0.0009 · (0.4227843·1.644854 + 0.5772157·2.088110) = 0.03 · 1.900707 = 0.0570212;
    the estimator's variance factor is 1 + 0.5·0.08 + (5 - 1)/4·0.08² = 1.0464;
    z = (0.08 - 0.0570212)·√749 / √1.0464 = 0.614778, and DSR = Φ(z) = 0.730649.
    """
    assert expected_max_sharpe(20, 0.0009) == pytest.approx(0.0570212, abs=1e-7)
    assert deflated_sharpe_ratio(0.08, 20, 0.0009, 750, -0.5, 5.0) == pytest.approx(
        0.730649, abs=1e-6
    )
    # with a single trial nothing was selected: the benchmark is 0 and DSR is PSR(0)
    assert deflated_sharpe_ratio(0.08, 1, 0.0009, 750, -0.5, 5.0) == pytest.approx(
        probabilistic_sharpe_ratio(0.08, 0.0, 750, -0.5, 5.0)
    )


def test_expected_max_sharpe_matches_simulated_maxima() -> None:
    """The formula approximates E[max of N iid N(0, V)], better as N grows; simulate it."""
    rng = np.random.default_rng(11)
    variance = 0.04
    for n, rel in ((10, 0.05), (100, 0.02), (1000, 0.02)):
        maxima = rng.normal(0.0, math.sqrt(variance), size=(5_000, n)).max(axis=1)
        assert expected_max_sharpe(n, variance) == pytest.approx(maxima.mean(), rel=rel)


def _simulate_psr(returns: np.ndarray, true_sr: float) -> np.ndarray:
    out = []
    for row in returns:
        sr, skew, kurt, n = return_moments(row)
        out.append(probabilistic_sharpe_ratio(sr, true_sr, n, skew, kurt))
    return np.asarray(out)


@pytest.mark.parametrize("dist", ["normal", "exponential"])
def test_psr_at_the_true_sharpe_is_calibrated(dist: str) -> None:
    """At the true Sharpe ratio, PSR is a p-value: above 0.95 about 5 % of the time, also for
    skewed, fat-tailed returns (exponential: skewness 2, kurtosis 9), which is what its
    higher-moment correction is for."""
    rng = np.random.default_rng(7)
    sims, t, true_sr = 4_000, 1_000, 0.1
    if dist == "normal":
        returns = rng.normal(true_sr, 1.0, size=(sims, t))
    else:
        returns = rng.exponential(1.0, size=(sims, t)) - 1.0 + true_sr  # mean SR, sd 1
    psr = _simulate_psr(returns, true_sr)
    assert np.mean(psr > 0.95) == pytest.approx(0.05, abs=0.015)
    assert np.mean(psr > 0.5) == pytest.approx(0.5, abs=0.04)


def test_sharpe_estimator_spread_matches_the_closed_form() -> None:
    """Lo (2002) / Mertens (2002): for normal returns the Sharpe estimate has variance
    (1 + SR²/2)/T asymptotically, the PSR denominator with skew 0 and kurtosis 3."""
    rng = np.random.default_rng(5)
    true_sr, t = 0.2, 500
    returns = rng.normal(true_sr, 1.0, size=(20_000, t))
    estimates = returns.mean(axis=1) / returns.std(axis=1, ddof=1)
    assert estimates.std() == pytest.approx(math.sqrt((1 + true_sr**2 / 2) / (t - 1)), rel=0.03)


def test_return_moments_and_degenerate_inputs() -> None:
    r = np.array([0.01, -0.02, 0.03, 0.0, 0.01])
    sr, skew, kurt, n = return_moments(r)
    d = r - r.mean()
    assert n == 5
    assert sr == pytest.approx(r.mean() / r.std(ddof=1))
    assert skew == pytest.approx(np.mean(d**3) / np.mean(d**2) ** 1.5)
    assert kurt == pytest.approx(np.mean(d**4) / np.mean(d**2) ** 2)
    assert math.isnan(return_moments(np.zeros(10))[0])
    assert math.isnan(probabilistic_sharpe_ratio(0.1, 0.0, 1))
    assert math.isnan(probabilistic_sharpe_ratio(0.5, 0.0, 100, skew=10.0, kurtosis=1.0))
    assert expected_max_sharpe(5, 0.0) == 0.0
