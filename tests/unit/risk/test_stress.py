"""Stress tests against plain loops over bundled closes and hand-built covariances."""

from __future__ import annotations

import itertools
import math
from datetime import date

import numpy as np
import pytest
from scipy import stats

from neural_trader.data import load_bars
from neural_trader.errors import RiskError
from neural_trader.risk.stress import (
    HISTORICAL_SCENARIOS,
    Scenario,
    historical_stress,
    hypothetical_shock,
    run_all,
)

OIL_BANK = ["XOM", "CVX", "JPM"]
OIL_BANK_W = [0.4, 0.3, 0.3]


def closes_by_day(symbol: str, start: date, end: date) -> dict[str, float]:
    bars = load_bars(symbol, start=start.isoformat(), end=end.isoformat())
    out = {}
    for ts, close in zip(bars.ts.tolist(), bars.close.tolist(), strict=True):
        out[str(np.datetime64(ts, "ns").astype("datetime64[D]"))] = float(close)
    return out


def loop_replay(
    symbols: list[str], weights: list[float], start: date, end: date
) -> tuple[float, float, float, list[float]]:
    """Portfolio return, worst day, max drawdown and per-asset returns by plain loops."""
    closes = [closes_by_day(s, start, end) for s in symbols]
    days = sorted(set.intersection(*(set(c) for c in closes)))
    wealth = 1.0
    peak = 1.0
    worst = math.inf
    drawdown = 0.0
    growth = [1.0] * len(symbols)
    for prev, day in itertools.pairwise(days):
        day_return = 0.0
        for i, c in enumerate(closes):
            r = c[day] / c[prev] - 1.0
            day_return += weights[i] * r
            growth[i] *= 1.0 + r
        wealth *= 1.0 + day_return
        worst = min(worst, day_return)
        peak = max(peak, wealth)
        drawdown = min(drawdown, wealth / peak - 1.0)
    return wealth - 1.0, worst, drawdown, [g - 1.0 for g in growth]


def test_scenarios_are_the_named_windows() -> None:
    assert {n: (s.start, s.end) for n, s in HISTORICAL_SCENARIOS.items()} == {
        "dotcom_2000_2002": (date(2000, 3, 24), date(2002, 10, 9)),
        "gfc_2008": (date(2007, 10, 9), date(2009, 3, 9)),
        "covid_2020": (date(2020, 2, 19), date(2020, 3, 23)),
    }
    assert all(s.description for s in HISTORICAL_SCENARIOS.values())


@pytest.mark.parametrize("name", list(HISTORICAL_SCENARIOS))
def test_portfolio_replay_equals_daily_rebalanced_loop(name: str) -> None:
    sc = HISTORICAL_SCENARIOS[name]
    total, worst, dd, per_asset = loop_replay(OIL_BANK, OIL_BANK_W, sc.start, sc.end)
    res = historical_stress(OIL_BANK, OIL_BANK_W, name)
    assert res.portfolio_return == pytest.approx(total, rel=1e-10)
    assert res.worst_day == pytest.approx(worst, rel=1e-10)
    assert res.max_drawdown == pytest.approx(dd, rel=1e-10)
    for sym, expected in zip(OIL_BANK, per_asset, strict=True):
        assert res.per_asset_return[sym] == pytest.approx(expected, rel=1e-10)
    assert "rebalanced daily" in res.note
    assert (res.name, res.start, res.end) == (name, sc.start, sc.end)


def test_2008_oil_and_bank_portfolio_loses_money() -> None:
    res = historical_stress(OIL_BANK, OIL_BANK_W, "gfc_2008")
    assert res.portfolio_return < -0.2
    assert res.max_drawdown <= res.portfolio_return
    assert res.per_asset_return["JPM"] < res.per_asset_return["XOM"] < 0


