"""Metrics against empyrical (an independent implementation run on the same data), independent
pandas computations, and closed forms written out by hand."""

from __future__ import annotations

import json
import math

import arch.data.sp500
import numpy as np
import pandas as pd
import pytest

from neural_trader.analytics import metrics as m
from neural_trader.errors import DataError

empyrical = pytest.importorskip("empyrical")

REL = 1e-9
DAY_NS = 86_400_000_000_000
HOUR_NS = DAY_NS // 24


@pytest.fixture(scope="module")
def spx() -> pd.Series:
    return arch.data.sp500.load()["Adj Close"]


@pytest.fixture(scope="module")
def spx_returns(spx: pd.Series) -> pd.Series:
    return empyrical.simple_returns(spx)


def ns(index: pd.DatetimeIndex) -> np.ndarray:
    return index.as_unit("ns").asi8


def calendar_years(index: pd.DatetimeIndex) -> float:
    return (index[-1] - index[0]) / pd.Timedelta(days=365.25)


# --- against empyrical on the real S&P 500 --------------------------------------------------


def test_returns_match_empyrical(spx: pd.Series, spx_returns: pd.Series) -> None:
    r = m.returns_from_equity(spx.to_numpy())
    assert r.dtype == np.float64 and r.shape == (len(spx) - 1,)
    np.testing.assert_allclose(r, spx_returns.to_numpy(), rtol=1e-12, atol=0)


def test_total_return_and_cagr_match_empyrical(spx: pd.Series, spx_returns: pd.Series) -> None:
    equity = spx.to_numpy()
    assert m.total_return(equity) == pytest.approx(
        empyrical.cum_returns_final(spx_returns), rel=REL
    )
    # empyrical's CAGR counts years as bars / annualization; asking for as many bars per year
    # as the data has per calendar year makes its year count the elapsed calendar time.
    bars_per_calendar_year = len(spx_returns) / calendar_years(spx.index)
    expected = empyrical.cagr(spx_returns, annualization=bars_per_calendar_year)
    assert m.cagr(equity, ns(spx.index)) == pytest.approx(expected, rel=REL)


def test_ratios_match_empyrical(spx: pd.Series, spx_returns: pd.Series) -> None:
    r = m.returns_from_equity(spx.to_numpy())
    assert m.annual_volatility(r, 252) == pytest.approx(
        empyrical.annual_volatility(spx_returns), rel=REL
    )
    assert m.sharpe(r, 252) == pytest.approx(empyrical.sharpe_ratio(spx_returns), rel=REL)
    assert m.sharpe(r, 252, risk_free=0.0001) == pytest.approx(
        empyrical.sharpe_ratio(spx_returns, risk_free=0.0001), rel=REL
    )
    assert m.sortino(r, 252) == pytest.approx(empyrical.sortino_ratio(spx_returns), rel=REL)
    assert m.sortino(r, 252, target=0.0003) == pytest.approx(
        empyrical.sortino_ratio(spx_returns, required_return=0.0003), rel=REL
    )


def test_ratios_match_empyrical_with_a_custom_annualization() -> None:
    r = np.random.default_rng(11).normal(0.00002, 0.0015, 6_000)
    ref = pd.Series(r)
    ppy = 6_261.0
    assert m.annual_volatility(r, ppy) == pytest.approx(
        empyrical.annual_volatility(ref, annualization=ppy), rel=REL
    )
    assert m.sharpe(r, ppy) == pytest.approx(
        empyrical.sharpe_ratio(ref, annualization=ppy), rel=REL
    )
    assert m.sortino(r, ppy) == pytest.approx(
        empyrical.sortino_ratio(ref, annualization=ppy), rel=REL
    )


def test_drawdowns_match_empyrical_and_pandas(spx: pd.Series, spx_returns: pd.Series) -> None:
    equity = spx.to_numpy()
    assert m.max_drawdown(equity) == pytest.approx(empyrical.max_drawdown(spx_returns), rel=REL)
    # The whole underwater curve, rebuilt from empyrical's cumulative returns with pandas.
    wealth = pd.concat(
        [pd.Series([equity[0]]), empyrical.cum_returns(spx_returns, starting_value=equity[0])]
    ).reset_index(drop=True)
    expected = (wealth / wealth.cummax() - 1.0).to_numpy()
    np.testing.assert_allclose(m.drawdown_series(equity), expected, rtol=0, atol=1e-12)
    # Longest run under water, counted with a pandas group-by instead of run-length edges.
    under = pd.Series(expected < -1e-15)
    runs = under.groupby((~under).cumsum()).sum()
    assert m.max_drawdown_duration(equity) == int(runs.max())
    assert m.max_drawdown_duration(equity) > 1_000  # the 2000s: years below the 2000 peak


