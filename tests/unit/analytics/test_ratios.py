"""Ratios against empyrical on real S&P 500 / NASDAQ data, scipy, and hand-worked cases."""

from __future__ import annotations

import math

import arch.data.nasdaq
import arch.data.sp500
import numpy as np
import pandas as pd
import pytest
import scipy.stats

from neural_trader.analytics import ratios as rt
from neural_trader.analytics.metrics import NS_PER_YEAR

empyrical = pytest.importorskip("empyrical")

REL = 1e-9


@pytest.fixture(scope="module")
def spx() -> pd.Series:
    return arch.data.sp500.load()["Adj Close"]


@pytest.fixture(scope="module")
def ndx() -> pd.Series:
    return arch.data.nasdaq.load()["Adj Close"]


def _ns(index: pd.Index) -> np.ndarray:
    return pd.DatetimeIndex(index).as_unit("ns").asi8


def _returns(prices: pd.Series) -> pd.Series:
    return prices.pct_change().dropna()


# --- against empyrical on real data ---------------------------------------------------------


def test_calmar_matches_empyrical_with_the_calendar_annualisation(spx: pd.Series) -> None:
    ts = _ns(spx.index)
    ref = _returns(spx)
    # empyrical counts years as len(returns) / annualization; ours are calendar years, so hand
    # empyrical the number of returns per calendar year the data actually span.
    years = (ts[-1] - ts[0]) / NS_PER_YEAR
    expected = empyrical.calmar_ratio(ref, annualization=len(ref) / years)
    assert rt.calmar(spx.to_numpy(), ts) == pytest.approx(expected, rel=REL)


@pytest.mark.parametrize("threshold", [0.0, 0.05, -0.02])
def test_omega_matches_empyrical(spx: pd.Series, threshold: float) -> None:
    ref = _returns(spx)
    expected = empyrical.omega_ratio(ref, required_return=threshold, annualization=252)
    assert rt.omega(ref.to_numpy(), threshold, 252) == pytest.approx(expected, rel=REL)


def test_omega_with_per_period_threshold_matches_empyrical(spx: pd.Series) -> None:
    ref = _returns(spx)
    expected = empyrical.omega_ratio(ref, required_return=0.0004, annualization=1)
    assert rt.omega(ref.to_numpy(), 0.0004, 1) == pytest.approx(expected, rel=REL)


def test_tail_ratio_matches_empyrical(spx: pd.Series) -> None:
    ref = _returns(spx)
    assert rt.tail_ratio(ref.to_numpy()) == pytest.approx(empyrical.tail_ratio(ref), rel=REL)


def test_alpha_beta_match_empyrical_against_the_nasdaq(spx: pd.Series, ndx: pd.Series) -> None:
    r, b = _returns(spx), _returns(ndx)
    assert r.index.equals(b.index)
    for rf in (0.0, 0.0001):
        exp_alpha, exp_beta = empyrical.alpha_beta(r, b, risk_free=rf, annualization=252)
        alpha, beta = rt.alpha_beta(r.to_numpy(), b.to_numpy(), 252, rf)
        assert beta == pytest.approx(exp_beta, rel=REL)
        assert alpha == pytest.approx(exp_alpha, rel=REL)


def test_information_ratio_is_empyrical_excess_sharpe_annualised(
    spx: pd.Series, ndx: pd.Series
) -> None:
    r, b = _returns(spx), _returns(ndx)
    raw = empyrical.excess_sharpe(r, b)
    assert rt.information_ratio(r.to_numpy(), b.to_numpy(), 1) == pytest.approx(raw, rel=REL)
    assert rt.information_ratio(r.to_numpy(), b.to_numpy()) == pytest.approx(
        raw * math.sqrt(252), rel=REL
    )


def test_rolling_sharpe_and_volatility_match_empyrical(spx: pd.Series) -> None:
    ref = _returns(spx)
    window = 63
    sharpe = rt.rolling_sharpe(ref.to_numpy(), window, 252)
    vol = rt.rolling_volatility(ref.to_numpy(), window, 252)
    assert sharpe.shape == vol.shape == (len(ref),)
    assert np.all(np.isnan(sharpe[: window - 1])) and np.all(np.isnan(vol[: window - 1]))
    exp_sharpe = np.asarray(empyrical.roll_sharpe_ratio(ref, window, annualization=252))
    exp_vol = np.asarray(empyrical.roll_annual_volatility(ref, window, annualization=252))
    assert exp_sharpe.shape == (len(ref) - window + 1,)
    np.testing.assert_allclose(sharpe[window - 1 :], exp_sharpe, rtol=REL)
    np.testing.assert_allclose(vol[window - 1 :], exp_vol, rtol=REL)


