"""Basic VaR/CVaR against independent computations: numerical integration of the normal tail,
an order-statistics quantile written out by hand, and a brute-force tail mean."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from neural_trader.errors import RiskError
from neural_trader.risk.measures import historical_var_cvar, normal_var_cvar, portfolio_returns


@pytest.fixture
def returns() -> np.ndarray:
    return np.random.default_rng(3).standard_t(4, 2_000) * 0.01 + 0.0003


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
@pytest.mark.parametrize("horizon", [1, 10])
def test_normal_var_cvar_against_integrated_tail(
    returns: np.ndarray, confidence: float, horizon: int
) -> None:
    var, cvar = normal_var_cvar(returns, confidence, horizon)
    mu = returns.mean() * horizon
    sd = returns.std(ddof=1) * math.sqrt(horizon)
    loss = stats.norm(-mu, sd)
    # VaR: the loss exceeded with probability 1 - confidence.
    assert loss.sf(var) == pytest.approx(1 - confidence, rel=1e-9)
    # CVaR: mean loss beyond VaR, by numerical integration of the density.
    tail, _ = integrate.quad(lambda x: x * loss.pdf(x), var, np.inf)
    assert cvar == pytest.approx(tail / (1 - confidence), rel=1e-7)


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_historical_var_cvar_against_order_statistics(
    returns: np.ndarray, confidence: float
) -> None:
    var, cvar = historical_var_cvar(returns, confidence)
    losses = sorted(-returns)
    pos = confidence * (len(losses) - 1)
    lo = math.floor(pos)
    expected_var = losses[lo] + (pos - lo) * (losses[lo + 1] - losses[lo])
    assert var == pytest.approx(expected_var, rel=1e-12)
    beyond = [x for x in losses if x >= expected_var]
    assert cvar == pytest.approx(sum(beyond) / len(beyond), rel=1e-12)
    assert cvar >= var


def test_historical_horizon_uses_overlapping_sums(returns: np.ndarray) -> None:
    var10, _ = historical_var_cvar(returns, 0.95, 10)
    sums = np.array([returns[i : i + 10].sum() for i in range(len(returns) - 9)])
    assert var10 == pytest.approx(np.quantile(-sums, 0.95), rel=1e-12)


@pytest.mark.parametrize(
    ("series", "confidence", "horizon", "needle"),
    [
        (np.array([]), 0.95, 1, "at least 2"),
        (np.full(50, 0.01), 0.95, 1, "constant"),
        (np.array([0.01, np.nan, 0.02]), 0.95, 1, "NaN"),
        (np.array([0.01, -0.02, 0.03]), 1.0, 1, "confidence"),
        (np.array([0.01, -0.02, 0.03]), 0.0, 1, "confidence"),
        (np.array([0.01, -0.02, 0.03]), 0.95, 0, "horizon"),
    ],
)
def test_bad_inputs_raise_risk_error(series, confidence, horizon, needle) -> None:  # type: ignore[no-untyped-def]
    for fn in (historical_var_cvar, normal_var_cvar):
        with pytest.raises(RiskError, match=needle):
            fn(series, confidence, horizon)


def test_portfolio_returns_rejects_mismatched_weights(returns: np.ndarray) -> None:
    two = np.column_stack([returns, returns[::-1]])
    with pytest.raises(RiskError, match="3 weights for 2 assets"):
        portfolio_returns(two, np.array([0.3, 0.3, 0.4]))
    with pytest.raises(RiskError, match="NaN"):
        portfolio_returns(two, np.array([0.5, np.nan]))
    np.testing.assert_allclose(
        portfolio_returns(two, np.array([0.5, 0.5])), (returns + returns[::-1]) / 2
    )
