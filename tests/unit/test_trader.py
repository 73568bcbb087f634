"""The facade as a notebook uses it: three lines to a backtest, risk, paper trading, health."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neural_trader.data import load_bars
from neural_trader.errors import RiskError, ServiceError, StrategyError
from neural_trader.trader import NeuralTrader


@pytest.fixture
def nt(tmp_path: Path) -> NeuralTrader:
    return NeuralTrader.new(**{"database.url": f"sqlite:///{tmp_path / 'nt.db'}"})


def test_backtest_in_three_lines(nt: NeuralTrader, tmp_path: Path) -> None:
    run = nt.backtest("sma_cross", "SPX", start="2000-01-01", end="2010-12-31", fast=10, slow=30)
    m = run.metrics
    assert m["final_equity"] == pytest.approx(run.equity.iloc[-1])
    assert m["total_return"] == pytest.approx(run.equity.iloc[-1] / 100_000 - 1)
    assert run.equity.index[0] >= pd.Timestamp("2000-01-01", tz="UTC")
    assert run.equity.index[-1] <= pd.Timestamp("2011-01-01", tz="UTC")
    assert len(run.trades) == m["num_trades"] > 0
    out = run.report(tmp_path / "r.html")
    assert out.stat().st_size > 10_000


def test_backtest_bad_parameter_names_it(nt: NeuralTrader) -> None:
    with pytest.raises(StrategyError, match="slow"):
        nt.backtest("sma_cross", "SPX", fast=30, slow=10)


def test_analyze_risk_on_bundled_large_caps(nt: NeuralTrader) -> None:
    r = nt.analyze_risk(["XOM", "CVX", "JPM"], [0.4, 0.3, 0.3], confidence=0.99)
    closes = {}
    for sym in ("XOM", "CVX", "JPM"):
        b = load_bars(sym)
        closes[sym] = pd.Series(b.close, index=b.ts)
    rets = pd.DataFrame(closes).pct_change().dropna().to_numpy() @ np.array([0.4, 0.3, 0.3])
    assert r.observations == len(rets)
    assert r.var["historical"] == pytest.approx(np.quantile(-rets, 0.99))
    assert set(r.var) == {
        "historical",
        "normal",
        "student_t",
        "cornish_fisher",
        "monte_carlo",
        "garch",
    }
    for method, var in r.var.items():
        assert 0 < var < r.cvar[method]
    with pytest.raises(RiskError, match="2 weights for 3 symbols"):
        nt.analyze_risk(["XOM", "CVX", "JPM"], [0.5, 0.5])


async def test_paper_trading_then_portfolio_and_health(nt: NeuralTrader) -> None:
    final = await nt.start_trading(speed=0, until_end=True)
    assert final["account"] == "paper"
    assert nt.get_portfolio()["cash"] == final["cash"]
    health = nt.health_check()
    assert health["data"]["status"] == "ok" and health["data"]["datasets"] >= 23
    assert health["database"]["status"] == "ok"
    await nt.shutdown()
    with pytest.raises(ServiceError):
        nt.get_portfolio()


async def test_execute_strategy_runs_one_strategy_on_its_own_account(nt: NeuralTrader) -> None:
    final = await nt.execute_strategy("mean_reversion", symbols=["KO"], period=10, num_std=1.5)
    assert final["account"] == "exec-mean_reversion"
    orders = nt.store.list_orders("exec-mean_reversion")
    assert orders and {o["strategy_id"] for o in orders} == {"mean_reversion"}
    assert {o["symbol"] for o in orders} == {"KO"}
    with pytest.raises(StrategyError, match="num_std"):
        await nt.execute_strategy("mean_reversion", num_std=-1)