# --- closed forms ---------------------------------------------------------------------------


def test_cagr_is_the_calendar_closed_form() -> None:
    # 10% a year compounded daily over exactly 3 years of calendar time.
    days = int(3 * 365.25)
    ts = np.arange(days + 1, dtype=np.int64) * DAY_NS
    equity = 100.0 * 1.1 ** (np.arange(days + 1) / 365.25)
    assert m.cagr(equity, ts) == pytest.approx(0.10, rel=1e-12)
    # Only the calendar span counts, not how many bars sit inside it.
    sparse = np.array([0, 17, days])
    assert m.cagr(equity[sparse], ts[sparse]) == pytest.approx(0.10, rel=1e-12)
    # datetime64 of any unit is the same instant.
    as_us = ts.astype("datetime64[ns]").astype("datetime64[us]")
    assert m.cagr(equity, as_us) == pytest.approx(0.10, rel=1e-12)


def test_total_return_closed_form() -> None:
    assert m.total_return([200.0, 150.0, 260.0]) == pytest.approx(0.30)


def test_constructed_drawdown_and_its_duration() -> None:
    equity = np.array([100, 120, 90, 100, 119, 130, 125, 131.0])
    assert m.max_drawdown(equity) == pytest.approx(-0.25, rel=1e-15)
    assert m.max_drawdown_duration(equity) == 3  # 90, 100, 119 below the 120 peak
    np.testing.assert_allclose(
        m.drawdown_series(equity),
        [0, 0, -0.25, -1 / 6, -1 / 120, 0, -5 / 130, 0],
        rtol=1e-15,
        atol=1e-15,
    )
    # A drawdown still open at the end counts to the last bar.
    assert m.max_drawdown_duration([100, 90, 95, 99, 101, 100, 99, 98, 97.0]) == 4
    assert m.max_drawdown_duration([100, 101, 102.0]) == 0
    assert m.max_drawdown([100, 101, 102.0]) == 0.0


def test_sharpe_sortino_vol_by_their_written_out_formulas() -> None:
    r = np.random.default_rng(5).normal(0.0005, 0.01, 1000)
    n = len(r)
    mean = sum(r) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / (n - 1))
    assert m.annual_volatility(r, 252) == pytest.approx(sd * math.sqrt(252), rel=1e-10)
    assert m.sharpe(r, 252) == pytest.approx(mean / sd * math.sqrt(252), rel=1e-10)
    rf = 0.0002
    assert m.sharpe(r, 252, risk_free=rf) == pytest.approx(
        (mean - rf) / sd * math.sqrt(252), rel=1e-10
    )
    downside = math.sqrt(sum(min(x, 0.0) ** 2 for x in r) / n)  # over ALL periods
    assert m.sortino(r, 252) == pytest.approx(mean / downside * math.sqrt(252), rel=1e-10)
    t = 0.001
    downside_t = math.sqrt(sum(min(x - t, 0.0) ** 2 for x in r) / n)
    assert m.sortino(r, 252, target=t) == pytest.approx(
        (mean - t) / downside_t * math.sqrt(252), rel=1e-10
    )


def test_win_rate_and_exposure_closed_forms() -> None:
    assert m.win_rate([5.0, -2.0, 0.0, 3.0, -1.0]) == pytest.approx(2 / 5)  # break-even: no win
    assert m.exposure(np.r_[np.zeros(25, bool), np.ones(75, bool)]) == pytest.approx(0.75)
    # Positions work as well as a mask: long and short are both in the market.
    assert m.exposure([0.0, 10.0, -5.0, 0.0]) == pytest.approx(0.5)


# --- periods per year -----------------------------------------------------------------------


def observed_rate(ts: np.ndarray) -> float:
    return float(round((len(ts) - 1) / ((ts[-1] - ts[0]) / (365.25 * DAY_NS))))


