"""Position sizing against closed forms, hand-computed cases and independent numerical optima
(scipy maximising expected log wealth / the quadratic growth approximation)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import optimize

from neural_trader.errors import RiskError
from neural_trader.risk.sizing import (
    MultiSizeResult,
    SizeResult,
    fixed_fractional,
    fractional_kelly,
    kelly_continuous,
    kelly_discrete,
    kelly_multi_asset,
    volatility_target,
)

# ----------------------------------------------------------------------------- fixed fractional


def test_fixed_fractional_long_by_hand() -> None:
    # risk 1% of 100,000 = 1,000 over a 2.00 stop distance -> 500 units = 25,000 notional.
    res = fixed_fractional(100_000.0, 0.01, 50.0, 48.0)
    assert res.quantity == pytest.approx(500.0, rel=1e-12)
    assert res.fraction == pytest.approx(0.25, rel=1e-12)


def test_fixed_fractional_short_stop_above_entry() -> None:
    # 2% of 40,000 = 800 over |20 - 20.5| = 0.5 -> 1,600 units = 32,000 notional = 0.8 of equity.
    res = fixed_fractional(40_000.0, 0.02, 20.0, 20.5)
    assert res.quantity == pytest.approx(1_600.0, rel=1e-12)
    assert res.fraction == pytest.approx(0.8, rel=1e-12)


def test_fixed_fractional_zero_distance_is_no_trade() -> None:
    res = fixed_fractional(100_000.0, 0.01, 50.0, 50.0)
    assert res.fraction == 0.0
    assert res.quantity == 0.0
    assert "zero risk distance" in res.reason


def test_fixed_fractional_without_equity_is_no_trade() -> None:
    res = fixed_fractional(0.0, 0.01, 50.0, 48.0)
    assert res.fraction == 0.0
    assert "no equity" in res.reason


@pytest.mark.parametrize(
    ("equity", "risk", "entry", "stop"),
    [
        (1e5, 0.01, -50.0, 48.0),  # negative entry price
        (1e5, 0.01, 50.0, -1.0),  # negative stop price
        (1e5, 0.01, 0.0, 1.0),  # zero entry price
        (1e5, 0.0, 50.0, 48.0),  # risk fraction outside (0, 1]
        (1e5, 1.5, 50.0, 48.0),
        (1e5, 0.01, math.nan, 48.0),
    ],
)
def test_fixed_fractional_misuse_raises(
    equity: float, risk: float, entry: float, stop: float
) -> None:
    with pytest.raises(RiskError):
        fixed_fractional(equity, risk, entry, stop)


# ----------------------------------------------------------------------------- volatility target

ALTERNATING = np.array([0.01, -0.01, 0.01, -0.01])
# mean 0, sum of squares 4e-4, sample variance 4e-4 / 3.
ALTERNATING_ANNUAL_VOL = math.sqrt(4e-4 / 3) * math.sqrt(252)


def test_volatility_target_by_hand() -> None:
    res = volatility_target(ALTERNATING, 0.10)
    assert abs(ALTERNATING_ANNUAL_VOL - 0.183303) < 1e-6
    assert res.fraction == pytest.approx(0.10 / ALTERNATING_ANNUAL_VOL, rel=1e-12)
    assert res.fraction == pytest.approx(0.545545, abs=1e-6)
    assert res.quantity is None


def test_volatility_target_capped_at_max_leverage() -> None:
    uncapped = 0.5 / ALTERNATING_ANNUAL_VOL  # about 2.7277
    capped = volatility_target(ALTERNATING, 0.5)
    assert capped.fraction == 1.0
    assert "max_leverage" in capped.reason
    loose = volatility_target(ALTERNATING, 0.5, max_leverage=3.0)
    assert loose.fraction == pytest.approx(uncapped, rel=1e-12)


def test_volatility_target_periods_per_year() -> None:
    # weekly bars: annual vol = sd * sqrt(52)
    res = volatility_target(ALTERNATING, 0.05, periods_per_year=52)
    assert res.fraction == pytest.approx(0.05 / (math.sqrt(4e-4 / 3) * math.sqrt(52)), rel=1e-12)


@pytest.mark.parametrize(
    ("returns", "word"),
    [
        (np.full(10, 0.003), "zero realised volatility"),
        (np.full(20, 0.001), "zero realised volatility"),
        (np.zeros(5), "zero realised volatility"),
        (np.array([0.01, math.nan, -0.02]), "NaN"),
        (np.array([0.01]), "at least 2"),
    ],
)
def test_volatility_target_degenerate_is_no_trade(returns: np.ndarray, word: str) -> None:
    res = volatility_target(returns, 0.1)
    assert res.fraction == 0.0
    assert word in res.reason


def test_volatility_target_misuse_raises() -> None:
    with pytest.raises(RiskError):
        volatility_target(ALTERNATING, 0.0)
    with pytest.raises(RiskError):
        volatility_target(ALTERNATING, 0.1, max_leverage=0.0)
    with pytest.raises(RiskError):
        volatility_target(np.ones((3, 2)), 0.1)


# ----------------------------------------------------------------------------- discrete Kelly


def _argmax_expected_log_wealth(p: float, b: float) -> float:
    def neg_growth(f: float) -> float:
        return -(p * math.log1p(f * b) + (1 - p) * math.log1p(-f))

    opt = optimize.minimize_scalar(
        neg_growth, bounds=(0.0, 1.0 - 1e-9), method="bounded", options={"xatol": 1e-12}
    )
    return float(opt.x)


@pytest.mark.parametrize(
    ("p", "b", "closed_form"),
    [
        (0.6, 1.0, 0.2),
        (0.55, 2.0, 0.325),
        (0.3, 4.0, 0.125),
        (0.9, 0.5, 0.7),
    ],
)
def test_kelly_discrete_closed_form_and_log_wealth_optimum(
    p: float, b: float, closed_form: float
) -> None:
    res = kelly_discrete(p, b)
    assert res.fraction == pytest.approx(closed_form, abs=1e-12)
    assert res.fraction == pytest.approx(_argmax_expected_log_wealth(p, b), abs=1e-6)
    assert res.quantity is None


@pytest.mark.parametrize(("p", "b"), [(0.5, 1.0), (0.3, 1.0), (0.2, 3.0), (0.0, 5.0)])
def test_kelly_discrete_no_edge(p: float, b: float) -> None:
    res = kelly_discrete(p, b)
    assert res.fraction == 0.0
    assert res.reason == "no edge"
    # The log-wealth optimum over [0, 1) sits at the boundary 0 too.
    assert _argmax_expected_log_wealth(p, b) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(("p", "b"), [(-0.1, 1.0), (1.2, 1.0), (0.6, 0.0), (0.6, -2.0)])
def test_kelly_discrete_misuse_raises(p: float, b: float) -> None:
    with pytest.raises(RiskError):
        kelly_discrete(p, b)


# ----------------------------------------------------------------------------- continuous Kelly

HAND_RETURNS = np.array([0.01, -0.02, 0.03, 0.0])
# mean = 0.02 / 4 = 0.005; deviations 0.005, -0.025, 0.025, -0.005
# sample variance = (2.5e-5 + 6.25e-4 + 6.25e-4 + 2.5e-5) / 3 = 1.3e-3 / 3
HAND_MEAN = 0.005
HAND_VAR = 1.3e-3 / 3


def test_kelly_continuous_by_hand() -> None:
    res = kelly_continuous(HAND_RETURNS)
    assert res.fraction == pytest.approx(HAND_MEAN / HAND_VAR, rel=1e-12)
    assert res.fraction == pytest.approx(11.538461538, rel=1e-9)


def test_kelly_continuous_risk_free_is_annual() -> None:
    # 25.2% a year over 252 periods is 0.001 per period.
    res = kelly_continuous(HAND_RETURNS, risk_free=0.252, periods_per_year=252)
    assert res.fraction == pytest.approx((HAND_MEAN - 0.001) / HAND_VAR, rel=1e-12)


def test_kelly_continuous_negative_edge_is_short() -> None:
    res = kelly_continuous(-HAND_RETURNS)
    assert res.fraction == pytest.approx(-HAND_MEAN / HAND_VAR, rel=1e-12)


def test_kelly_continuous_matches_max_log_growth_of_simulated_series() -> None:
    rng = np.random.default_rng(11)
    r = np.expm1(rng.normal(0.0004, 0.01, 50_000))

    def neg_mean_log_growth(f: float) -> float:
        return -float(np.mean(np.log1p(f * r)))

    opt = optimize.minimize_scalar(
        neg_mean_log_growth, bounds=(-15.0, 15.0), method="bounded", options={"xatol": 1e-10}
    )
    # μ/σ² is the second-order (small-return) optimum; with 1% daily vol they agree to ~1%.
    res = kelly_continuous(r)
    assert res.fraction == pytest.approx(float(opt.x), rel=0.02)


@pytest.mark.parametrize(
    ("returns", "word"),
    [
        (np.full(20, 0.001), "zero variance"),
        (np.zeros(5), "zero variance"),
        (np.full(37, -0.0137), "zero variance"),
        (np.array([0.01, -0.02, math.nan, 0.03]), "NaN"),
        (np.array([0.01, math.inf, 0.0]), "NaN or infinite"),
        (np.array([], dtype=float), "at least 2"),
    ],
)
def test_kelly_continuous_degenerate_is_no_trade(returns: np.ndarray, word: str) -> None:
    res = kelly_continuous(returns)
    assert res.fraction == 0.0
    assert word in res.reason


# ----------------------------------------------------------------------------- multi-asset Kelly


def _correlated_returns(seed: int = 5, n: int = 2_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mu = np.array([0.0006, 0.0003, -0.0002])
    a = np.array([[0.012, 0.0, 0.0], [0.006, 0.009, 0.0], [-0.003, 0.002, 0.015]])
    return np.asarray(mu + rng.standard_normal((n, 3)) @ a.T, dtype=np.float64)


def test_kelly_multi_asset_against_solve_and_quadratic_growth_optimum() -> None:
    x = _correlated_returns()
    res = kelly_multi_asset(x)

    mu = x.mean(axis=0)
    centred = x - mu
    sigma = centred.T @ centred / (x.shape[0] - 1)
    expected = np.linalg.solve(sigma, mu)
    np.testing.assert_allclose(res.weights, expected, rtol=1e-10, atol=1e-12)

    def neg_growth(w: np.ndarray) -> float:
        return -float(mu @ w - 0.5 * w @ sigma @ w)

    def neg_growth_grad(w: np.ndarray) -> np.ndarray:
        return np.asarray(sigma @ w - mu, dtype=np.float64)

    opt = optimize.minimize(
        neg_growth, np.zeros(3), jac=neg_growth_grad, method="BFGS", options={"gtol": 1e-14}
    )
    np.testing.assert_allclose(res.weights, opt.x, atol=1e-6)
    assert res.reason == "kelly"


def test_kelly_multi_asset_risk_free_is_annual() -> None:
    x = _correlated_returns(seed=8)
    res = kelly_multi_asset(x, risk_free=0.05, periods_per_year=252)
    sigma = np.cov(x.T)
    expected = np.linalg.solve(sigma, x.mean(axis=0) - 0.05 / 252)
    np.testing.assert_allclose(res.weights, expected, rtol=1e-10, atol=1e-12)


# Three orthogonal ±1 patterns (Hadamard rows), each summing to zero: the sample covariance is
# diagonal with variance s²·4/3, so the Kelly weights are m / (s²·4/3) by hand.
_H = np.array([[1, 1, 1], [-1, 1, -1], [1, -1, -1], [-1, -1, 1]], dtype=float)
HAND_MATRIX = np.array([0.01, 0.002, -0.004]) + _H * np.array([0.05, 0.02, 0.04])
# 0.01 / (0.0025·4/3) = 3.0;  0.002 / (0.0004·4/3) = 3.75;  -0.004 / (0.0016·4/3) = -1.875
HAND_WEIGHTS = np.array([3.0, 3.75, -1.875])


def test_kelly_multi_asset_hand_matrix() -> None:
    res = kelly_multi_asset(HAND_MATRIX)
    np.testing.assert_allclose(res.weights, HAND_WEIGHTS, rtol=1e-12)


def test_kelly_multi_asset_per_asset_clip_then_gross_scaling() -> None:
    # clip to 2: [2, 2, -1.875], gross 5.875; scale to 4: x 4/5.875
    res = kelly_multi_asset(HAND_MATRIX, per_asset_cap=2.0, gross_leverage_cap=4.0)
    np.testing.assert_allclose(res.weights, [8 / 5.875, 8 / 5.875, -7.5 / 5.875], rtol=1e-12)
    assert float(np.sum(np.abs(res.weights))) == pytest.approx(4.0, rel=1e-12)
    assert "per-asset cap" in res.reason
    assert "gross" in res.reason


def test_kelly_multi_asset_per_asset_clip_only() -> None:
    res = kelly_multi_asset(HAND_MATRIX, per_asset_cap=2.0, gross_leverage_cap=10.0)
    np.testing.assert_allclose(res.weights, [2.0, 2.0, -1.875], rtol=1e-12)
    assert "gross" not in res.reason


def test_kelly_multi_asset_gross_scaling_only() -> None:
    # gross 3 + 3.75 + 1.875 = 8.625, scaled to 2.5
    res = kelly_multi_asset(HAND_MATRIX, gross_leverage_cap=2.5)
    np.testing.assert_allclose(res.weights, HAND_WEIGHTS * (2.5 / 8.625), rtol=1e-12)
    assert "per-asset" not in res.reason


def test_kelly_multi_asset_caps_not_binding_leave_weights() -> None:
    res = kelly_multi_asset(HAND_MATRIX, per_asset_cap=5.0, gross_leverage_cap=9.0)
    np.testing.assert_allclose(res.weights, HAND_WEIGHTS, rtol=1e-12)
    assert res.reason == "kelly"


def test_kelly_multi_asset_identical_assets_is_singular() -> None:
    a = np.random.default_rng(1).normal(0.001, 0.01, 500)
    res = kelly_multi_asset(np.column_stack([a, a]))
    np.testing.assert_array_equal(res.weights, [0.0, 0.0])
    assert "singular" in res.reason


def test_kelly_multi_asset_zero_variance_asset_is_singular() -> None:
    a = np.random.default_rng(2).normal(0.001, 0.01, 500)
    res = kelly_multi_asset(np.column_stack([a, np.full(500, 0.0002)]))
    np.testing.assert_array_equal(res.weights, [0.0, 0.0])
    assert "singular" in res.reason


def test_kelly_multi_asset_nan_is_zero_weights() -> None:
    x = _correlated_returns()
    x[7, 1] = math.nan
    res = kelly_multi_asset(x)
    np.testing.assert_array_equal(res.weights, np.zeros(3))
    assert "NaN" in res.reason


def test_kelly_multi_asset_misuse_raises() -> None:
    with pytest.raises(RiskError):
        kelly_multi_asset(np.array([0.01, 0.02, 0.03]))  # 1-D, not periods × assets
    with pytest.raises(RiskError):
        kelly_multi_asset(HAND_MATRIX, per_asset_cap=0.0)
    with pytest.raises(RiskError):
        kelly_multi_asset(HAND_MATRIX, gross_leverage_cap=-1.0)


def test_multi_result_weights_are_read_only() -> None:
    res = kelly_multi_asset(HAND_MATRIX)
    with pytest.raises(ValueError):
        res.weights[0] = 99.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.reason = "changed"  # type: ignore[misc]


# ----------------------------------------------------------------------------- fractional Kelly


def test_fractional_kelly_scales_single_result() -> None:
    half = fractional_kelly(kelly_discrete(0.6, 1.0), 0.5)
    assert isinstance(half, SizeResult)
    assert half.fraction == pytest.approx(0.1, abs=1e-12)
    quarter = fractional_kelly(SizeResult(0.8, 1_600.0, "x"), 0.25)
    assert quarter.fraction == pytest.approx(0.2, rel=1e-12)
    assert quarter.quantity == pytest.approx(400.0, rel=1e-12)


def test_fractional_kelly_scales_multi_result() -> None:
    half = fractional_kelly(kelly_multi_asset(HAND_MATRIX), 0.5)
    assert isinstance(half, MultiSizeResult)
    np.testing.assert_allclose(half.weights, HAND_WEIGHTS / 2, rtol=1e-12)


def test_fractional_kelly_keeps_no_trade() -> None:
    res = fractional_kelly(kelly_discrete(0.4, 1.0), 0.5)
    assert res.fraction == 0.0
    assert res.reason == "no edge"


@pytest.mark.parametrize("k", [0.0, -0.5, 1.5, math.nan])
def test_fractional_kelly_misuse_raises(k: float) -> None:
    with pytest.raises(RiskError):
        fractional_kelly(kelly_discrete(0.6, 1.0), k)
