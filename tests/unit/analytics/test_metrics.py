"""Metrics against empyrical (a reference implementation run on the same data) and closed forms."""

from __future__ import annotations

import math

import arch.data.sp500
import numpy as np
import pandas as pd
import pytest

from neural_trader.analytics import metrics as m

empyrical = pytest.importorskip("empyrical")


@pytest.fixture(scope="module")
def spx() -> pd.Series:
    return arch.data.sp500.load()["Adj Close"]


def test_ratios_match_empyrical_on_the_sp500(spx: pd.Series) -> None:
    equity = spx.to_numpy()
    r = m.returns_from_equity(equity)
    ref = spx.pct_change().dropna()
    assert m.sharpe(r, 252) == pytest.approx(empyrical.sharpe_ratio(ref), rel=1e-9)
    assert m.sortino(r, 252) == pytest.approx(empyrical.sortino_ratio(ref), rel=1e-9)
    assert m.annual_volatility(r, 252) == pytest.approx(empyrical.annual_volatility(ref), rel=1e-9)
    assert m.max_drawdown(equity) == pytest.approx(empyrical.max_drawdown(ref), rel=1e-9)
    assert m.total_return(equity) == pytest.approx(empyrical.cum_returns_final(ref), rel=1e-9)


def test_cagr_is_the_calendar_closed_form() -> None:
    # 10% a year compounded daily over exactly 3 years of calendar time.
    days = int(3 * 365.25)
    ts = np.arange(days + 1, dtype=np.int64) * 86_400_000_000_000
    equity = 100.0 * 1.1 ** (np.arange(days + 1) / 365.25)
    assert m.cagr(equity, ts) == pytest.approx(0.10, rel=1e-12)


def test_constructed_drawdown_and_its_duration() -> None:
    equity = np.array([100, 120, 90, 100, 119, 130, 125, 131.0])
    assert m.max_drawdown(equity) == pytest.approx(-0.25)
    assert m.max_drawdown_duration(equity) == 3  # 90, 100, 119 below the 120 peak
    np.testing.assert_allclose(m.drawdown_series(equity)[:3], [0, 0, -0.25])


def test_sharpe_sortino_by_their_written_out_formulas() -> None:
    r = np.random.default_rng(5).normal(0.0005, 0.01, 1000)
    mean, sd = r.mean(), math.sqrt(sum((x - r.mean()) ** 2 for x in r) / (len(r) - 1))
    assert m.sharpe(r, 252) == pytest.approx(mean / sd * math.sqrt(252), rel=1e-10)
    dd = math.sqrt(sum(min(x, 0.0) ** 2 for x in r) / len(r))
    assert m.sortino(r, 252) == pytest.approx(mean / dd * math.sqrt(252), rel=1e-10)


def test_periods_per_year_rule() -> None:
    day = 86_400_000_000_000
    assert m.periods_per_year(np.arange(100) * day) == 252.0
    hourly = np.arange(24 * 365) * (day // 24)
    assert m.periods_per_year(hourly) == pytest.approx(24 * 365.25, rel=1e-3)


@pytest.mark.parametrize(
    "returns", [np.array([]), np.array([0.01]), np.zeros(20), np.array([0.01, np.nan, 0.02])]
)
def test_degenerate_inputs_give_nan_not_exceptions(returns: np.ndarray) -> None:
    assert math.isnan(m.sharpe(returns, 252))
    assert math.isnan(m.sortino(returns, 252))
    assert math.isnan(m.win_rate(np.array([])))
    assert math.isnan(m.total_return(np.array([100.0])))


def test_summary_counts_and_json(spx: pd.Series) -> None:
    equity = spx.to_numpy()[:300]
    ts = spx.index[:300].as_unit("ns").asi8
    pnls = np.array([5.0, -2.0, 3.0, -1.0])
    held = np.r_[np.zeros(100, bool), np.ones(200, bool)]
    s = m.summarize(equity, ts, pnls, held)
    assert (s.num_trades, s.win_rate, s.exposure) == (4, 0.5, pytest.approx(2 / 3))
    assert s.final_equity == equity[-1]
    flat = m.summarize(np.full(10, 100.0), np.arange(10) * 86_400_000_000_000, np.array([]))
    d = flat.as_dict()
    assert d["sharpe"] is None and d["total_return"] == 0.0 and d["win_rate"] is None
