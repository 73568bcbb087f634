"""Pairs trading through the real backtest runner, kernel, paper venue and ledger.

A synthetic cointegrated pair (a random walk and a copy of it plus bounded noise) with a known
spread excursion pins entries, exits, stops and the break of cointegration to known bars; the
z-scores they are checked against come from a plain rolling regression here (numpy), and every
cointegration test the strategy ran is recomputed with statsmodels' ``coint``. On bundled
KO/PEP closes the whole run is checked for trades, dollar-neutral legs, a ledger that
reconciles, and no look-ahead.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from statsmodels.tsa.stattools import coint

from neural_trader.core.market_data import BarSeries
from neural_trader.core.orders import Order, OrderSide
from neural_trader.data import load_bars
from neural_trader.errors import StrategyError
from neural_trader.strategies import REGISTRY, strategy_class
from neural_trader.strategies.pairs import PairsTrading, RollingOLS
from neural_trader.trading.backtest import BacktestResult, run_backtest

HOUR = 3_600 * 10**9
DAY = 24 * HOUR
DAY0 = 19_000 * DAY + 21 * HOUR
CASH = 100_000
BUY, SELL = OrderSide.BUY, OrderSide.SELL
N = 400
T = np.arange(N)
# formation 200 and retest 21: the pair is tested at bars 200, 221, ..., 305, ...
PARAMS: dict[str, Any] = dict(formation=200, hedge_window=60, retest=21)


# -- building data and reading runs ---------------------------------------------------------------


def bars(symbol: str, close: np.ndarray, keep: np.ndarray | None = None) -> BarSeries:
    """Daily bars whose open is the previous close; ``keep`` drops the other bars."""
    close = np.asarray(close, dtype=np.float64)
    open_ = np.concatenate((close[:1], close[:-1]))
    ts = DAY0 + DAY * np.arange(len(close), dtype=np.int64)
    keep = np.ones(len(close), dtype=bool) if keep is None else keep
    return BarSeries(
        symbol,
        "1d",
        ts[keep],
        open_[keep],
        np.maximum(open_, close)[keep] * 1.001,
        np.minimum(open_, close)[keep] * 0.999,
        close[keep],
        np.full(int(keep.sum()), 1e9),
    )


def synthetic(excursion: np.ndarray | None = None, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Log closes (y, x): x a random walk, y = 0.3 + 0.9·x + uniform noise (+ excursion).

    With uniform noise the 60-bar residual z-score stays below 2 in absolute value from bar
    200 on (asserted where it matters), so every entry comes from the excursion."""
    rng = np.random.default_rng(seed)
    x = math.log(50.0) + np.cumsum(rng.normal(0.0, 0.01, N))
    y = 0.3 + 0.9 * x + rng.uniform(-0.004, 0.004, N)
    return (y if excursion is None else y + excursion), x


def pulse(start: int, *sizes: float) -> np.ndarray:
    out = np.zeros(N)
    out[start : start + len(sizes)] = sizes
    return out


def rolling_z(y: np.ndarray, x: np.ndarray, window: int = 60) -> np.ndarray:
    """z of the newest residual of an OLS of y on x over each window (population σ)."""
    out = np.full(len(x), np.nan)
    for t in range(window - 1, len(x)):
        xs, ys = x[t - window + 1 : t + 1], y[t - window + 1 : t + 1]
        beta, alpha = np.polyfit(xs, ys, 1)
        resid = ys - alpha - beta * xs
        out[t] = resid[-1] / resid.std()
    return out


def run(y: np.ndarray, x: np.ndarray, **params: Any) -> tuple[PairsTrading, BacktestResult]:
    strategy = PairsTrading(symbols=["A", "B"], **(PARAMS | params))
    result = run_backtest(strategy, [bars("A", np.exp(y)), bars("B", np.exp(x))])
    return strategy, result


