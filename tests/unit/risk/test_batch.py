"""Batched VaR agrees with the one-portfolio measures (np.quantile and scipy closed forms)."""

from __future__ import annotations

import numpy as np
import pytest

from neural_trader.errors import RiskError
from neural_trader.risk.batch import batch_var_cvar
from neural_trader.risk.measures import historical_var_cvar, normal_var_cvar
from neural_trader.risk.returns import bundled_returns

SYMBOLS = ["XOM", "CVX", "JPM", "BAC", "KO", "PEP", "AAPL", "MSFT", "JNJ", "PG"]


@pytest.fixture(scope="module")
def history() -> np.ndarray:
    returns, _ = bundled_returns(SYMBOLS)
    return returns[-2520:]


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99, 0.999])
@pytest.mark.parametrize("horizon", [1, 10])
def test_matches_single_portfolio_measures(
    history: np.ndarray, confidence: float, horizon: int
) -> None:
    rng = np.random.default_rng(3)
    weights = np.vstack([rng.dirichlet(np.ones(10), 20), rng.normal(0, 0.5, (5, 10))])
    got = batch_var_cvar(history, weights, confidence, horizon)
    for i, w in enumerate(weights):
        r = history @ w
        hv, hc = historical_var_cvar(r, confidence, horizon)
        nv, nc = normal_var_cvar(r, confidence, horizon)
        assert got.historical_var[i] == pytest.approx(hv, rel=1e-12, abs=1e-15)
        assert got.historical_cvar[i] == pytest.approx(hc, rel=1e-12, abs=1e-15)
        assert got.normal_var[i] == pytest.approx(nv, rel=1e-10)
        assert got.normal_cvar[i] == pytest.approx(nc, rel=1e-10)


def test_historical_var_is_numpy_quantile_of_losses(history: np.ndarray) -> None:
    w = np.full(10, 0.1)
    got = batch_var_cvar(history, w, 0.975)
    losses = -(history @ w)
    assert got.historical_var[0] == pytest.approx(np.quantile(losses, 0.975), rel=1e-12)
    assert got.historical_cvar[0] == pytest.approx(
        losses[losses >= np.quantile(losses, 0.975)].mean(), rel=1e-12
    )


def test_one_dimensional_weights_are_one_portfolio(history: np.ndarray) -> None:
    got = batch_var_cvar(history, np.full(10, 0.1))
    assert got.historical_var.shape == (1,)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"confidence": 1.0}, "strictly between 0 and 1"),
        ({"confidence": 0.0}, "strictly between 0 and 1"),
        ({"horizon": 0}, "horizon must be at least 1"),
        ({"weights": np.ones((2, 3))}, r"weights of shape \(2, 3\) for 10 assets"),
        ({"weights": np.full(10, np.nan)}, "weights contain NaN"),
    ],
)
def test_bad_inputs_are_risk_errors(
    history: np.ndarray, kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"weights": np.full(10, 0.1), "confidence": 0.99, "horizon": 1}
    args.update(kwargs)
    with pytest.raises(RiskError, match=message):
        batch_var_cvar(history, **args)  # type: ignore[arg-type]


def test_nan_history_and_flat_portfolio_are_risk_errors(history: np.ndarray) -> None:
    bad = history.copy()
    bad[5, 2] = np.nan
    with pytest.raises(RiskError, match="1 NaN"):
        batch_var_cvar(bad, np.full(10, 0.1))
    with pytest.raises(RiskError, match="portfolio 1 has constant returns"):
        batch_var_cvar(history, np.vstack([np.full(10, 0.1), np.zeros(10)]))
