"""Each VaR method against something independent: scipy distributions and integration, the
analytic normal (for Monte Carlo, within its sampling error), arch's own quantile function,
and hand-computed backtest statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from neural_trader.errors import RiskError
from neural_trader.risk.var import (
    METHODS,
    cornish_fisher_var_cvar,
    garch_var_cvar,
    monte_carlo_var_cvar,
    student_t_var_cvar,
    value_at_risk,
)
from neural_trader.risk.var_backtest import backtest_var, christoffersen_independence, kupiec_pof


@pytest.fixture(scope="module")
def fat() -> np.ndarray:
    return np.random.default_rng(11).standard_t(4, 3000) * 0.01 + 0.0002


def test_student_t_against_a_scipy_fit_and_integrated_tail(fat: np.ndarray) -> None:
    var, cvar = student_t_var_cvar(fat, 0.99)
    df, loc, scale = stats.t.fit(fat)
    returns = stats.t(df, loc, scale)
    assert returns.cdf(-var) == pytest.approx(0.01, rel=1e-7)
    tail, _ = integrate.quad(lambda x: x * returns.pdf(x), -np.inf, -var)
    assert cvar == pytest.approx(-tail / 0.01, rel=1e-6)


def test_cornish_fisher_reduces_to_normal_without_skew_or_kurtosis() -> None:
    # A symmetric, mesokurtic sample: the normal quantiles themselves.
    sample = stats.norm.ppf((np.arange(1, 20001) - 0.5) / 20000) * 0.02
    var, cvar = cornish_fisher_var_cvar(sample, 0.95)
    sd = sample.std(ddof=1)
    assert var == pytest.approx(sd * stats.norm.ppf(0.95), rel=2e-3)
    assert cvar == pytest.approx(sd * stats.norm.pdf(stats.norm.ppf(0.95)) / 0.05, rel=2e-3)


def test_cornish_fisher_by_the_expansion_written_out(fat: np.ndarray) -> None:
    var, _ = cornish_fisher_var_cvar(fat, 0.99)
    n = fat.size
    m = fat.mean()
    m2, m3, m4 = (((fat - m) ** k).sum() / n for k in (2, 3, 4))
    s, k = m3 / m2**1.5, m4 / m2**2 - 3
    z = stats.norm.ppf(0.01)
    zcf = z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36
    assert var == pytest.approx(-(m + fat.std(ddof=1) * zcf), rel=1e-10)


def test_monte_carlo_within_sampling_error_of_the_analytic_normal() -> None:
    rng = np.random.default_rng(2)
    cov = np.array([[0.0004, 0.00012], [0.00012, 0.0009]])
    x = rng.multivariate_normal([0.0005, 0.0002], cov, size=5000)
    w = np.array([0.6, 0.4])
    paths = 400_000
    var, cvar = monte_carlo_var_cvar(x, w, 0.99, horizon=5, paths=paths, seed=7)
    mu = x.mean(axis=0) @ w * 5
    sd = math.sqrt(w @ np.cov(x, rowvar=False) @ w * 5)
    z = stats.norm.ppf(0.99)
    exact_var = -mu + sd * z
    # Standard error of a sample quantile: sqrt(p(1-p)/n) / density at the quantile.
    se = math.sqrt(0.01 * 0.99 / paths) / (stats.norm.pdf(z) / sd)
    assert abs(var - exact_var) < 4 * se
    assert cvar == pytest.approx(-mu + sd * stats.norm.pdf(z) / 0.01, rel=5e-3)


def test_monte_carlo_refuses_collinear_assets() -> None:
    a = np.random.default_rng(0).normal(0, 0.01, 500)
    with pytest.raises(RiskError, match="positive definite"):
        monte_carlo_var_cvar(np.column_stack([a, 2 * a]), np.array([0.5, 0.5]), 0.95)


def test_garch_var_uses_arch_quantiles(fat: np.ndarray) -> None:
    from arch import arch_model

    var, cvar = garch_var_cvar(fat, 0.99)
    fit = arch_model(fat * 100, mean="Constant", vol="GARCH", p=1, q=1, dist="t").fit(disp="off")
    fc = fit.forecast(horizon=1, reindex=False)
    q = fit.model.distribution.ppf(0.01, fit.params[["nu"]].to_numpy())
    expected = -(fc.mean.iloc[-1, 0] + math.sqrt(fc.variance.iloc[-1, 0]) * q) / 100
    assert var == pytest.approx(float(expected), rel=1e-6)
    assert cvar > var > 0


def test_value_at_risk_all_methods_and_unknown_method(fat: np.ndarray) -> None:
    x = np.column_stack([fat, np.roll(fat, 7)])
    results = value_at_risk(x, np.array([0.5, 0.5]), 0.99, paths=20_000)
    assert [r.method for r in results] == list(METHODS)
    for r in results:
        assert 0 < r.var < r.cvar
    with pytest.raises(RiskError, match="unknown VaR method"):
        value_at_risk(x, np.array([0.5, 0.5]), methods=("magic",))


def test_kupiec_hand_computed_case() -> None:
    # 250 days at 99%: 2.5 exceedances expected, 8 seen.
    lr, p = kupiec_pof(250, 8, 0.99)
    by_hand = -2 * (242 * math.log(0.99) + 8 * math.log(0.01)) + 2 * (
        242 * math.log(242 / 250) + 8 * math.log(8 / 250)
    )
    assert lr == pytest.approx(by_hand, rel=1e-12)
    assert lr > stats.chi2.ppf(0.95, 1)  # 8 of 250 at 99% is rejected at the 5% level
    assert p == pytest.approx(stats.chi2.sf(by_hand, 1))
    assert kupiec_pof(250, 0, 0.99)[0] == pytest.approx(-2 * 250 * math.log(0.99))


def test_christoffersen_hand_computed_case() -> None:
    hits = np.array([0, 0, 1, 1, 0, 0, 0, 1, 0, 0], dtype=bool)
    # transitions: 00:4, 01:2, 10:2, 11:1
    pi0, pi1, pi = 2 / 6, 1 / 3, 3 / 9
    null = 6 * math.log(1 - pi) + 3 * math.log(pi)
    alt = 4 * math.log(1 - pi0) + 2 * math.log(pi0) + 2 * math.log(1 - pi1) + math.log(pi1)
    lr, _ = christoffersen_independence(hits)
    assert lr == pytest.approx(-2 * (null - alt), abs=1e-12)
    clustered = np.array([0] * 20 + [1] * 5 + [0] * 20, dtype=bool)
    assert christoffersen_independence(clustered)[1] < 0.01


def test_backtest_var_counts_and_shape_check() -> None:
    losses = np.array([0.01, 0.03, -0.02, 0.05])
    var = np.array([0.02, 0.02, 0.02, 0.02])
    bt = backtest_var(losses, var, 0.95)
    assert (bt.observations, bt.exceedances) == (4, 2)
    with pytest.raises(RiskError, match="3 losses for 4 forecasts"):
        backtest_var(losses[:3], var, 0.95)


@pytest.mark.parametrize("confidence", [0.3, 0.95, 0.99, 0.9999])
def test_monte_carlo_tail_selection_equals_np_quantile_of_all_paths(confidence: float) -> None:
    import torch

    from neural_trader.risk.var import _antithetic_tail

    loading = np.array([0.01, -0.004, 0.007])
    drift, half, seed = 0.0004, 50_001, 11
    var, cvar = _antithetic_tail(loading, drift, half, confidence, seed, gpu=False)
    # The same shocks, drawn again, and every one of the 2·half losses built explicitly.
    gen = torch.Generator().manual_seed(seed)
    s = torch.randn((half, 3), generator=gen) @ torch.tensor(loading, dtype=torch.float32)
    s64 = s.double().numpy()
    losses = np.concatenate([-(drift + s64), -(drift - s64)])
    q = np.quantile(losses, confidence)
    assert var == pytest.approx(q, rel=1e-12, abs=1e-15)
    assert cvar == pytest.approx(losses[losses >= q].mean(), rel=1e-12)