def test_single_asset_window_return_worst_day_and_drawdown() -> None:
    sc = HISTORICAL_SCENARIOS["gfc_2008"]
    closes = closes_by_day("SPX", sc.start, sc.end)
    days = sorted(closes)
    daily = [closes[b] / closes[a] - 1.0 for a, b in itertools.pairwise(days)]
    peak = closes[days[0]]
    dd = 0.0
    for d in days:
        peak = max(peak, closes[d])
        dd = min(dd, closes[d] / peak - 1.0)
    res = historical_stress(["SPX"], [1.0], "gfc_2008")
    assert res.portfolio_return == pytest.approx(closes[days[-1]] / closes[days[0]] - 1, rel=1e-10)
    assert res.per_asset_return["SPX"] == pytest.approx(res.portfolio_return, rel=1e-12)
    assert res.worst_day == pytest.approx(min(daily), rel=1e-12)
    assert res.max_drawdown == pytest.approx(dd, rel=1e-10)
    assert res.days == len(daily)


def test_leverage_scales_each_daily_return() -> None:
    sc = HISTORICAL_SCENARIOS["covid_2020"]
    total, worst, dd, _ = loop_replay(["KO"], [2.0], sc.start, sc.end)
    res = historical_stress(["KO"], [2.0], "covid_2020")
    assert res.portfolio_return == pytest.approx(total, rel=1e-10)
    assert res.worst_day == pytest.approx(worst, rel=1e-10)
    assert res.max_drawdown == pytest.approx(dd, rel=1e-10)
    assert "sum to 2" in res.note


def test_custom_scenario_window() -> None:
    sc = Scenario("q4_2018", date(2018, 9, 20), date(2018, 12, 24), "Q4 2018 selloff")
    total, _, _, _ = loop_replay(["SPX", "AAPL"], [0.5, 0.5], sc.start, sc.end)
    assert historical_stress(["SPX", "AAPL"], [0.5, 0.5], sc).portfolio_return == pytest.approx(
        total, rel=1e-10
    )


def test_index_in_covid_window_names_the_symbol_and_window() -> None:
    with pytest.raises(RiskError, match="SPX") as err:
        historical_stress(["XOM", "SPX"], [0.5, 0.5], "covid_2020")
    assert "XOM" not in str(err.value)
    assert "2020-02-19" in str(err.value) and "2020-03-23" in str(err.value)


def test_run_all_skips_scenarios_without_data_with_a_note() -> None:
    suite = run_all(["SPX", "IXIC"], [0.5, 0.5])
    assert [r.name for r in suite.results] == ["dotcom_2000_2002", "gfc_2008"]
    assert set(suite.skipped) == {"covid_2020"}
    assert "SPX" in suite.skipped["covid_2020"] and "IXIC" in suite.skipped["covid_2020"]
    full = run_all(OIL_BANK, OIL_BANK_W)
    assert [r.name for r in full.results] == list(HISTORICAL_SCENARIOS) and not full.skipped
    gfc = HISTORICAL_SCENARIOS["gfc_2008"]
    assert full.results[1].portfolio_return == pytest.approx(
        loop_replay(OIL_BANK, OIL_BANK_W, gfc.start, gfc.end)[0], rel=1e-10
    )


@pytest.mark.parametrize(
    ("symbols", "weights", "scenario", "message"),
    [
        (["XOM", "CVX"], [1.0], "gfc_2008", "1 weights for 2 symbols"),
        (["XOM"], [float("nan")], "gfc_2008", "NaN"),
        (["XOM", "XOM"], [0.5, 0.5], "gfc_2008", "repeated: XOM"),
        ([], [], "gfc_2008", "at least one symbol"),
        (["XOM"], [1.0], "tulips_1637", "unknown stress scenario"),
        (["NOPE"], [1.0], "gfc_2008", "NOPE"),
        (["EURUSD"], [1.0], "gfc_2008", "no bundled daily data for EURUSD"),
    ],
)
def test_historical_bad_input(
    symbols: list[str], weights: list[float], scenario: str, message: str
) -> None:
    with pytest.raises(RiskError, match=message):
        historical_stress(symbols, weights, scenario)


