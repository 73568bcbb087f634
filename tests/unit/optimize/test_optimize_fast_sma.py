"""The compiled sma_cross evaluator against the kernel (``run_backtest``), the ground truth.

Equality here is exact: the same round trips (times, prices, quantities, PnL and commission as
Decimals), the same ledger cash, the same equity curve bit for bit, and the same figures
(Sharpe and Sortino to 1e-9 relative: the kernel sums returns pairwise, the compiled loop in
order).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pytest

from neural_trader.brokers.paper import FeeModel
from neural_trader.core.market_data import BarSeries
from neural_trader.optimize import KernelEvaluator, make_evaluator
from neural_trader.optimize.fast_sma import SmaCrossFast, exact_ticks, fee_scale, unsupported
from neural_trader.optimize.folds import Window
from neural_trader.optimize.objectives import TrialMetrics, metrics_from_result
from neural_trader.optimize.sma_kernel import commission_cents
from neural_trader.risk.gate import RiskLimits
from neural_trader.strategies import Momentum, SmaCross
from neural_trader.trading.backtest import BacktestConfig
from neural_trader.trading.instruments import default_instrument

FEES = {
    "none": FeeModel(),
    "bps": FeeModel(bps=Decimal(5)),
    "share+bps+min": FeeModel(Decimal("0.005"), Decimal("1.5"), Decimal(1)),
}
PARAMS = [{"fast": 10, "slow": 30}, {"fast": 5, "slow": 200}, {"fast": 2, "slow": 3}]
APPROX = ("sharpe", "sortino")


def assert_same_run(series: BarSeries, cfg: BacktestConfig, window: Window, params: dict) -> int:
    """Compare one backtest both ways; returns the number of round trips compared."""
    fast = SmaCrossFast(series, cfg).run(window, params)
    ref = KernelEvaluator(SmaCross, series, cfg).run(window, params)
    assert fast.trades == ref.trades
    assert fast.cash == ref.portfolio.cash
    assert fast.position == ref.portfolio.quantity(series.symbol)
    assert np.array_equal(fast.equity, ref.equity)
    assert fast.equity[-1] == ref.final_equity
    assert_same_metrics(fast.metrics, metrics_from_result(ref))
    return len(ref.trades)


def assert_same_metrics(got: TrialMetrics, want: TrialMetrics) -> None:
    for name, value in want.as_dict().items():
        mine = getattr(got, name)
        if value is None:
            assert math.isnan(mine), name
        elif name in APPROX:
            assert mine == pytest.approx(value, rel=1e-9), name
        else:
            assert mine == value, name


@pytest.mark.parametrize("fees", FEES, ids=str)
@pytest.mark.parametrize("params", PARAMS, ids=lambda p: f"{p['fast']}x{p['slow']}")
def test_equals_kernel_on_spx(spx: BarSeries, fees: str, params: dict) -> None:
    cfg = BacktestConfig(fees=FEES[fees])
    assert assert_same_run(spx, cfg, Window(0, len(spx)), params) > 20


@pytest.mark.parametrize("params", PARAMS, ids=lambda p: f"{p['fast']}x{p['slow']}")
def test_equals_kernel_on_synthetic_minutes(minutes: BarSeries, params: dict) -> None:
    cfg = BacktestConfig(fees=FEES["share+bps+min"])
    assert assert_same_run(minutes, cfg, Window(0, len(minutes)), params) > 100


def test_equals_kernel_on_a_window_of_the_series(spx: BarSeries) -> None:
    """A window is backtested on its own, flat, like the kernel on the sliced series."""
    assert assert_same_run(spx, BacktestConfig(), Window(1234, 3456), PARAMS[0]) > 10


@pytest.mark.parametrize(
    "limits",
    [
        RiskLimits(Decimal(150_000), Decimal("1e18")),  # position notional: denies big entries
        RiskLimits(Decimal("1e18"), Decimal(120_000)),  # order notional: denies entries and exits
        RiskLimits(Decimal("1e18"), Decimal("1e18"), max_position_quantity=Decimal(60)),
        RiskLimits(kill_switch=True),
        RiskLimits(allowed_symbols=frozenset({"AAPL"})),
    ],
    ids=["position", "order", "quantity", "kill", "not-allowed"],
)
def test_equals_kernel_when_the_risk_gate_denies(spx: BarSeries, limits: RiskLimits) -> None:
    cfg = BacktestConfig(limits=limits)
    ref = KernelEvaluator(SmaCross, spx, cfg).run(Window(0, len(spx)), PARAMS[0])
    unlimited = KernelEvaluator(SmaCross, spx, BacktestConfig()).run(Window(0, len(spx)), PARAMS[0])
    assert len(ref.denials) > 0 or len(ref.trades) < len(unlimited.trades)  # the limit binds
    assert_same_run(spx, cfg, Window(0, len(spx)), PARAMS[0])


def test_exact_ticks_match_round_price_on_halves() -> None:
    """Prices whose decimal text ends in 5 at the third decimal are exact ties for half-even
    rounding; their float products with 100 fall on either side of the half."""
    rng = np.random.default_rng(3)
    cents = rng.integers(1, 10_000_000, 20_000)
    prices = np.concatenate([(cents * 10 + 5) / 1000.0, rng.uniform(0.01, 5000.0, 20_000)])
    inst = default_instrument("SPX")
    want = [int(inst.round_price(float(p)) / inst.price_increment) for p in prices]
    assert exact_ticks(prices, 2).tolist() == want
    fx = default_instrument("EURUSD")
    fx_prices = (rng.integers(100_000, 200_000, 5_000) * 10 + 5) / 1_000_000.0
    want_fx = [int(fx.round_price(float(p)) / fx.price_increment) for p in fx_prices]
    assert exact_ticks(fx_prices, 5).tolist() == want_fx


def test_commission_in_integers_matches_fee_model() -> None:
    rng = np.random.default_rng(5)
    for fees in FEES.values():
        scale = fee_scale(fees, 2)
        assert scale is not None
        for qty, px_cents in zip(
            rng.integers(1, 5000, 500), rng.integers(1, 500_000, 500), strict=True
        ):
            qty, px_cents = int(qty), int(px_cents)
            notional = Decimal(qty) * Decimal(px_cents) / 100
            want = fees.commission(Decimal(qty), notional)
            got = commission_cents(qty, qty * px_cents, *(int(x) for x in scale))
            assert Decimal(got) / 100 == want
            assert want == want.quantize(Decimal("0.01"), ROUND_HALF_EVEN)


def test_declines_what_it_cannot_reproduce(spx: BarSeries) -> None:
    assert unsupported(spx, BacktestConfig()) is None
    assert "slippage" in (unsupported(spx, BacktestConfig(slippage_bps=Decimal(1))) or "")
    levered = BacktestConfig(limits=RiskLimits(max_gross_leverage=1.0))
    assert "max_gross_leverage" in (unsupported(spx, levered) or "")
    evaluator, reason = make_evaluator(SmaCross, spx, levered)
    assert isinstance(evaluator, KernelEvaluator) and "max_gross_leverage" in reason
    evaluator, reason = make_evaluator(Momentum, spx, BacktestConfig())
    assert isinstance(evaluator, KernelEvaluator) and "momentum" in reason
    evaluator, _ = make_evaluator(SmaCross, spx, BacktestConfig())
    assert isinstance(evaluator, SmaCrossFast)


def test_metrics_of_many_parameter_sets_match_the_kernel(spx: BarSeries) -> None:
    window = Window(0, 2000)
    params = [{"fast": f, "slow": s} for f in (3, 8, 20) for s in (25, 60)]
    fast = SmaCrossFast(spx, BacktestConfig()).metrics(window, params)
    ref = KernelEvaluator(SmaCross, spx, BacktestConfig()).metrics(window, params)
    for got, want in zip(fast, ref, strict=True):
        assert_same_metrics(got, want)
