"""The neural forecast strategy: the sizing rule in closed form, its decisions on hand-built
series with a closed-form forecast source, and on SPX with a real LSTM from the NeuralService
checked against the service's batched forecasts (a separate window path) and the rule."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from neural_trader.config import load_settings
from neural_trader.core.market_data import BarSeries
from neural_trader.core.orders import OrderSide
from neural_trader.errors import StrategyError
from neural_trader.strategies.ensemble import Ensemble
from neural_trader.strategies.neural_forecast import NeuralForecast, target_fraction
from neural_trader.strategies.services import StrategyServices, attach_services
from neural_trader.trader import NeuralTrader
from neural_trader.trading.backtest import run_backtest

DAY = 86_400 * 10**9


@pytest.mark.parametrize(
    ("lower", "upper", "short", "expected"),
    [
        (-0.01, 0.02, True, 0.0),  # straddles zero: no view
        (0.01, 0.03, False, 0.5 * 0.01 / 0.02),  # clears zero by half its width
        (0.05, 0.06, False, 0.5),  # clear by more than its width: the whole fraction
        (-0.03, -0.01, False, 0.0),  # below zero, shorting off
        (-0.03, -0.01, True, -0.5 * 0.01 / 0.02),
        (0.02, 0.02, False, 0.5),  # a point forecast above zero
    ],
)
def test_target_fraction_closed_form(
    lower: float, upper: float, short: bool, expected: float
) -> None:
    assert target_fraction(lower, upper, 0.5, short) == pytest.approx(expected)


@dataclass(frozen=True)
class View:
    horizons: list[int]
    lower: list[float]
    upper: list[float]


class LastReturn:
    """A closed-form source: the last log return ± a fixed radius, from ``need`` bars."""

    def __init__(self, need: int = 3, radius: float = 0.01) -> None:
        self.need, self.radius, self.seen = need, radius, []

    def history_needed(self, name: str) -> int:
        return self.need

    def predict_bars(self, name: str, bars: BarSeries) -> View:
        self.seen.append((name, len(bars), int(bars.ts[-1])))
        r = float(np.log(bars.close[-1] / bars.close[-2]))
        return View([1], [r - self.radius], [r + self.radius])


def series(closes: list[float]) -> BarSeries:
    c = np.asarray(closes, dtype=np.float64)
    ts = np.arange(c.size, dtype=np.int64) * DAY + 21 * 3_600 * 10**9
    return BarSeries("TEST", "1d", ts, c, c, c, c, np.zeros_like(c))


def test_enters_when_the_interval_clears_zero_and_exits_when_it_straddles() -> None:
    # returns: +5% (long), +5% (hold), 0 (straddle: exit), -5% (flat, no shorting), +3%
    closes = [100, 100, 105, 110.25, 110.25, 104.7375, 104.7375 * 1.03, 104.7375 * 1.03]
    source = LastReturn()
    strat = NeuralForecast(model="m-TEST", fraction=0.5, rebalance=0.5)
    strat.use_forecasts(source)
    result = run_backtest(strat, [series(closes)])
    targets = [round(t, 6) for _, _, t in strat.decisions]
    assert targets == [0.5, 0.5, 0.0, 0.0, round(0.5 * (np.log(1.03) - 0.01) / 0.02, 6), 0.0]
    assert [n for n, _, _ in source.seen] == ["m-TEST"] * 6
    assert all(n == 3 for _, n, _ in source.seen)  # only the bars it asked for
    sides = [(o.side, o.ts_created // DAY) for o in result.orders]
    assert sides == [
        (OrderSide.BUY, 2),
        (OrderSide.SELL, 4),
        (OrderSide.BUY, 6),
        (OrderSide.SELL, 7),
    ]


def test_shorts_when_allowed_and_names_the_model_by_symbol() -> None:
    source = LastReturn()
    strat = NeuralForecast(model="lstm", allow_short=True, fraction=0.4)
    strat.use_forecasts(source)
    result = run_backtest(strat, [series([100, 100, 100, 95, 90, 90])])
    assert source.seen[0][0] == "lstm-TEST"
    assert [round(t, 6) for _, _, t in strat.decisions] == [0.0, -0.4, -0.4, 0.0]
    assert [o.side for o in result.orders] == [OrderSide.SELL, OrderSide.BUY]


def test_truncating_the_data_after_t_leaves_earlier_decisions_alone() -> None:
    rng = np.random.default_rng(3)
    closes = list(100 * np.exp(np.cumsum(rng.normal(0, 0.02, 300))))
    full, cut = (
        NeuralForecast(model="m-TEST", allow_short=True),
        NeuralForecast(model="m-TEST", allow_short=True),
    )
    full.use_forecasts(LastReturn())
    cut.use_forecasts(LastReturn())
    a = run_backtest(full, [series(closes)])
    b = run_backtest(cut, [series(closes[:150])])
    assert full.decisions[: len(cut.decisions)] == cut.decisions
    before = [o for o in a.orders if o.ts_created <= b.orders[-1].ts_created]
    assert [(o.side, o.quantity) for o in before] == [(o.side, o.quantity) for o in b.orders]


def test_needs_a_source_and_a_horizon_the_model_has() -> None:
    with pytest.raises(StrategyError, match="needs a forecast source"):
        run_backtest(NeuralForecast(), [series([100, 101, 102])])
    with pytest.raises(StrategyError, match="needs forecasts and nothing here provides them"):
        attach_services(NeuralForecast(), StrategyServices())
    strat = NeuralForecast(model="m-TEST", horizon=5)
    strat.use_forecasts(LastReturn())
    with pytest.raises(StrategyError, match="parameter 'horizon': the model forecasts \\[1\\]"):
        run_backtest(strat, [series([100, 101, 102, 103])])
    with pytest.raises(StrategyError, match="parameter 'fraction'"):
        NeuralForecast(fraction=0)


def test_an_ensemble_member_that_forecasts_is_given_the_source() -> None:
    source = LastReturn()
    members = [{"name": "neural_forecast", "params": {"model": "m-TEST"}}, {"name": "sma_cross"}]
    ensemble = Ensemble(members=members, threshold=0.5)
    attach_services(ensemble, StrategyServices(forecasts=lambda: source))
    forecaster = ensemble.strategies()[0]
    assert isinstance(forecaster, NeuralForecast) and forecaster.source is source
    run_backtest(ensemble, [series([100, 100, 105, 110, 111, 112])])
    assert len(source.seen) == 4  # the member forecast on every bar after its warm-up


@pytest.fixture
def trader(tmp_path: Path) -> Iterator[NeuralTrader]:
    settings = load_settings(
        None,
        {
            "database.url": f"sqlite:///{tmp_path / 'nt.db'}",
            "neural.models_dir": str(tmp_path / "models"),
        },
    )
    nt = NeuralTrader(settings)
    yield nt
    asyncio.run(nt.shutdown())


def test_trades_a_real_lstm_as_its_batched_forecasts_say(trader: NeuralTrader) -> None:
    trader.train_model(
        "lstm", "SPX", epochs=2, window=10, start="2008-01-01", end="2012-12-31",
        alpha=0.6, hparams={"hidden_size": 8},
    )  # fmt: skip
    strat = trader.strategy(
        "neural_forecast", {"model": "lstm-SPX", "rebalance": 0.0, "allow_short": True}
    )
    run = trader.backtest(strat, "SPX", start="2013-01-01", end="2014-12-31")
    expected = {
        f.as_of: target_fraction(f.lower[0], f.upper[0], 1.0, True)
        for f in trader.neural.predict_batch("lstm-SPX", start="2013-01-01", end="2014-12-31")
    }
    got = {ts: t for ts, _, t in strat.decisions}
    assert len(got) == len(run.result.timestamps) - 29  # one per bar after 30 of warm-up
    assert set(got) <= set(expected)
    for ts, target in got.items():
        assert target == pytest.approx(expected[ts], rel=1e-4, abs=1e-6)
    views = sum(1 for t in got.values() if t != 0)
    assert 0 < views < len(got)  # it takes a view on some days and none on others
    assert run.result.orders and all(o.symbol == "SPX" for o in run.result.orders)