# --- hypothetical shocks -------------------------------------------------------------------


def synthetic_returns(periods: int = 500, seed: int = 7) -> np.ndarray:
    """Three assets with correlations about 0.69 (0,1), 0.09 (0,2) and -0.51 (1,2)."""
    f = np.random.default_rng(seed).normal(0.0, 0.01, size=(periods, 3))
    return np.column_stack(
        [f[:, 0] + f[:, 1], f[:, 0] + 0.3 * f[:, 2], f[:, 1] - 0.8 * f[:, 0] + 0.3 * f[:, 2]]
    )


W3 = [0.5, 0.3, 0.2]
CLASSES3 = ["equity", "equity", "bond"]


def test_instant_pnl_by_hand() -> None:
    res = hypothetical_shock(synthetic_returns(), W3, CLASSES3, {"equity": -0.20, "bond": 0.05})
    assert res.instant_pnl == pytest.approx(0.5 * -0.20 + 0.3 * -0.20 + 0.2 * 0.05, abs=1e-15)
    partial = hypothetical_shock(synthetic_returns(), W3, CLASSES3, {"bond": -0.1})
    assert partial.instant_pnl == pytest.approx(-0.02, abs=1e-15)
    assert "no shock for equity" in partial.note


def test_unit_multipliers_reproduce_sample_covariance() -> None:
    x = synthetic_returns()
    w = np.array(W3)
    cov = np.cov(x, rowvar=False)
    vol = math.sqrt(w @ cov @ w)
    res = hypothetical_shock(x, W3, CLASSES3, {}, confidence=0.99)
    assert res.stressed_volatility == pytest.approx(vol, rel=1e-12)
    assert res.base_volatility == pytest.approx(vol, rel=1e-12)
    assert np.allclose(res.stressed_covariance, cov, rtol=1e-12, atol=0)
    assert res.stressed_var == pytest.approx(2.3263478740408408 * vol, rel=1e-12)
    z = 2.3263478740408408
    tail = math.exp(-z * z / 2) / math.sqrt(2 * math.pi) / 0.01
    assert res.stressed_cvar == pytest.approx(tail * vol, rel=1e-9)
    assert not res.psd_repaired and res.clipped_correlations == 0


def test_vol_multiplier_two_doubles_volatility_exactly() -> None:
    x = synthetic_returns()
    one = hypothetical_shock(x, W3, CLASSES3, {}, corr_multiplier=1.3)
    two = hypothetical_shock(x, W3, CLASSES3, {}, vol_multiplier=2.0, corr_multiplier=1.3)
    assert two.stressed_volatility == pytest.approx(2 * one.stressed_volatility, rel=1e-14)
    assert two.stressed_var == pytest.approx(2 * one.stressed_var, rel=1e-14)
    assert two.base_volatility == one.base_volatility


def test_corr_multiplier_scales_off_diagonals_by_hand() -> None:
    x = synthetic_returns()
    w = np.array(W3)
    cov = np.cov(x, rowvar=False)
    sd = np.sqrt(np.diag(cov))
    expected = 0.0
    for i in range(3):
        for j in range(3):
            rho = 1.0 if i == j else 0.5 * cov[i, j] / (sd[i] * sd[j])
            expected += w[i] * w[j] * rho * (1.5 * sd[i]) * (1.5 * sd[j])
    res = hypothetical_shock(x, W3, CLASSES3, {}, vol_multiplier=1.5, corr_multiplier=0.5)
    assert res.stressed_volatility == pytest.approx(math.sqrt(expected), rel=1e-12)