def test_periods_per_year_of_daily_weekly_monthly_bars(spx: pd.Series) -> None:
    assert m.periods_per_year(ns(spx.index)) == 252.0
    assert m.periods_per_year(ns(spx.index)[:30]) == 252.0
    assert m.periods_per_year(np.arange(400) * DAY_NS) == 252.0  # calendar days: still daily
    weekly = spx.resample("W-FRI").last().index
    monthly = spx.resample("ME").last().index
    assert m.periods_per_year(ns(weekly)) == 52.0
    assert m.periods_per_year(ns(monthly)) == 12.0


def test_periods_per_year_of_intraday_bars(spx: pd.Series) -> None:
    # Hourly FX: Monday 00:00 to Friday 23:00 UTC, two years.
    hours = pd.date_range("2021-01-04", "2022-12-31", freq="h", tz="UTC")
    fx = ns(hours[hours.day_of_week < 5])
    assert m.periods_per_year(fx) == observed_rate(fx)
    assert m.periods_per_year(fx) == pytest.approx(24 * 260, rel=0.01)
    # 24/7 crypto, hourly for a year.
    crypto = np.arange(24 * 366) * HOUR_NS
    assert m.periods_per_year(crypto) == 8_766.0
    # Regular-hours 1-minute equity bars on the 2018 NYSE trading days (14:30-20:59 UTC).
    days = spx.loc["2018"].index.tz_localize("UTC")
    minutes = (
        ns(days)[:, None] + (14 * 60 + 30) * 60 * 10**9 + np.arange(390)[None, :] * 60 * 10**9
    ).ravel()
    assert m.periods_per_year(minutes) == observed_rate(minutes)
    assert m.periods_per_year(minutes) == pytest.approx(390 * 252, rel=0.01)


def test_periods_per_year_with_too_little_data() -> None:
    assert m.periods_per_year(np.array([], dtype=np.int64)) == 252.0
    assert m.periods_per_year(np.array([5], dtype=np.int64)) == 252.0


# --- degenerate inputs ----------------------------------------------------------------------


@pytest.mark.filterwarnings("error")  # no numpy RuntimeWarning either
@pytest.mark.parametrize(
    "returns",
    [
        np.array([]),
        np.array([0.01]),
        np.zeros(20),
        np.full(20, 0.001),
        np.array([0.01, np.nan, 0.02]),
        np.array([0.01, np.inf, 0.02]),
    ],
    ids=["empty", "one", "zeros", "constant", "nan", "inf"],
)
def test_degenerate_returns_give_nan_not_exceptions(returns: np.ndarray) -> None:
    assert math.isnan(m.sharpe(returns, 252))
    assert math.isnan(m.sharpe(returns, 252, risk_free=0.001))
    if returns.size < 2 or not np.all(np.isfinite(returns)):
        assert math.isnan(m.annual_volatility(returns, 252))
    else:
        assert m.annual_volatility(returns, 252) == pytest.approx(0.0, abs=1e-15)
    if returns.size < 2 or not np.all(np.isfinite(returns)) or np.all(returns >= 0):
        assert math.isnan(m.sortino(returns, 252))  # no downside at all: NaN, not inf


@pytest.mark.filterwarnings("error")
def test_degenerate_equity_gives_nan_not_exceptions() -> None:
    for curve in ([], [100.0]):
        assert math.isnan(m.total_return(curve))
        assert math.isnan(m.cagr(curve, np.arange(len(curve)) * DAY_NS))
        assert m.returns_from_equity(curve).shape == (0,)
    assert math.isnan(m.max_drawdown([]))
    assert m.max_drawdown_duration([]) == 0
    # A zero or negative start has no fractional return, growth or drawdown.
    zero_start = [0.0, 10.0, 12.0]
    assert math.isnan(m.total_return(zero_start))
    assert math.isnan(m.cagr(zero_start, np.arange(3) * DAY_NS))
    assert math.isnan(m.sharpe(m.returns_from_equity(zero_start), 252))
    assert math.isnan(m.drawdown_series(zero_start)[0])
    # A NaN in the curve poisons the ratios and the drawdown, not the process.
    holed = [100.0, np.nan, 90.0, 95.0]
    assert math.isnan(m.max_drawdown(holed))
    assert math.isnan(m.sharpe(m.returns_from_equity(holed), 252))
    # No elapsed time: no CAGR.
    assert math.isnan(m.cagr([100.0, 110.0], np.array([7, 7])))
    # Nonsense annualisation.
    r = np.array([0.01, -0.02, 0.03])
    for bad in (0.0, -252.0, math.nan):
        assert math.isnan(m.sharpe(r, bad))
        assert math.isnan(m.sortino(r, bad))
        assert math.isnan(m.annual_volatility(r, bad))


