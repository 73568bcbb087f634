"""The Bollinger mean-reversion strategy through the real kernel, paper venue and ledger.

Hand-built price paths pin the entry, the exit rule (close back at the middle band, not merely
back inside the lower band), the RSI filter and the short side to known bars; on real S&P 500
data the whole run is compared with an independent re-implementation of the rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from arch.data import sp500

from neural_trader.brokers.paper import PaperVenue
from neural_trader.core.bus import MessageBus
from neural_trader.core.clock import SimulatedClock
from neural_trader.core.instruments import InstrumentRegistry
from neural_trader.core.market_data import BarSeries
from neural_trader.core.orders import Order, OrderSide
from neural_trader.core.portfolio import Portfolio
from neural_trader.errors import StrategyError
from neural_trader.risk.gate import PreTradeGate, RiskLimits
from neural_trader.strategies.mean_reversion import MeanReversion
from neural_trader.trading.instruments import default_instrument
from neural_trader.trading.kernel import Kernel
from neural_trader.trading.trades import Trade, TradeTracker

HOUR = 3_600 * 10**9
DAY = 24 * HOUR
DAY0 = 19_000 * DAY + 21 * HOUR
CASH = 100_000
CENT = Decimal("0.01")
SYM = "TEST"
BUY, SELL = OrderSide.BUY, OrderSide.SELL


# -- running a strategy through the kernel ------------------------------------------------------


@dataclass
class Run:
    orders: list[Order]
    trades: list[Trade]
    portfolio: Portfolio
    series: BarSeries

    def decided_at(self) -> list[tuple[int, OrderSide]]:
        """(bar index, side) of every order, in the order they were decided."""
        index = {int(t): i for i, t in enumerate(self.series.ts)}
        return [(index[o.ts_created], o.side) for o in self.orders]


def backtest(strategy: MeanReversion, series: BarSeries) -> Run:
    """The kernel wired as trading.backtest.run_backtest wires it (no fees, no slippage)."""
    instruments = InstrumentRegistry()
    instruments.add(default_instrument(series.symbol))
    bus = MessageBus()
    clock = SimulatedClock()
    portfolio = Portfolio(Decimal(CASH), instruments)
    venue = PaperVenue(bus, instruments)
    gate = PreTradeGate(RiskLimits(Decimal("1e18"), Decimal("1e18"), False))
    kernel = Kernel(bus=bus, clock=clock, venue=venue, gate=gate, portfolio=portfolio)
    tracker = TradeTracker(bus, instruments)
    kernel.add_strategy(strategy)
    kernel.start()
    for i in range(len(series)):
        bar = series.bar(i)
        clock.advance_to(bar.ts)
        kernel.on_bar(bar)
    return Run(list(kernel.orders.values()), tracker.trades, portfolio, series)


def bars(close: np.ndarray, symbol: str = SYM) -> BarSeries:
    """Daily bars whose open is the previous close (no gaps)."""
    close = np.asarray(close, dtype=np.float64)
    open_ = np.concatenate((close[:1], close[:-1]))
    ts = DAY0 + DAY * np.arange(len(close), dtype=np.int64)
    high = np.maximum(open_, close) * 1.001
    low = np.minimum(open_, close) * 0.999
    return BarSeries(symbol, "1d", ts, open_, high, low, close, np.full(len(close), 1e9))


def cents(x: float) -> Decimal:
    return Decimal(str(x)).quantize(CENT, ROUND_HALF_EVEN)


# -- independent indicators ----------------------------------------------------------------------


def bands(x: np.ndarray, period: int, num_std: float) -> tuple[np.ndarray, ...]:
    roll = pd.Series(x).rolling(period)
    mid = roll.mean().to_numpy()
    width = num_std * roll.std(ddof=0).to_numpy()
    return mid - width, mid, mid + width


def wilder_rsi(x: np.ndarray, period: int) -> np.ndarray:
    d = np.diff(x)

    def smooth(v: np.ndarray) -> np.ndarray:
        s = pd.Series(np.concatenate(([v[:period].mean()], v[period:])))
        return s.ewm(alpha=1.0 / period, adjust=False).mean().to_numpy()

    g, lo = smooth(np.clip(d, 0, None)), smooth(np.clip(-d, 0, None))
    out = np.full(x.shape, np.nan)
    out[period:] = np.where(g + lo > 0, 100.0 * g / np.where(g + lo > 0, g + lo, 1.0), 50.0)
    return out


# -- hand-built paths -----------------------------------------------------------------------------

N = 100
T = np.arange(N)
# A small oscillation (period 7 bars, ±0.2%) never leaves its own 2σ bands.
WAVE = 100.0 * (1.0 + 0.002 * np.sin(2 * np.pi * T / 7))


def level(start: int, factor: float, end: int = N) -> np.ndarray:
    return np.where((start <= T) & (end > T), factor, 1.0)


def test_buys_below_the_lower_band_and_sells_back_at_the_middle_band() -> None:
    # -3% on bars 60-64, back on bar 65
    close = WAVE * level(60, 0.97, 65)
    lower, mid, _ = bands(close, 20, 2.0)
    rsi = wilder_rsi(close, 14)
    assert (close[19:60] > lower[19:60]).all()
    assert close[60] < lower[60] and rsi[60] < 30.0
    assert (close[61:65] < mid[61:65]).all() and close[65] >= mid[65]
    run = backtest(MeanReversion(), bars(close))
    assert run.decided_at() == [(60, BUY), (65, SELL)]
    (trade,) = run.trades
    s = run.series
    assert (trade.direction, trade.entry_time, trade.exit_time) == (1, s.ts[61], s.ts[66])
    assert trade.entry_price == cents(close[60])
    assert trade.quantity == math.floor(CASH / close[60])
    assert trade.pnl > 0
    assert run.portfolio.quantity(SYM) == 0


def test_a_close_back_inside_the_lower_band_is_not_an_exit() -> None:
    # On bar 63 the close is back above the lower band but still below the middle band:
    # the strategy keeps the position (the rule is close >= mid).
    close = WAVE * level(60, 0.97, 65)
    lower, mid, _ = bands(close, 20, 2.0)
    assert lower[63] < close[63] < mid[63]
    run = backtest(MeanReversion(), bars(close))
    assert (63, SELL) not in run.decided_at()
    assert run.trades[0].exit_time == run.series.ts[66]


def test_stays_flat_while_prices_stay_inside_the_bands() -> None:
    strategy = MeanReversion()
    run = backtest(strategy, bars(WAVE))
    assert run.orders == []
    assert strategy._state[SYM].bands.value is not None  # warm, and chose not to trade


def test_rsi_condition_is_required_when_enabled() -> None:
    close = WAVE * level(60, 0.97, 65)
    lower, _, _ = bands(close, 20, 2.0)
    rsi = wilder_rsi(close, 14)
    below = np.flatnonzero(close < lower)
    assert list(below) == [60, 61, 62]
    assert (rsi[below] > 10.0).all()
    assert backtest(MeanReversion(rsi_oversold=10.0), bars(close)).orders == []
    run = backtest(MeanReversion(rsi_oversold=10.0, use_rsi=False), bars(close))
    assert run.decided_at() == [(60, BUY), (65, SELL)]


def test_shorts_mirror_the_long_rules_only_when_allowed() -> None:
    close = WAVE * level(60, 1.03, 65)
    _, mid, upper = bands(close, 20, 2.0)
    assert close[60] > upper[60] and wilder_rsi(close, 14)[60] > 70.0
    assert (close[61:65] > mid[61:65]).all() and close[65] <= mid[65]
    assert backtest(MeanReversion(), bars(close)).orders == []
    run = backtest(MeanReversion(allow_short=True), bars(close))
    assert run.decided_at() == [(60, SELL), (65, BUY)]
    (trade,) = run.trades
    assert trade.direction == -1
    assert trade.quantity == math.floor(CASH / close[60])
    assert trade.pnl > 0


def test_fraction_sizes_the_entry() -> None:
    close = WAVE * level(60, 0.97, 65)
    run = backtest(MeanReversion(fraction=0.25), bars(close))
    assert run.trades[0].quantity == math.floor(CASH * 0.25 / close[60])


# -- parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"period": -3}, "period"),
        ({"period": 1}, "period"),
        ({"num_std": 0.0}, "num_std"),
        ({"rsi_period": 0}, "rsi_period"),
        ({"rsi_oversold": -1}, "rsi_oversold"),
        ({"rsi_overbought": 120}, "rsi_overbought"),
        ({"rsi_oversold": 70.0, "rsi_overbought": 30.0}, "rsi_overbought"),
        ({"fraction": 0.0}, "fraction"),
        ({"fraction": 2.0}, "fraction"),
        ({"window": 20}, "window"),
    ],
)
def test_bad_parameters_name_the_parameter(params: dict[str, Any], name: str) -> None:
    with pytest.raises(StrategyError) as err:
        MeanReversion(**params)
    assert err.value.context["parameter"] == name
    assert repr(name) in str(err.value)


def test_defaults_and_registry_name() -> None:
    assert MeanReversion.name == "mean_reversion"
    assert MeanReversion().params == {
        "period": 20,
        "num_std": 2.0,
        "rsi_period": 14,
        "rsi_oversold": 30.0,
        "rsi_overbought": 70.0,
        "use_rsi": True,
        "allow_short": False,
        "fraction": 1.0,
    }


# -- real data: an independent re-implementation and a look-ahead check -------------------------


@pytest.fixture(scope="module")
def spx() -> BarSeries:
    df = sp500.load()
    ts = df.index.to_numpy().astype("datetime64[ns]").astype(np.int64) + 21 * HOUR
    col = {c: df[c].to_numpy(dtype=np.float64) for c in ("Open", "High", "Low", "Close", "Volume")}
    return BarSeries(
        "SPX", "1d", ts, col["Open"], col["High"], col["Low"], col["Close"], col["Volume"]
    )


def reference(s: BarSeries, p: dict[str, Any]) -> list[tuple[int, int, int | None, int]]:
    """Trades as (direction, entry bar, exit bar or None, quantity) by the module's rules."""
    c, o = s.close, s.open
    lower, mid, upper = bands(c, p["period"], p["num_std"])
    rsi = wilder_rsi(c, p["rsi_period"]) if p["use_rsi"] else np.full(c.shape, 50.0)
    oversold = 101.0 if not p["use_rsi"] else p["rsi_oversold"]
    overbought = -1.0 if not p["use_rsi"] else p["rsi_overbought"]
    cash = Decimal(CASH)
    pos, pending = 0, None
    trades: list[tuple[int, int, int | None, int]] = []
    for t in range(len(c)):
        if pending is not None:
            px = cents(o[t])
            cash -= px * pending
            if pos == 0:
                trades.append((1 if pending > 0 else -1, t, None, abs(pending)))
            else:
                d, t_in, _, q = trades[-1]
                trades[-1] = (d, t_in, t, q)
            pos += pending
            pending = None
        if np.isnan(mid[t]):
            continue
        if pos > 0:
            if c[t] >= mid[t]:
                pending = -pos
        elif pos < 0:
            if c[t] <= mid[t]:
                pending = -pos
        elif not np.isnan(rsi[t]):
            qty = math.floor(float(cash) * p["fraction"] / c[t])
            if qty <= 0:
                continue
            if c[t] < lower[t] and rsi[t] < oversold:
                pending = qty
            elif p["allow_short"] and c[t] > upper[t] and rsi[t] > overbought:
                pending = -qty
    return trades