def test_monthly_and_yearly_returns_match_empyrical_aggregate_returns(spx: pd.Series) -> None:
    ts = _ns(spx.index)
    ref = _returns(spx)
    table = rt.monthly_returns(spx.to_numpy(), ts)
    assert np.array_equal(table.columns.to_numpy(), np.arange(1, 13))
    assert list(table.index) == list(range(1999, 2019))
    expected_m = empyrical.aggregate_returns(ref, "monthly")
    assert len(expected_m) == 240
    for (year, month), value in expected_m.items():
        assert table.loc[year, month] == pytest.approx(value, rel=REL)
    assert int(table.notna().to_numpy().sum()) == len(expected_m)

    yearly = rt.yearly_returns(spx.to_numpy(), ts)
    expected_y = empyrical.aggregate_returns(ref, "yearly")
    assert list(yearly.index) == list(expected_y.index)
    np.testing.assert_allclose(yearly.to_numpy(), expected_y.to_numpy(), rtol=REL)


def test_skew_and_kurtosis_match_scipy_and_pandas_unbiased(spx: pd.Series) -> None:
    r = _returns(spx)
    x = r.to_numpy()
    assert rt.skew(x) == pytest.approx(scipy.stats.skew(x, bias=False), rel=REL)
    assert rt.skew(x) == pytest.approx(r.skew(), rel=REL)
    exp_kurt = scipy.stats.kurtosis(x, fisher=True, bias=False)
    assert rt.kurtosis(x) == pytest.approx(exp_kurt, rel=REL)
    assert rt.kurtosis(x) == pytest.approx(r.kurt(), rel=REL)


# --- hand-worked cases ----------------------------------------------------------------------


def test_skew_kurtosis_written_out_on_a_small_sample() -> None:
    x = [1.0, 2.0, 3.0, 10.0]
    n, mean = 4, 4.0
    m2 = sum((v - mean) ** 2 for v in x) / n  # 12.5
    m3 = sum((v - mean) ** 3 for v in x) / n  # 45
    m4 = sum((v - mean) ** 4 for v in x) / n  # 339.5
    g1 = m3 / m2**1.5
    g2 = m4 / m2**2 - 3
    assert rt.skew(x) == pytest.approx(g1 * math.sqrt(n * (n - 1)) / (n - 2), rel=1e-12)
    expected_kurt = ((n + 1) * g2 + 6) * (n - 1) / ((n - 2) * (n - 3))
    assert rt.kurtosis(x) == pytest.approx(expected_kurt, rel=1e-12)


def test_trade_statistics_by_hand() -> None:
    pnls = [10.0, -5.0, 20.0, -5.0]
    assert rt.profit_factor(pnls) == pytest.approx(3.0)  # 30 / 10
    assert rt.expectancy(pnls) == pytest.approx(5.0)  # 20 / 4
    assert rt.average_win(pnls) == pytest.approx(15.0)
    assert rt.average_loss(pnls) == pytest.approx(-5.0)
    assert rt.payoff_ratio(pnls) == pytest.approx(3.0)
    with_flat = [10.0, 0.0, -4.0]
    assert rt.expectancy(with_flat) == pytest.approx(2.0)
    assert rt.average_win(with_flat) == pytest.approx(10.0)
    assert rt.payoff_ratio(with_flat) == pytest.approx(2.5)


def test_ulcer_index_by_hand() -> None:
    equity = [100.0, 120.0, 90.0, 108.0, 130.0]
    # drawdowns in percent: 0, 0, -25, -10, 0
    assert rt.ulcer_index(equity) == pytest.approx(math.sqrt((25.0**2 + 10.0**2) / 5), rel=1e-12)
    assert rt.ulcer_index([100.0, 101.0, 102.0]) == 0.0


def test_omega_by_hand() -> None:
    r = [0.02, -0.01, 0.03, -0.02]
    assert rt.omega(r, 0.0, 1) == pytest.approx(0.05 / 0.03, rel=1e-12)
    # per-period threshold 0.01: gains 0.01 + 0.02, losses 0.02 + 0.03
    assert rt.omega(r, 0.01, 1) == pytest.approx(0.03 / 0.05, rel=1e-12)


def test_turnover_by_hand() -> None:
    equity = np.full(253, 1000.0)  # one year of daily bars: 252 returns
    trades = [500.0, -500.0, 250.0, -250.0]  # sells as negative notional
    assert rt.turnover(trades, equity, 252) == pytest.approx(1.5, rel=1e-12)
    # half a year trading the same notional is three times the book per year
    assert rt.turnover(trades, np.full(127, 1000.0), 252) == pytest.approx(3.0, rel=1e-12)
    assert rt.turnover([], equity, 252) == 0.0


def test_calmar_closed_form() -> None:
    day = 86_400_000_000_000
    ts = np.array([0, int(NS_PER_YEAR / 2), int(NS_PER_YEAR)], dtype=np.int64)
    equity = [100.0, 80.0, 121.0]  # CAGR 21%, max drawdown 20%
    assert rt.calmar(equity, ts) == pytest.approx(0.21 / 0.20, rel=1e-9)
    assert math.isnan(rt.calmar([100.0, 110.0, 120.0], np.arange(3) * day))


def test_tail_ratio_by_hand() -> None:
    r = np.linspace(-0.05, 0.10, 101)  # evenly spaced: percentiles are exact points
    p95, p5 = -0.05 + 0.15 * 0.95, -0.05 + 0.15 * 0.05
    assert rt.tail_ratio(r) == pytest.approx(abs(p95) / abs(p5), rel=1e-12)


