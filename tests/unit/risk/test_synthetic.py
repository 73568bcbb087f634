"""Generated stress scenarios: the factor regression against scipy, the path figures against
plain loops, and the facade drawing paths from a real (tiny) GAN trained on SPX."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from neural_trader import NeuralTrader
from neural_trader.config import load_settings
from neural_trader.errors import RiskError
from neural_trader.risk.synthetic import factor_fit, synthetic_stress

RNG = np.random.default_rng(5)
FACTOR = RNG.normal(0.0003, 0.012, 1500)
PORTFOLIO = 0.0001 + 0.8 * FACTOR + RNG.normal(0, 0.004, FACTOR.size)
PATHS = RNG.standard_t(4, size=(400, 15)) * 0.01


def test_factor_fit_matches_scipy_linregress() -> None:
    with_gaps = PORTFOLIO.copy()
    with_gaps[[3, 70, 900]] = np.nan
    alpha, beta, resid, n = factor_fit(with_gaps, FACTOR)
    ok = np.isfinite(with_gaps)
    ref = stats.linregress(FACTOR[ok], with_gaps[ok])
    assert n == FACTOR.size - 3
    assert beta == pytest.approx(ref.slope, rel=1e-12)
    assert alpha == pytest.approx(ref.intercept, rel=1e-9)
    fitted = ref.intercept + ref.slope * FACTOR[ok]
    assert resid == pytest.approx(math.sqrt(np.sum((with_gaps[ok] - fitted) ** 2) / (n - 2)))


def _loop_figures(daily: np.ndarray, confidence: float) -> tuple[float, float, float, float]:
    totals, drawdowns = [], []
    for path in daily:
        wealth, peak, worst = 1.0, 1.0, 0.0
        for r in path:
            wealth *= 1.0 + r
            peak = max(peak, wealth)
            worst = min(worst, wealth / peak - 1.0)
        totals.append(wealth - 1.0)
        drawdowns.append(worst)
    t = np.array(totals)
    cut = np.quantile(t, 1 - confidence)
    return -cut, -t[t <= cut].mean(), float(np.median(drawdowns)), min(drawdowns)


def test_a_portfolio_that_is_the_factor_takes_the_paths_as_they_are() -> None:
    s = synthetic_stress(FACTOR, FACTOR, PATHS, 0.95)
    assert s.beta == pytest.approx(1.0) and s.alpha == pytest.approx(0.0, abs=1e-15)
    var, cvar, median_dd, worst_dd = _loop_figures(np.expm1(PATHS), 0.95)
    assert s.var == pytest.approx(var, rel=1e-9) and s.cvar == pytest.approx(cvar, rel=1e-9)
    assert s.median_max_drawdown == pytest.approx(median_dd, rel=1e-9)
    assert s.worst_max_drawdown == pytest.approx(worst_dd, rel=1e-9)
    assert s.worst_return == pytest.approx(np.expm1(PATHS.sum(axis=1)).min(), rel=1e-9)
    assert s.paths == 400 and s.horizon == 15 and s.cvar >= s.var


def test_a_levered_portfolio_scales_each_daily_factor_return() -> None:
    s = synthetic_stress(0.0002 + 2 * FACTOR, FACTOR, PATHS, 0.99)
    assert s.beta == pytest.approx(2.0) and s.residual_volatility == pytest.approx(0, abs=1e-12)
    var, cvar, _, worst_dd = _loop_figures(0.0002 + 2 * np.expm1(PATHS), 0.99)
    assert s.var == pytest.approx(var, rel=1e-9) and s.cvar == pytest.approx(cvar, rel=1e-9)
    assert s.worst_max_drawdown == pytest.approx(worst_dd, rel=1e-9)


@pytest.mark.parametrize(
    ("portfolio", "paths", "confidence", "message"),
    [
        (PORTFOLIO, PATHS, 1.0, "confidence must be strictly between 0 and 1"),
        (PORTFOLIO, PATHS[:1], 0.99, r"factor paths must be \(paths >= 2"),
        (PORTFOLIO, np.where(PATHS > 0.03, np.nan, PATHS), 0.99, "NaN or infinite"),
        (PORTFOLIO[:10], PATHS, 0.99, "must be 1-D of one length"),
        (np.full(FACTOR.size, np.nan), PATHS, 0.99, "share 0 days; 30 needed"),
    ],
)
def test_bad_inputs_are_clear_risk_errors(
    portfolio: np.ndarray, paths: np.ndarray, confidence: float, message: str
) -> None:
    with pytest.raises(RiskError, match=message):
        synthetic_stress(portfolio, FACTOR, paths, confidence)


def test_the_facade_draws_stress_paths_from_a_registered_gan(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        {
            "database.url": f"sqlite:///{tmp_path / 'nt.db'}",
            "neural.models_dir": str(tmp_path / "models"),
        },
    )
    nt = NeuralTrader(settings)
    try:
        tiny = {"window": 16, "stride": 16, "hidden": 8, "critic_hidden": 8, "dilations": [1, 2]}
        nt.train_model("gan", "SPX", epochs=1, start="2005", end="2012", hparams=tiny)
        report = nt.analyze_risk(
            ["XOM", "CVX"], [0.5, 0.5], 0.99, start="2005-01-01", end="2015-12-31",
            stress=False, gan="gan-SPX", gan_paths=300, gan_horizon=10,
        )  # fmt: skip
        with pytest.raises(RiskError, match="need the bundled history"):
            nt.analyze_risk(["XOM"], [1.0], gan="gan-SPX", prices=tmp_path / "p.csv")
    finally:
        asyncio.run(nt.shutdown())
    g = report.synthetic
    assert g is not None and g.source == "gan-SPX v1" and g.factor == "SPX"
    assert (g.paths, g.horizon) == (300, 10)
    # The report's own beta to SPX (a separate implementation) on the same history.
    assert report.beta is not None and g.beta == pytest.approx(report.beta, rel=1e-9)
    assert 0 < g.var <= g.cvar and g.worst_max_drawdown <= g.median_max_drawdown <= 0
    assert report.as_dict()["synthetic"]["var"] == g.var
