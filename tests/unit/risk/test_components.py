"""Component VaR, beta, exposures and heat against closed forms and independent methods."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from neural_trader.errors import RiskError
from neural_trader.risk.components import beta, component_var, exposures, heat
from neural_trader.risk.measures import normal_var_cvar


@pytest.fixture(scope="module")
def returns() -> np.ndarray:
    cov = np.array([[4.0, 1.2, 0.5], [1.2, 9.0, -0.8], [0.5, -0.8, 2.25]]) * 1e-4
    return np.random.default_rng(5).multivariate_normal([5e-4, 2e-4, 1e-4], cov, 3000)


@pytest.mark.parametrize("horizon", [1, 10])
def test_components_add_up_to_the_closed_form_normal_var(returns: np.ndarray, horizon: int) -> None:
    w = np.array([0.5, 0.3, -0.2])
    comps = component_var(["A", "B", "C"], returns, w, 0.99, horizon)
    var, _ = normal_var_cvar(returns @ w, 0.99, horizon)
    assert sum(c.component_var for c in comps) == pytest.approx(var, rel=1e-12)
    assert sum(c.share for c in comps) == pytest.approx(1.0, rel=1e-12)


def test_marginal_var_is_the_finite_difference_of_normal_var(returns: np.ndarray) -> None:
    w = np.array([0.5, 0.3, 0.2])
    comps = component_var(["A", "B", "C"], returns, w, 0.975)
    h = 1e-6
    for i, c in enumerate(comps):
        up, down = w.copy(), w.copy()
        up[i] += h
        down[i] -= h
        diff = normal_var_cvar(returns @ up, 0.975)[0] - normal_var_cvar(returns @ down, 0.975)[0]
        assert c.marginal_var == pytest.approx(diff / (2 * h), rel=1e-6)


def test_beta_is_the_ols_slope(returns: np.ndarray) -> None:
    p, b = returns[:, 0], returns[:, 1].copy()
    b[[3, 50]] = np.nan  # dates the benchmark lacks are left out
    keep = np.isfinite(b)
    assert beta(p, b) == pytest.approx(stats.linregress(b[keep], p[keep]).slope, rel=1e-10)


def test_exposures_and_heat_by_hand() -> None:
    e = exposures(["A", "B", "C"], [0.6, -0.3, 0.2])
    assert (e.gross, e.net, e.long, e.short) == pytest.approx((1.1, 0.5, 0.8, 0.3))
    assert e.by_symbol == {"A": 0.6, "B": -0.3, "C": 0.2}
    assert heat([0.6, -0.3, 0.2], [0.05, 0.1, 0.0]) == pytest.approx(0.6 * 0.05 + 0.3 * 0.1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: component_var(["A"], r, [1, 0, 0], 0.99), "3 weights for 1 symbols"),
        (lambda r: component_var(["A", "B", "C"], r, [1, 0, 0], 1.5), "strictly between"),
        (lambda r: component_var(["A", "B", "C"], np.ones((9, 3)), [1, 0, 0], 0.9), "constant"),
        (lambda r: beta(r[:, 0], r[:10, 1]), "3000 portfolio returns against 10"),
        (lambda r: beta(r[:, 0], np.ones(3000)), "benchmark returns are constant"),
        (lambda r: beta(r[:2, 0], r[:2, 1]), "fewer than 3 periods"),
        (lambda r: heat([0.5, 0.5], [0.1]), "1 stop distances for 2 positions"),
        (lambda r: heat([0.5, 0.5], [0.1, -0.2]), r"fractions of the price in \[0, 1\]"),
        (lambda r: heat([0.5, 0.5], [0.1, math.nan]), "fractions"),
    ],
)
def test_bad_inputs_are_risk_errors(returns: np.ndarray, call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RiskError, match=message):
        call(returns)