def test_monthly_returns_small_curve_by_hand() -> None:
    dates = pd.to_datetime(["2020-01-30", "2020-01-31", "2020-02-03", "2020-02-28", "2020-04-01"])
    equity = [100.0, 110.0, 99.0, 121.0, 60.5]
    table = rt.monthly_returns(equity, _ns(dates))
    assert table.loc[2020, 1] == pytest.approx(0.10)
    assert table.loc[2020, 2] == pytest.approx(0.10)  # 121 / 110
    assert np.isnan(table.to_numpy()[0, 2])  # no March data
    assert table.loc[2020, 4] == pytest.approx(-0.5)
    assert rt.yearly_returns(equity, _ns(dates)).loc[2020] == pytest.approx(-0.395)


def test_alpha_beta_closed_form() -> None:
    b = np.array([0.01, -0.02, 0.03, 0.0, -0.01])
    r = 0.001 + 1.5 * b  # exact line: beta 1.5, per-period alpha 0.001
    alpha, beta = rt.alpha_beta(r, b, 252)
    assert beta == pytest.approx(1.5, rel=1e-12)
    assert alpha == pytest.approx(1.001**252 - 1, rel=1e-9)


# --- degenerate inputs ----------------------------------------------------------------------

SCALAR_ON_RETURNS = [
    rt.omega,
    rt.tail_ratio,
    rt.skew,
    rt.kurtosis,
    rt.profit_factor,
    rt.expectancy,
    rt.average_win,
    rt.average_loss,
    rt.payoff_ratio,
]


@pytest.mark.parametrize("func", SCALAR_ON_RETURNS)
def test_empty_and_nan_inputs_give_nan(func: object) -> None:
    assert callable(func)
    assert math.isnan(func([]))
    assert math.isnan(func([0.01, math.nan, -0.02, 0.03, -0.01]))


@pytest.mark.parametrize(
    "func", [rt.omega, rt.tail_ratio, rt.skew, rt.kurtosis, rt.profit_factor, rt.payoff_ratio]
)
def test_constant_zero_returns_give_nan(func: object) -> None:
    assert callable(func)
    assert math.isnan(func(np.zeros(50)))


def test_constant_nonzero_returns_have_no_shape() -> None:
    assert math.isnan(rt.skew(np.full(50, 0.001)))
    assert math.isnan(rt.kurtosis(np.full(50, 0.001)))


def test_degenerate_curves_and_pairs() -> None:
    day = 86_400_000_000_000
    flat = np.full(10, 100.0)
    ts = np.arange(10) * day
    assert math.isnan(rt.calmar(flat, ts))
    assert math.isnan(rt.calmar([], []))
    assert math.isnan(rt.calmar([100.0, math.nan, 90.0], ts[:3]))
    assert math.isnan(rt.ulcer_index([]))
    assert math.isnan(rt.ulcer_index([100.0, math.nan]))
    assert math.isnan(rt.turnover([100.0], [1000.0], 252))
    assert math.isnan(rt.turnover([math.nan], flat, 252))
    assert all(math.isnan(v) for v in rt.alpha_beta([], []))
    assert all(math.isnan(v) for v in rt.alpha_beta(np.full(5, 0.01), np.zeros(5)))
    assert all(math.isnan(v) for v in rt.alpha_beta([0.01, math.nan], [0.01, 0.02]))
    assert math.isnan(rt.information_ratio(np.full(5, 0.01), np.full(5, 0.01)))
    assert math.isnan(rt.information_ratio([], []))
    with pytest.raises(ValueError, match="differ in length"):
        rt.alpha_beta([0.01, 0.02], [0.01])


def test_rolling_degenerate_inputs() -> None:
    assert rt.rolling_sharpe([], 5, 252).shape == (0,)
    assert np.all(np.isnan(rt.rolling_volatility([0.01, 0.02], 5, 252)))
    r = np.array([0.01, -0.02, 0.03, math.nan, 0.01, 0.02, -0.01, 0.0])
    out = rt.rolling_sharpe(r, 3, 252)
    assert np.all(np.isnan(out[:2]))  # warm-up
    assert np.all(np.isnan(out[3:6]))  # windows touching the NaN
    window = np.array([0.01, -0.02, 0.03])
    assert out[2] == pytest.approx(window.mean() / window.std(ddof=1) * math.sqrt(252), rel=1e-12)
    assert np.all(np.isfinite(out[6:]))
    assert np.all(np.isnan(rt.rolling_sharpe(np.zeros(10), 3, 252)))


def test_calendar_tables_of_degenerate_curves() -> None:
    table = rt.monthly_returns([], [])
    assert table.empty and np.array_equal(table.columns.to_numpy(), np.arange(1, 13))
    assert rt.yearly_returns([100.0], [0]).empty
    with pytest.raises(ValueError, match="differ in length"):
        rt.monthly_returns([100.0, 101.0], [0])