def decided(result: BacktestResult) -> list[tuple[int, str, OrderSide]]:
    """(bar index, symbol, side) of every order, in the order they were decided."""
    return [(int((o.ts_created - DAY0) // DAY), o.symbol, o.side) for o in result.orders]


# -- the rolling hedge regression -----------------------------------------------------------------


def test_rolling_ols_matches_a_plain_regression_on_every_window() -> None:
    rng = np.random.default_rng(1)
    x = 4.0 + np.cumsum(rng.normal(0, 0.02, 500))
    y = 1.0 + 0.7 * x + rng.normal(0, 0.01, 500)
    ols = RollingOLS(30)
    expected_z = rolling_z(y, x, 30)
    for t in range(500):
        z = ols.update(float(x[t]), float(y[t]))
        if t < 29:
            assert z is None
            continue
        beta, alpha = np.polyfit(x[t - 29 : t + 1], y[t - 29 : t + 1], 1)
        assert ols.beta == pytest.approx(beta, rel=1e-9)
        assert ols.alpha == pytest.approx(alpha, rel=1e-9)
        assert z == pytest.approx(expected_z[t], rel=1e-7, abs=1e-9)


def test_rolling_ols_has_no_fit_without_spread_in_x() -> None:
    ols = RollingOLS(5)
    assert [ols.update(3.0, float(i)) for i in range(6)] == [None] * 6
    assert ols.beta is None


# -- signals on a hand-built pair -----------------------------------------------------------------


def test_shorts_the_spread_on_a_positive_excursion_and_exits_at_the_mean() -> None:
    y, x = synthetic(pulse(300, 0.01, 0.01))
    z = rolling_z(y, x)
    assert np.abs(z[200:300]).max() < 2.0
    assert 2.0 < z[300] < 4.0 and z[301] > 0.5 and z[302] <= 0.5
    assert np.abs(z[303:]).max() < 2.0
    strategy, result = run(y, x)
    assert decided(result) == [(300, "A", SELL), (300, "B", BUY), (302, "A", BUY), (302, "B", SELL)]
    trades = sorted(result.trades, key=lambda t: t.symbol)
    assert [(t.symbol, t.direction) for t in trades] == [("A", -1), ("B", 1)]
    assert {(t.entry_time, t.exit_time) for t in trades} == {(DAY0 + 301 * DAY, DAY0 + 303 * DAY)}
    assert sum(t.pnl for t in trades) > 0
    assert result.portfolio.quantity("A") == result.portfolio.quantity("B") == 0
    assert strategy.pairs == [("A", "B")]


def test_buys_the_spread_on_a_negative_excursion() -> None:
    y, x = synthetic(pulse(300, -0.01, -0.01))
    z = rolling_z(y, x)
    assert np.abs(z[200:300]).max() < 2.0 and -4.0 < z[300] < -2.0
    exit_bar = 301 + int(np.argmax(z[301:] >= -0.5))
    assert np.abs(z[exit_bar + 1 :]).max() < 2.0
    _, result = run(y, x)
    assert decided(result) == [
        (300, "A", BUY),
        (300, "B", SELL),
        (exit_bar, "A", SELL),
        (exit_bar, "B", BUY),
    ]


def test_stays_flat_while_the_spread_stays_inside_the_entry_band() -> None:
    y, x = synthetic()
    assert np.abs(rolling_z(y, x)[200:]).max() < 2.0
    strategy, result = run(y, x)
    assert result.orders == []
    assert strategy.pairs == [("A", "B")]  # chosen and warm, and chose not to trade
    assert len(strategy.tests) == len(range(200, N, 21))
    assert max(t.pvalue for t in strategy.tests) < 1e-6


def test_stop_flattens_and_no_entry_until_the_spread_is_back_inside_the_exit_band() -> None:
    y, x = synthetic(pulse(300, 0.01, 0.03, 0.03, 0.02))
    z = rolling_z(y, x)
    assert 2.0 < z[300] < 4.0 and z[301] >= 4.0
    back = 302 + int(np.argmax(np.abs(z[302:]) <= 0.5))
    cooling = np.abs(z[302:back])
    assert (cooling > 0.5).all() and ((cooling > 2.0) & (cooling < 4.0)).any()  # would enter
    assert np.abs(z[back:]).max() < 2.0
    _, result = run(y, x)
    assert decided(result) == [(300, "A", SELL), (300, "B", BUY), (301, "A", BUY), (301, "B", SELL)]
    # with the stop out of reach the same excursion is held past bar 301
    _, no_stop = run(y, x, stop_z=50.0)
    assert len(no_stop.orders) == 4 and decided(no_stop)[2][0] > 301


def test_waits_for_both_legs_of_the_same_timestamp() -> None:
    y, x = synthetic(pulse(300, 0.01, 0.01))
    keep = T != 300  # B has no bar at 300: A's bar alone must not make a decision
    a, b = bars("A", np.exp(y)), bars("B", np.exp(x), keep)
    z = rolling_z(y[keep], x[keep])  # on the aligned bars
    assert z[300] > 2.0  # aligned index 300 is bar 301
    for order in ([a, b], [b, a]):  # whichever leg arrives first at a timestamp
        result = run_backtest(PairsTrading(symbols=["A", "B"], **PARAMS), order)
        assert decided(result)[:2] == [(301, "A", SELL), (301, "B", BUY)]


def test_legs_are_dollar_neutral_and_sized_from_equity() -> None:
    y, x = synthetic(pulse(300, -0.01, -0.01))
    _, result = run(y, x, fraction=0.6)
    a, b = result.orders[:2]
    pa, pb = math.exp(y[300]), math.exp(x[300])
    leg = CASH * 0.6 / 2
    assert a.quantity == math.floor(leg / pa) and b.quantity == math.floor(leg / pb)
    assert abs(float(a.quantity) * pa - float(b.quantity) * pb) <= max(pa, pb)
    assert a.ts_created == b.ts_created and a.side != b.side


# -- cointegration: the test itself, its break, several symbols -----------------------------------


def assert_tests_match_statsmodels(strategy: PairsTrading, series: dict[str, BarSeries]) -> None:
    assert strategy.tests
    for t in strategy.tests:
        ya = np.log(series[t.first].slice_time(None, t.ts).close[-t.nobs :])
        yb = np.log(series[t.second].slice_time(None, t.ts).close[-t.nobs :])
        stat, pvalue, _ = coint(ya, yb)
        assert t.nobs == strategy.formation
        assert t.stat == pytest.approx(stat, rel=1e-9)
        assert t.pvalue == pytest.approx(pvalue, rel=1e-9)


def test_a_break_of_cointegration_flattens_the_pair_and_stops_trading() -> None:
    # From bar 300 the spread drifts away for good (a ramp): z leaves the band and stays out,
    # inside the stop, so the pair is short the spread when a re-test finds no cointegration.
    y, x = synthetic(np.where(T >= 300, (T - 299) * 0.002, 0.0))
    z = rolling_z(y, x)
    entry = 300 + int(np.argmax(z[300:] > 2.0))
    strategy, result = run(y, x)
    (broken, *later) = [t for t in strategy.tests if t.ts >= DAY0 + entry * DAY and t.pvalue > 0.05]
    retest = (broken.ts - DAY0) // DAY + 1  # the bar whose arrival ran the failing test
    assert ((z[entry:retest] > 0.5) & (z[entry:retest] < 4.0)).all()  # held until then
    assert [t.pvalue < 0.05 for t in strategy.tests if t.ts < broken.ts][-1]  # chosen before
    assert later and all(t.pvalue > 0.05 for t in later)  # never chosen again
    assert decided(result) == [
        (entry, "A", SELL),
        (entry, "B", BUY),
        (retest, "A", BUY),
        (retest, "B", SELL),
    ]
    assert strategy.pairs == []
    assert result.portfolio.quantity("A") == result.portfolio.quantity("B") == 0
    assert_tests_match_statsmodels(strategy, {"A": bars("A", np.exp(y)), "B": bars("B", np.exp(x))})


def test_chooses_the_cointegrated_pair_among_three_symbols() -> None:
    y, x = synthetic(pulse(300, 0.01, 0.01))
    w = math.log(30.0) + np.cumsum(np.random.default_rng(3).normal(0, 0.01, N))
    series = {"C": bars("C", np.exp(w)), "A": bars("A", np.exp(y)), "B": bars("B", np.exp(x))}
    strategy = PairsTrading(symbols=["A", "B", "C"], **PARAMS)
    result = run_backtest(strategy, list(series.values()))
    assert {(t.first, t.second) for t in strategy.tests} == {("A", "B"), ("A", "C"), ("B", "C")}
    assert strategy.pairs == [("A", "B")]
    assert {o.symbol for o in result.orders} == {"A", "B"}
    assert decided(result)[:2] == [(300, "A", SELL), (300, "B", BUY)]
    assert_tests_match_statsmodels(strategy, series)


# -- bundled data: KO / PEP -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def ko_pep() -> dict[str, BarSeries]:
    return {s: load_bars(s, "2010-01-01", "2020-12-31") for s in ("KO", "PEP")}


@pytest.fixture(scope="module")
def ko_pep_run(ko_pep: dict[str, BarSeries]) -> tuple[PairsTrading, BacktestResult]:
    strategy = PairsTrading(symbols=["KO", "PEP"])
    return strategy, run_backtest(strategy, list(ko_pep.values()))


def test_ko_pep_backtest_trades_both_legs_and_reconciles_with_the_ledger(
    ko_pep_run: tuple[PairsTrading, BacktestResult],
) -> None:
    _, result = ko_pep_run
    assert len(result.trades) >= 10
    assert {t.symbol for t in result.trades} == {"KO", "PEP"}
    assert {t.direction for t in result.trades} == {1, -1}
    realized = Decimal(0)
    for sym in ("KO", "PEP"):
        position = result.portfolio.position(sym)
        assert position is not None
        realized += position.realized_pnl
    assert sum((t.pnl for t in result.trades), Decimal(0)) == realized
    assert result.denials == [] and result.rejections == []


def test_ko_pep_entries_are_dollar_neutral_pairs_of_orders(
    ko_pep_run: tuple[PairsTrading, BacktestResult], ko_pep: dict[str, BarSeries]
) -> None:
    _, result = ko_pep_run
    by_ts: dict[int, list[Order]] = {}
    for order in result.orders:
        by_ts.setdefault(order.ts_created, []).append(order)
    equity = dict(zip(result.timestamps.tolist(), result.equity.tolist(), strict=True))
    entries = 0
    for ts, orders in by_ts.items():
        assert [o.symbol for o in orders] == ["KO", "PEP"] and orders[0].side != orders[1].side
        ko, pep = (float(s.close[np.searchsorted(s.ts, ts)]) for s in ko_pep.values())
        if _opens(result, orders[0]):
            entries += 1
            leg = equity[ts] * 0.5 / 2
            assert float(orders[0].quantity) == math.floor(leg / ko)
            assert float(orders[1].quantity) == math.floor(leg / pep)
            gap = abs(float(orders[0].quantity) * ko - float(orders[1].quantity) * pep)
            assert gap <= max(ko, pep)
    assert entries >= 5


def _opens(result: BacktestResult, order: Order) -> bool:
    """Whether ``order`` opened a position (the one before it on the symbol left it flat)."""
    net = Decimal(0)
    for o in result.orders:
        if o is order:
            return net == 0
        if o.symbol == order.symbol:
            net += o.filled_quantity * o.side.sign
    raise AssertionError("order not in the run")


def test_ko_pep_cointegration_tests_agree_with_statsmodels(
    ko_pep_run: tuple[PairsTrading, BacktestResult], ko_pep: dict[str, BarSeries]
) -> None:
    strategy, _ = ko_pep_run
    n_days = len(ko_pep["KO"])
    assert len(strategy.tests) == len(range(252, n_days, 21))
    passed = [t.pvalue < 0.05 for t in strategy.tests]
    assert any(passed) and not all(passed)
    assert_tests_match_statsmodels(strategy, ko_pep)


@pytest.mark.parametrize("cut", [781, 1300, 2203])  # each in the middle of a trade
def test_no_look_ahead_truncating_after_a_bar_keeps_every_earlier_decision(
    ko_pep_run: tuple[PairsTrading, BacktestResult], ko_pep: dict[str, BarSeries], cut: int
) -> None:
    _, full = ko_pep_run
    limit = int(ko_pep["KO"].ts[cut])
    part = run_backtest(
        PairsTrading(symbols=["KO", "PEP"]), [s.slice_time(None, limit) for s in ko_pep.values()]
    )

    def before(result: BacktestResult) -> list[tuple[str, OrderSide, Decimal]]:
        return [
            (o.client_order_id, o.side, o.quantity) for o in result.orders if o.ts_created <= limit
        ]

    assert len(before(full)) >= 2
    assert before(part) == before(full)


def test_without_symbols_the_universe_is_learned_from_the_bars(
    ko_pep_run: tuple[PairsTrading, BacktestResult], ko_pep: dict[str, BarSeries]
) -> None:
    _, with_symbols = ko_pep_run
    result = run_backtest(strategy_class("pairs").from_params({}), list(ko_pep.values()))
    assert [(o.client_order_id, o.quantity) for o in result.orders] == [
        (o.client_order_id, o.quantity) for o in with_symbols.orders
    ]


# -- parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"formation": 10}, "formation"),
        ({"hedge_window": 5}, "hedge_window"),
        ({"hedge_window": 300}, "hedge_window"),
        ({"entry_z": 0.0}, "entry_z"),
        ({"exit_z": -0.5}, "exit_z"),
        ({"exit_z": 2.0}, "exit_z"),
        ({"entry_z": 3.0, "exit_z": 0.5, "stop_z": 2.5}, "stop_z"),
        ({"p_value": 0.0}, "p_value"),
        ({"p_value": 1.0}, "p_value"),
        ({"retest": 0}, "retest"),
        ({"fraction": 0.0}, "fraction"),
        ({"fraction": 1.5}, "fraction"),
        ({"max_pairs": 0}, "max_pairs"),
        ({"lookback": 20}, "lookback"),
    ],
)
def test_bad_parameters_name_the_parameter(params: dict[str, Any], name: str) -> None:
    with pytest.raises(StrategyError) as err:
        PairsTrading(**params)
    assert err.value.context["parameter"] == name
    assert repr(name) in str(err.value)


def test_a_pair_needs_two_symbols() -> None:
    with pytest.raises(StrategyError) as err:
        PairsTrading(symbols=["KO", "KO"])
    assert err.value.context["parameter"] == "symbols"


def test_registry_name_and_defaults() -> None:
    assert REGISTRY["pairs"] is PairsTrading
    assert PairsTrading().params == {
        "formation": 252,
        "hedge_window": 60,
        "entry_z": 2.0,
        "exit_z": 0.5,
        "stop_z": 4.0,
        "p_value": 0.05,
        "retest": 21,
        "fraction": 0.5,
        "max_pairs": 1,
    }