@pytest.mark.filterwarnings("error")
def test_degenerate_trades_and_exposure() -> None:
    assert math.isnan(m.win_rate([]))
    assert math.isnan(m.win_rate([1.0, np.nan]))
    assert math.isnan(m.exposure([]))
    assert math.isnan(m.exposure([0.0, np.nan]))


# --- the summary ----------------------------------------------------------------------------


def test_summary_matches_the_references(spx: pd.Series, spx_returns: pd.Series) -> None:
    equity = spx.to_numpy()
    ts = ns(spx.index)
    pnls = np.array([5.0, -2.0, 3.0, -1.0, 0.0])
    held = np.r_[np.zeros(1_000, bool), np.ones(len(spx) - 1_000, bool)]
    s = m.summarize(equity, ts, pnls, held)
    assert s.periods_per_year == 252.0
    assert s.sharpe == pytest.approx(empyrical.sharpe_ratio(spx_returns), rel=REL)
    assert s.sortino == pytest.approx(empyrical.sortino_ratio(spx_returns), rel=REL)
    assert s.volatility == pytest.approx(empyrical.annual_volatility(spx_returns), rel=REL)
    assert s.max_drawdown == pytest.approx(empyrical.max_drawdown(spx_returns), rel=REL)
    assert s.total_return == pytest.approx(empyrical.cum_returns_final(spx_returns), rel=REL)
    years = calendar_years(spx.index)
    assert s.cagr == pytest.approx(
        empyrical.cagr(spx_returns, annualization=len(spx_returns) / years), rel=REL
    )
    assert s.max_drawdown_duration == m.max_drawdown_duration(equity)
    assert (s.num_trades, s.win_rate) == (5, pytest.approx(2 / 5))
    assert s.exposure == pytest.approx((len(spx) - 1_000) / len(spx))
    assert s.final_equity == equity[-1]
    assert (s.start, s.end) == (ts[0], ts[-1])
    # The same instants as a datetime64[us] index give the same summary.
    assert m.summarize(equity, spx.index.to_numpy(), pnls, held) == s


def test_summary_with_an_explicit_annualization(spx: pd.Series, spx_returns: pd.Series) -> None:
    s = m.summarize(spx.to_numpy(), ns(spx.index), np.array([]), periods_per_year=260)
    assert s.periods_per_year == 260.0
    assert s.sharpe == pytest.approx(
        empyrical.sharpe_ratio(spx_returns, annualization=260), rel=REL
    )
    assert math.isnan(s.exposure) and s.num_trades == 0


def test_summary_as_dict_is_strict_json() -> None:
    flat = m.summarize(np.full(10, 100.0), np.arange(10) * DAY_NS, np.array([]))
    d = flat.as_dict()
    assert d["sharpe"] is None and d["sortino"] is None and d["win_rate"] is None
    assert d["total_return"] == 0.0 and d["max_drawdown"] == 0.0 and d["exposure"] is None
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    # Explosive growth over one minute overflows CAGR to inf; JSON still gets None.
    burst = m.summarize([1.0, 1e6], np.array([0, 60 * 10**9]), [])
    assert burst.cagr == math.inf and burst.as_dict()["cagr"] is None
    single = m.summarize([100.0], np.array([0]), [])
    assert json.loads(json.dumps(single.as_dict(), allow_nan=False))["final_equity"] == 100.0


def test_summary_rejects_misaligned_input() -> None:
    ts = np.arange(5) * DAY_NS
    equity = np.linspace(100, 110, 5)
    with pytest.raises(DataError, match="equity has 5 points but timestamps has 4"):
        m.summarize(equity, ts[:4], [])
    with pytest.raises(DataError, match="in_market has 3 points"):
        m.summarize(equity, ts, [], np.ones(3, bool))
    with pytest.raises(DataError, match="not strictly increasing at index 3"):
        m.summarize(equity, ts[[0, 1, 2, 2, 4]], [])
    with pytest.raises(DataError, match="int64 nanoseconds or datetime64"):
        m.summarize(equity, ts.astype(np.float64), [])
