"""The ensemble through the real backtest runner, kernel, paper venue and ledger.

The reference for every vote is independent of the ensemble: each member is backtested alone,
its position series (the sign of its position after each bar's fills) is rebuilt from its
filled orders, and the series are combined with the weights and the threshold in numpy. The
ensemble's own position series must be that combination, bar for bar.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from neural_trader.core.market_data import Bar, BarSeries
from neural_trader.core.orders import OrderSide, OrderType
from neural_trader.data import load_bars
from neural_trader.errors import StrategyError
from neural_trader.strategies import (
    REGISTRY,
    Ensemble,
    Momentum,
    PairsTrading,
    SmaCross,
    Strategy,
    strategy_class,
)
from neural_trader.strategies.ensemble import MemberSpec
from neural_trader.trading.backtest import BacktestResult, run_backtest


@pytest.fixture(scope="module")
def spx() -> BarSeries:
    return load_bars("SPX")


def positions(result: BacktestResult, series: BarSeries) -> np.ndarray:
    """Sign of the position in ``series.symbol`` after the fills of each of its bars."""
    qty = np.zeros(len(series))
    for order in result.orders:
        if order.symbol == series.symbol and order.filled_quantity:
            at = int(np.searchsorted(series.ts, order.ts_last))
            assert series.ts[at] == order.ts_last  # filled on a bar of the series
            qty[at:] += float(order.filled_quantity) * order.side.sign
    return np.sign(qty)


def combine(
    members: list[np.ndarray], weights: list[float], threshold: float, allow_short: bool
) -> np.ndarray:
    vote = np.stack(members, axis=1) @ np.asarray(weights) / sum(weights)
    want = np.where(vote >= threshold, 1.0, 0.0)
    return np.where(allow_short & (vote <= -threshold), -1.0, want)


Members = list[tuple[str, float, dict[str, Any]]]
CASES: list[tuple[Members, float, bool, set[float]]] = [
    # sma_cross (long only) outvotes momentum, whose vote alone (1/3) never reaches 0.5: the
    # ensemble is long whenever sma_cross is, and never short although it may be
    ([("sma_cross", 2.0, {}), ("momentum", 1.0, {"allow_short": True})], 0.5, True, {0.0, 1.0}),
    # unanimity of two
    ([("sma_cross", 1.0, {"fast": 5, "slow": 20}), ("momentum", 1.0, {})], 1.0, False, {0, 1}),
    # three members, any two of three
    (
        [
            ("sma_cross", 1.0, {}),
            ("momentum", 1.0, {"allow_short": True, "use_macd": False}),
            ("mean_reversion", 1.0, {"allow_short": True, "use_rsi": False}),
        ],
        0.6,
        True,
        {-1.0, 0.0, 1.0},
    ),
]


@pytest.mark.parametrize(("members", "threshold", "allow_short", "states"), CASES)
def test_positions_are_the_weighted_vote_of_the_members_run_alone(
    spx: BarSeries, members: Members, threshold: float, allow_short: bool, states: set[float]
) -> None:
    alone = [
        positions(run_backtest(strategy_class(n).from_params(p), [spx]), spx) for n, _, p in members
    ]
    weights = [w for _, w, _ in members]
    expected = combine(alone, weights, threshold, allow_short)
    specs = [{"name": n, "weight": w, "params": p} for n, w, p in members]
    ensemble = Ensemble(members=specs, threshold=threshold, allow_short=allow_short)
    result = run_backtest(ensemble, [spx])
    got = positions(result, spx)
    assert np.count_nonzero(np.diff(expected)) >= 20  # the vote changes often enough to matter
    assert set(np.unique(expected)) == states
    assert (got == expected).all()
    assert {o.strategy_id for o in result.orders} == {"ensemble"}  # members never reach it


def test_members_decide_inside_the_ensemble_exactly_as_alone(spx: BarSeries) -> None:
    ensemble = Ensemble(
        members=[{"name": "sma_cross"}, {"name": "momentum", "params": {"allow_short": True}}]
    )
    run_backtest(ensemble, [spx])
    for voter in ensemble.voters:
        alone = run_backtest(type(voter.strategy)(**voter.strategy.params), [spx])
        assert len(voter.book.orders) > 10
        assert [
            (o.client_order_id, o.side, o.quantity, o.avg_price) for o in voter.book.orders
        ] == [(o.client_order_id, o.side, o.quantity, o.avg_price) for o in alone.orders]


def test_instances_vote_with_their_weights(spx: BarSeries) -> None:
    fast, mom = SmaCross(fast=5, slow=20), Momentum(allow_short=True)
    by_instance = Ensemble(members=[(fast, 2.0), mom], allow_short=True)
    by_name = Ensemble(
        members=[
            {"name": "sma_cross", "weight": 2.0, "params": {"fast": 5, "slow": 20}},
            {"name": "momentum", "params": {"allow_short": True}},
        ],
        allow_short=True,
    )
    assert [v.strategy for v in by_instance.voters] == [fast, mom]
    assert by_instance.params == by_name.params
    a, b = run_backtest(by_instance, [spx]), run_backtest(by_name, [spx])
    assert len(a.orders) > 10
    assert [(o.client_order_id, o.quantity) for o in a.orders] == [
        (o.client_order_id, o.quantity) for o in b.orders
    ]


def test_a_pairs_member_votes_on_both_legs() -> None:
    legs = [load_bars(s, "2010-01-01", "2020-12-31") for s in ("KO", "PEP")]
    alone = run_backtest(PairsTrading(), legs)
    ensemble = Ensemble(members=[{"name": "pairs"}], threshold=1.0, allow_short=True)
    result = run_backtest(ensemble, legs)
    for leg in legs:
        expected = positions(alone, leg)
        assert set(np.unique(expected)) == {-1.0, 0.0, 1.0}
        assert (positions(result, leg) == expected).all()


def test_cli_parameters_build_the_ensemble_from_a_json_string(spx: BarSeries) -> None:
    spec = [{"name": "sma_cross", "weight": 3}, {"name": "momentum", "params": {"period": 10}}]
    ensemble = strategy_class("ensemble").from_params(
        {"members": json.dumps(spec), "threshold": "0.7", "fraction": "0.5"}
    )
    assert isinstance(ensemble, Ensemble)
    # the record holds every member parameter, defaults included: enough to rebuild the run
    assert ensemble.params["members"] == [
        {"name": "sma_cross", "weight": 3.0, "params": SmaCross().params, "symbols": None},
        {"name": "momentum", "weight": 1.0, "params": Momentum(period=10).params, "symbols": None},
    ]
    assert [type(v.strategy) for v in ensemble.voters] == [SmaCross, Momentum]
    assert ensemble.voters[1].strategy.params["period"] == 10
    rebuilt = Ensemble(**ensemble.params)
    assert rebuilt.params == ensemble.params
    assert (ensemble.threshold, ensemble.fraction) == (0.7, 0.5)


@pytest.mark.parametrize("cut", [1200, 3000, 4500])
def test_no_look_ahead_truncating_after_a_bar_keeps_every_earlier_decision(
    spx: BarSeries, cut: int
) -> None:
    members = [{"name": "sma_cross", "weight": 2}, {"name": "mean_reversion"}]
    full = run_backtest(Ensemble(members=members, threshold=0.3), [spx])
    limit = int(spx.ts[cut])
    part = run_backtest(Ensemble(members=members, threshold=0.3), [spx.slice_time(None, limit)])

    def before(result: BacktestResult) -> list[tuple[str, OrderSide, Decimal]]:
        return [
            (o.client_order_id, o.side, o.quantity) for o in result.orders if o.ts_created <= limit
        ]

    assert len(before(full)) > 2
    assert before(part) == before(full)


def test_fraction_sizes_the_ensemble_position(spx: BarSeries) -> None:
    result = run_backtest(Ensemble(members=[{"name": "sma_cross"}], fraction=0.25), [spx])
    first = result.orders[0]
    close = float(spx.close[np.searchsorted(spx.ts, first.ts_created)])
    assert first.quantity == int(100_000 * 0.25 / close)


# -- what members may not do ----------------------------------------------------------------------


class LimitBuyer(Strategy):
    """Asks for a limit order: something the member book cannot fill faithfully."""

    name = "limit_buyer"

    def on_bar(self, bar: Bar) -> None:
        if self.flat(bar.symbol):
            self.buy(bar.symbol, 1, order_type=OrderType.LIMIT, limit_price=bar.close * 0.99)


class QuoteWatcher(Strategy):
    name = "quote_watcher"

    def on_quote(self, quote: object) -> None:
        """Handles quotes, which the ensemble does not pass on."""


def test_a_member_asking_for_a_limit_order_is_refused_with_a_clear_error(spx: BarSeries) -> None:
    with pytest.raises(StrategyError, match="only ask for plain market orders"):
        run_backtest(Ensemble(members=[LimitBuyer()]), [spx])


def test_a_member_handling_quotes_is_refused() -> None:
    with pytest.raises(StrategyError) as err:
        Ensemble(members=[SmaCross(), QuoteWatcher()])
    assert err.value.context["parameter"] == "members.1"


# -- parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"members": []}, "members"),
        ({"members": "[{"}, "members"),
        ({"members": [{"name": "nope"}]}, "members.0.name"),
        ({"members": [{"name": "sma_cross"}, {"name": "ghost"}]}, "members.1.name"),
        ({"members": [{"name": "sma_cross", "weight": 0}]}, "members.0.weight"),
        (
            {"members": [{"name": "sma_cross", "params": {"fast": 9, "slow": 3}}]},
            "members.0.params.slow",
        ),
        ({"members": [{"name": "momentum", "params": {"perod": 9}}]}, "members.0.params.perod"),
        ({"members": [{"name": "sma_cross", "colour": "red"}]}, "members.0.colour"),
        ({"members": [(SmaCross(), 1.0), {"name": "momentum"}]}, "members.1"),
        ({"members": [(SmaCross(), -1.0)]}, "members.0.weight"),
        ({"threshold": 0.0}, "threshold"),
        ({"threshold": 1.5}, "threshold"),
        ({"fraction": 0.0}, "fraction"),
        ({"fraction": 2.0}, "fraction"),
        ({"weights": [1, 2]}, "weights"),
    ],
)
def test_bad_parameters_name_the_parameter(params: dict[str, Any], name: str) -> None:
    with pytest.raises(StrategyError) as err:
        Ensemble(**params)
    assert err.value.context["parameter"] == name
    assert repr(name) in str(err.value)


def test_registry_name_and_defaults() -> None:
    assert REGISTRY["ensemble"] is Ensemble
    ensemble = Ensemble()
    assert ensemble.params == {
        "members": [
            MemberSpec(name="sma_cross", params=SmaCross().params).model_dump(),
            MemberSpec(name="momentum", params=Momentum().params).model_dump(),
        ],
        "threshold": 0.5,
        "allow_short": False,
        "fraction": 1.0,
    }
    assert [type(v.strategy) for v in ensemble.voters] == [SmaCross, Momentum]
    assert Ensemble().voters[0].strategy is not ensemble.voters[0].strategy