def test_correlations_pushed_past_one_are_clipped_and_repaired_to_psd() -> None:
    x = synthetic_returns()
    rho = np.corrcoef(x, rowvar=False)
    assert 3 * rho[0, 1] > 1 and 3 * rho[1, 2] < -1 and abs(3 * rho[0, 2]) < 0.999
    clipped = np.clip(3 * rho, -0.999, 0.999)
    np.fill_diagonal(clipped, 1.0)
    assert np.linalg.eigvalsh(clipped).min() < -0.1  # clipping alone leaves it indefinite
    res = hypothetical_shock(x, W3, CLASSES3, {}, corr_multiplier=3.0)
    sd = np.sqrt(np.diag(res.stressed_covariance))
    corr = res.stressed_covariance / np.outer(sd, sd)
    off = ~np.eye(3, dtype=bool)
    assert np.all(np.abs(corr[off]) <= 0.999 + 1e-12)
    assert np.allclose(np.diag(corr), 1.0, atol=1e-12)
    assert np.linalg.eigvalsh(res.stressed_covariance).min() >= -1e-12
    assert np.linalg.eigvalsh(corr).min() >= -1e-12
    assert res.clipped_correlations == 2
    assert res.psd_repaired and "eigenvalue clipping" in res.note
    # the stressed volatility still equals w'Σw of the returned covariance
    w = np.array(W3)
    assert res.stressed_volatility == pytest.approx(
        math.sqrt(w @ res.stressed_covariance @ w), rel=1e-12
    )
    assert np.allclose(sd, np.std(x, axis=0, ddof=1), rtol=1e-12)


def test_stressed_var_on_real_returns_matches_scipy_quantile() -> None:
    x = np.column_stack(
        [np.diff(load_bars(s, start="2015", end="2016").close) for s in ("XOM", "CVX")]
    )
    x = x / np.column_stack(
        [load_bars(s, start="2015", end="2016").close[:-1] for s in ("XOM", "CVX")]
    )
    res = hypothetical_shock(x, [0.6, 0.4], ["oil", "oil"], {"oil": -0.3}, 1.0, 1.0, 0.95)
    port = x @ np.array([0.6, 0.4])
    assert res.stressed_var == pytest.approx(
        float(stats.norm.ppf(0.95)) * np.std(port, ddof=1), rel=1e-12
    )
    assert res.instant_pnl == pytest.approx(-0.3, abs=1e-15)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weights": [0.5, 0.5]}, "2 weights for 3 assets"),
        ({"asset_classes": ["equity", "bond"]}, "2 asset classes for 3 assets"),
        ({"shocks": {"crypto": -0.5}}, "crypto"),
        ({"shocks": {"equity": -1.5}}, "shock for equity"),
        ({"vol_multiplier": -1.0}, "vol_multiplier"),
        ({"corr_multiplier": -0.1}, "corr_multiplier"),
        ({"confidence": 1.0}, "confidence"),
        ({"asset_returns": np.zeros((1, 3))}, "periods >= 2"),
        ({"asset_returns": np.ones((10, 3))}, "constant returns"),
    ],
)
def test_shock_bad_input(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "asset_returns": synthetic_returns(),
        "weights": W3,
        "asset_classes": CLASSES3,
        "shocks": {"equity": -0.1},
    }
    args.update(kwargs)
    with pytest.raises(RiskError, match=message):
        hypothetical_shock(**args)  # type: ignore[arg-type]


def test_two_assets_clipped_to_the_bound_need_no_repair() -> None:
    x = synthetic_returns()[:, :2]
    sd = np.std(x, axis=0, ddof=1)
    w = np.array([0.7, 0.3])
    res = hypothetical_shock(x, w, ["a", "b"], {}, corr_multiplier=10.0)
    expected = (w[0] * sd[0]) ** 2 + (w[1] * sd[1]) ** 2 + 2 * 0.999 * w[0] * w[1] * sd[0] * sd[1]
    assert res.stressed_volatility == pytest.approx(math.sqrt(expected), rel=1e-12)
    assert res.clipped_correlations == 1 and not res.psd_repaired