REAL_CASES = [
    {},
    {"allow_short": True, "use_rsi": False, "period": 10, "num_std": 1.5, "fraction": 0.8},
    {"allow_short": True, "rsi_oversold": 40.0, "rsi_overbought": 60.0, "rsi_period": 5},
]


@pytest.mark.parametrize("params", REAL_CASES)
def test_spx_run_matches_an_independent_reimplementation(
    spx: BarSeries, params: dict[str, Any]
) -> None:
    strategy = MeanReversion(**params)
    run = backtest(strategy, spx)
    ref = reference(spx, strategy.params)
    closed = [r for r in ref if r[2] is not None]
    assert len(closed) >= 20
    assert len(run.trades) == len(closed)
    for got, (direction, t_in, t_out, qty) in zip(run.trades, closed, strict=True):
        assert got.direction == direction and got.quantity == Decimal(qty)
        assert t_out is not None
        assert (got.entry_time, got.exit_time) == (int(spx.ts[t_in]), int(spx.ts[t_out]))
        assert got.entry_price == cents(spx.open[t_in])
    still_open = [r for r in ref if r[2] is None]
    expected = still_open[0][0] * still_open[0][3] if still_open else 0
    assert run.portfolio.quantity("SPX") == expected


def test_spx_backtest_trades_and_its_trades_reconcile_with_the_ledger(spx: BarSeries) -> None:
    run = backtest(MeanReversion(allow_short=True), spx)
    assert {t.direction for t in run.trades} == {1, -1}
    position = run.portfolio.position("SPX")
    assert position is not None
    assert sum((t.pnl for t in run.trades), Decimal(0)) == position.realized_pnl


@pytest.mark.parametrize("cut", [300, 1500, 3333, 4700])
def test_no_look_ahead_truncating_after_a_bar_keeps_every_earlier_decision(
    spx: BarSeries, cut: int
) -> None:
    params: dict[str, Any] = {"allow_short": True, "rsi_oversold": 40.0, "rsi_overbought": 60.0}
    full = backtest(MeanReversion(**params), spx)
    limit = int(spx.ts[cut])
    part = backtest(MeanReversion(**params), spx.slice_time(None, limit))

    def decided(run: Run) -> list[tuple[str, OrderSide, Decimal]]:
        return [
            (o.client_order_id, o.side, o.quantity) for o in run.orders if o.ts_created <= limit
        ]

    assert len(decided(full)) > 2
    assert decided(part) == decided(full)
