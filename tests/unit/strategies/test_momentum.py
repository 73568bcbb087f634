"""The momentum strategy through the real kernel, paper venue and ledger.

Hand-built price paths pin the entry, exit, stop-loss, take-profit and filter rules to known
bars; on real S&P 500 data the whole run is compared with an independent re-implementation of
the rules (vectorised indicators, plain loop for positions and cash).
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
from numpy.lib.stride_tricks import sliding_window_view

from neural_trader.brokers.paper import PaperVenue
from neural_trader.core.bus import MessageBus
from neural_trader.core.clock import SimulatedClock
from neural_trader.core.events import Fill, OrderFilled
from neural_trader.core.instruments import InstrumentRegistry
from neural_trader.core.market_data import BarSeries
from neural_trader.core.orders import Order, OrderSide
from neural_trader.core.portfolio import Portfolio
from neural_trader.errors import StrategyError
from neural_trader.risk.gate import PreTradeGate, RiskLimits
from neural_trader.strategies.momentum import Momentum
from neural_trader.trading.instruments import default_instrument
from neural_trader.trading.kernel import Kernel
from neural_trader.trading.trades import Trade, TradeTracker

HOUR = 3_600 * 10**9
DAY = 24 * HOUR
DAY0 = 19_000 * DAY + 21 * HOUR
CASH = 100_000
CENT = Decimal("0.01")
SYM = "TEST"
# Signal tests switch off what they do not test: no MACD/RSI filter, no stop, no target.
PLAIN: dict[str, Any] = dict(
    period=5,
    z_window=20,
    entry_z=2.0,
    exit_z=0.0,
    use_macd=False,
    rsi_max=100.0,
    rsi_min=0.0,
    stop_loss=0.0,
    take_profit=0.0,
)


# -- running a strategy through the kernel ------------------------------------------------------


@dataclass
class Run:
    orders: list[Order]
    trades: list[Trade]
    fills: list[Fill]
    portfolio: Portfolio
    series: BarSeries

    def decided_at(self) -> list[tuple[int, OrderSide]]:
        """(bar index, side) of every order, in the order they were decided."""
        index = {int(t): i for i, t in enumerate(self.series.ts)}
        return [(index[o.ts_created], o.side) for o in self.orders]


def backtest(strategy: Momentum, series: BarSeries, participation: float | None = None) -> Run:
    """The kernel wired as trading.backtest.run_backtest wires it (no fees, no slippage)."""
    instruments = InstrumentRegistry()
    instruments.add(default_instrument(series.symbol))
    bus = MessageBus()
    clock = SimulatedClock()
    portfolio = Portfolio(Decimal(CASH), instruments)
    venue = PaperVenue(bus, instruments, max_volume_participation=participation)
    gate = PreTradeGate(RiskLimits(Decimal("1e18"), Decimal("1e18"), False))
    kernel = Kernel(bus=bus, clock=clock, venue=venue, gate=gate, portfolio=portfolio)
    tracker = TradeTracker(bus, instruments)
    fills: list[Fill] = []
    bus.subscribe(OrderFilled, lambda e: fills.append(e.fill))
    kernel.add_strategy(strategy)
    kernel.start()
    for i in range(len(series)):
        bar = series.bar(i)
        clock.advance_to(bar.ts)
        kernel.on_bar(bar)
    return Run(list(kernel.orders.values()), tracker.trades, fills, portfolio, series)


def bars(close: np.ndarray, volume: float = 1e9, symbol: str = SYM) -> BarSeries:
    """Daily bars whose open is the previous close (no gaps)."""
    close = np.asarray(close, dtype=np.float64)
    open_ = np.concatenate((close[:1], close[:-1]))
    ts = DAY0 + DAY * np.arange(len(close), dtype=np.int64)
    high = np.maximum(open_, close) * 1.001
    low = np.minimum(open_, close) * 0.999
    return BarSeries(symbol, "1d", ts, open_, high, low, close, np.full(len(close), volume))


def cents(x: float) -> Decimal:
    return Decimal(str(x)).quantize(CENT, ROUND_HALF_EVEN)


# -- hand-built paths -----------------------------------------------------------------------------

N = 120
T = np.arange(N)
# A small oscillation (period 7 bars, ±0.2%): the z-score of its 5-bar momentum stays within
# ±1.5 over a 20-bar window, so entry_z = 2 never fires on it.
WAVE = 100.0 * (1.0 + 0.002 * np.sin(2 * np.pi * T / 7))


def level(start: int, factor: float, end: int = N) -> np.ndarray:
    return np.where((start <= T) & (end > T), factor, 1.0)


def zscores(close: np.ndarray, period: int, window: int) -> np.ndarray:
    m = np.full(close.shape, np.nan)
    m[period:] = close[period:] / close[:-period] - 1.0
    z = np.full(close.shape, np.nan)
    win = sliding_window_view(m[period:], window)
    z[period + window - 1 :] = (win[:, -1] - win.mean(axis=1)) / win.std(axis=1)
    return z


def test_enters_on_a_jump_and_exits_when_the_momentum_fades() -> None:
    # +3% at bar 80 for five bars: the 5-bar momentum is far above its recent range from bar 80
    # (z > 2: buy) and stays above its window mean while the jump is inside the lookback; the
    # drop back at bar 85 turns momentum to -3% (z < 0: sell).
    close = WAVE * level(80, 1.03, 85)
    z = zscores(close, 5, 20)
    assert np.nanmax(z[:80]) < 2.0 < z[80]
    assert (z[81:85] > 0).all() and z[85] < 0
    run = backtest(Momentum(**PLAIN), bars(close))
    assert run.decided_at() == [(80, OrderSide.BUY), (85, OrderSide.SELL)]
    (trade,) = run.trades
    s = run.series
    assert (trade.direction, trade.entry_time, trade.exit_time) == (1, s.ts[81], s.ts[86])
    assert trade.entry_price == cents(close[80])  # next bar's open, i.e. bar 80's close
    assert trade.quantity == math.floor(CASH / close[80])
    assert run.portfolio.quantity(SYM) == 0


def test_stays_flat_on_a_path_without_unusual_momentum() -> None:
    strategy = Momentum(**PLAIN)
    run = backtest(strategy, bars(WAVE))
    assert run.orders == []
    assert strategy._state[SYM].z.value is not None  # it was warm and chose not to trade


def test_rsi_filter_delays_or_blocks_an_overbought_entry() -> None:
    close = WAVE * level(80, 1.03, 85)
    z, rsi = zscores(close, 5, 20), wilder_rsi(close, 14)
    # z > 2 on bars 80-82; RSI is 85.7, 82.0, 79.7 there and stays above 75 through bar 84
    assert (z[80:83] > 2.0).all() and (z[83:] <= 2.0).all()
    assert rsi[80] > rsi[81] > 80.0 >= rsi[82] and (rsi[80:85] > 75.0).all()
    delayed = backtest(Momentum(**{**PLAIN, "rsi_max": 80.0}), bars(close))
    assert delayed.decided_at()[0] == (82, OrderSide.BUY)
    assert backtest(Momentum(**{**PLAIN, "rsi_max": 75.0}), bars(close)).orders == []


def test_macd_filter_blocks_a_bounce_inside_a_downtrend() -> None:
    # An accelerating decline keeps the MACD histogram negative; a +1.5% bounce at bar 80
    # still makes the momentum z-score jump above 2.
    close = WAVE[:100] * np.exp(-0.00004 * T[:100] ** 2) * level(80, 1.015)[:100]
    z = zscores(close, 5, 20)
    hist = macd_hist(close)
    assert z[80] > 2.0 and (hist[33:] < 0).all()
    assert backtest(Momentum(**{**PLAIN, "use_macd": True}), bars(close)).orders == []
    run = backtest(Momentum(**PLAIN), bars(close))
    assert run.decided_at()[0] == (80, OrderSide.BUY)


def test_stop_loss_exits_at_the_first_close_below_the_stop() -> None:
    # Jump at 80 (bought at bar 81's open); bar 83 closes 7% lower, below entry·0.95.
    close = WAVE * level(80, 1.03) * level(83, 0.93)
    params = {**PLAIN, "exit_z": -5.0, "stop_loss": 0.05}  # |z| <= sqrt(19): z never < -5
    run = backtest(Momentum(**params), bars(close))
    assert run.decided_at() == [(80, OrderSide.BUY), (83, OrderSide.SELL)]
    entry = float(run.trades[0].entry_price)
    assert close[82] > entry * 0.95 >= close[83]
    assert run.trades[0].exit_time == run.series.ts[84]
    # stop_loss = 0 switches the stop off: the same path stays long to the end
    held = backtest(Momentum(**{**params, "stop_loss": 0.0}), bars(close))
    assert held.decided_at() == [(80, OrderSide.BUY)]
    assert held.portfolio.quantity(SYM) > 0


def test_take_profit_exits_at_the_first_close_above_the_target() -> None:
    close = WAVE * level(80, 1.03) * np.where(T > 80, 1.01 ** (T - 80), 1.0)
    params = {**PLAIN, "exit_z": -5.0, "take_profit": 0.05}
    run = backtest(Momentum(**params), bars(close))
    entry = float(cents(close[80]))
    expected = 81 + int(np.argmax(close[81:] >= entry * 1.05))
    assert close[expected - 1] < entry * 1.05 <= close[expected]
    assert run.decided_at() == [(80, OrderSide.BUY), (expected, OrderSide.SELL)]
    assert run.trades[0].exit_price > run.trades[0].entry_price


def test_shorts_mirror_the_long_rules_only_when_allowed() -> None:
    # -3% on bars 80-84: a short from bar 80 to bar 85, where the rebound is also a long signal
    close = WAVE * level(80, 0.97, 85)
    long_only = backtest(Momentum(**PLAIN), bars(close))
    assert long_only.decided_at()[0] == (85, OrderSide.BUY)
    assert all(t.direction == 1 for t in long_only.trades)
    run = backtest(Momentum(**{**PLAIN, "allow_short": True}), bars(close))
    assert run.decided_at()[:2] == [(80, OrderSide.SELL), (85, OrderSide.BUY)]
    trade = run.trades[0]
    assert (trade.direction, trade.entry_time, trade.exit_time) == (
        -1,
        run.series.ts[81],
        run.series.ts[86],
    )
    assert trade.quantity == math.floor(CASH / close[80])
    # the RSI floor keeps an oversold market from being shorted
    floor = backtest(Momentum(**{**PLAIN, "allow_short": True, "rsi_min": 25.0}), bars(close))
    assert wilder_rsi(close, 14)[80:83].max() < 25.0
    assert floor.decided_at()[0] == (85, OrderSide.BUY)


def test_short_stop_loss_exits_on_a_rally() -> None:
    close = WAVE * level(80, 0.97) * level(83, 1.07)
    params = {**PLAIN, "allow_short": True, "exit_z": -5.0, "stop_loss": 0.05}
    run = backtest(Momentum(**params), bars(close))
    # covered on bar 83's close; the rally then is a long signal of its own on bar 84
    assert run.decided_at()[:3] == [(80, OrderSide.SELL), (83, OrderSide.BUY), (84, OrderSide.BUY)]
    entry = float(run.trades[0].entry_price)
    assert close[82] < entry * 1.05 <= close[83]
    assert run.trades[0].direction == -1
    assert run.trades[0].exit_time == run.series.ts[84]


def test_stops_use_the_average_entry_of_partial_fills_and_orders_are_not_stacked() -> None:
    # 600 units of volume per bar at full participation: the ~970-unit entry fills over two
    # bars at two different opens; the strategy holds off while its entry is still working.
    close = WAVE * level(80, 1.03)
    strategy = Momentum(**{**PLAIN, "exit_z": -5.0})
    run = backtest(strategy, bars(close, volume=600.0), participation=1.0)
    entry_fills = [f for f in run.fills if f.side is OrderSide.BUY]
    assert len(entry_fills) == 2 and entry_fills[0].price != entry_fills[1].price
    assert run.decided_at() == [(80, OrderSide.BUY)]
    qty = sum(f.quantity for f in entry_fills)
    avg = float(sum(f.quantity * f.price for f in entry_fills) / qty)
    assert strategy._state[SYM].entry_price == pytest.approx(avg, rel=1e-12)
    assert run.portfolio.quantity(SYM) == qty


# -- parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"period": -1}, "period"),
        ({"period": 1}, "period"),
        ({"z_window": 4}, "z_window"),
        ({"entry_z": 0.0}, "entry_z"),
        ({"exit_z": 1.0}, "exit_z"),
        ({"entry_z": 0.5, "exit_z": 0.7}, "exit_z"),
        ({"rsi_max": 101}, "rsi_max"),
        ({"stop_loss": 1.0}, "stop_loss"),
        ({"stop_loss": -0.1}, "stop_loss"),
        ({"take_profit": -0.1}, "take_profit"),
        ({"fraction": 0.0}, "fraction"),
        ({"fraction": 1.5}, "fraction"),
        ({"allow_short": True, "rsi_min": 80.0, "rsi_max": 70.0}, "rsi_min"),
        ({"lookback": 20}, "lookback"),
        ({"use_macd": "perhaps"}, "use_macd"),
    ],
)
def test_bad_parameters_name_the_parameter(params: dict[str, Any], name: str) -> None:
    with pytest.raises(StrategyError) as err:
        Momentum(**params)
    assert err.value.context["parameter"] == name
    assert repr(name) in str(err.value)


def test_defaults_and_registry_name() -> None:
    m = Momentum()
    assert Momentum.name == "momentum"
    assert m.params == {
        "period": 20,
        "z_window": 60,
        "entry_z": 1.0,
        "exit_z": 0.0,
        "rsi_period": 14,
        "rsi_max": 75.0,
        "rsi_min": 25.0,
        "use_macd": True,
        "stop_loss": 0.05,
        "take_profit": 0.10,
        "allow_short": False,
        "fraction": 1.0,
    }
    # rsi_min >= rsi_max is only an error when shorts are allowed
    assert Momentum(rsi_min=80.0, rsi_max=70.0).rsi_min == 80.0


# -- real data: an independent re-implementation and a look-ahead check -------------------------


@pytest.fixture(scope="module")
def spx() -> BarSeries:
    df = sp500.load()
    ts = df.index.to_numpy().astype("datetime64[ns]").astype(np.int64) + 21 * HOUR
    col = {c: df[c].to_numpy(dtype=np.float64) for c in ("Open", "High", "Low", "Close", "Volume")}
    return BarSeries(
        "SPX", "1d", ts, col["Open"], col["High"], col["Low"], col["Close"], col["Volume"]
    )


def wilder_rsi(x: np.ndarray, period: int) -> np.ndarray:
    d = np.diff(x)
    out = np.full(x.shape, np.nan)

    def smooth(v: np.ndarray) -> np.ndarray:
        s = pd.Series(np.concatenate(([v[:period].mean()], v[period:])))
        return s.ewm(alpha=1.0 / period, adjust=False).mean().to_numpy()

    g, lo = smooth(np.clip(d, 0, None)), smooth(np.clip(-d, 0, None))
    out[period:] = np.where(g + lo > 0, 100.0 * g / np.where(g + lo > 0, g + lo, 1.0), 50.0)
    return out


def seeded_ema(x: np.ndarray, period: int, first: int) -> np.ndarray:
    seed = x[first - period + 1 : first + 1].mean()
    s = pd.Series(np.concatenate(([seed], x[first + 1 :])))
    out = np.full(x.shape, np.nan)
    out[first:] = s.ewm(alpha=2.0 / (period + 1), adjust=False).mean().to_numpy()
    return out


def macd_hist(x: np.ndarray) -> np.ndarray:
    """MACD(12, 26, 9) histogram, TA-Lib convention (both EMAs start at input 26)."""
    macd = seeded_ema(x, 12, 25) - seeded_ema(x, 26, 25)
    sig = np.full(x.shape, np.nan)
    sig[25:] = seeded_ema(macd[25:], 9, 8)
    hist: np.ndarray = macd - sig
    return hist


def reference(s: BarSeries, p: dict[str, Any]) -> list[tuple[int, int, int | None, int]]:
    """Trades as (direction, entry bar, exit bar or None, quantity) by the module's rules."""
    c, o = s.close, s.open
    z = zscores(c, p["period"], p["z_window"])
    rsi = wilder_rsi(c, p["rsi_period"])
    hist = macd_hist(c) if p["use_macd"] else np.zeros_like(c)
    up = np.ones(len(c), bool) if not p["use_macd"] else hist > 0
    down = np.ones(len(c), bool) if not p["use_macd"] else hist < 0
    cash = Decimal(CASH)
    pos, entry, pending = 0, 0.0, None
    trades: list[tuple[int, int, int | None, int]] = []
    sl, tp, ez = p["stop_loss"], p["take_profit"], p["exit_z"]
    for t in range(len(c)):
        if pending is not None:  # fill at this bar's open
            px = cents(o[t])
            if pos == 0:
                pos = pending
                entry = float(px)
                cash -= px * pos
                trades.append((1 if pos > 0 else -1, t, None, abs(pos)))
            else:
                cash += px * pos
                d, t_in, _, q = trades[-1]
                trades[-1] = (d, t_in, t, q)
                pos = 0
            pending = None
        if pos > 0:
            if (sl and c[t] <= entry * (1 - sl)) or (tp and c[t] >= entry * (1 + tp)) or z[t] < ez:
                pending = -pos
        elif pos < 0:
            if (sl and c[t] >= entry * (1 + sl)) or (tp and c[t] <= entry * (1 - tp)) or z[t] > -ez:
                pending = -pos
        elif not (np.isnan(z[t]) or np.isnan(rsi[t]) or np.isnan(hist[t])):
            qty = math.floor(float(cash) * p["fraction"] / c[t])
            if qty <= 0:
                continue
            if z[t] > p["entry_z"] and rsi[t] <= p["rsi_max"] and up[t]:
                pending = qty
            elif p["allow_short"] and z[t] < -p["entry_z"] and rsi[t] >= p["rsi_min"] and down[t]:
                pending = -qty
    return trades


REAL_CASES = [
    {},
    {"allow_short": True, "use_macd": False, "period": 10, "z_window": 40, "stop_loss": 0.03},
    {"stop_loss": 0.0, "take_profit": 0.0, "entry_z": 1.5, "exit_z": -0.5, "fraction": 0.5},
]


@pytest.mark.parametrize("params", REAL_CASES)
def test_spx_run_matches_an_independent_reimplementation(
    spx: BarSeries, params: dict[str, Any]
) -> None:
    strategy = Momentum(**params)
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


def test_spx_backtest_trades_both_ways_and_its_trades_reconcile_with_the_ledger(
    spx: BarSeries,
) -> None:
    run = backtest(Momentum(allow_short=True), spx)
    assert {t.direction for t in run.trades} == {1, -1}
    position = run.portfolio.position("SPX")
    assert position is not None
    assert sum((t.pnl for t in run.trades), Decimal(0)) == position.realized_pnl


@pytest.mark.parametrize("cut", [400, 1234, 2500, 4000])
def test_no_look_ahead_truncating_after_a_bar_keeps_every_earlier_decision(
    spx: BarSeries, cut: int
) -> None:
    params: dict[str, Any] = {"allow_short": True, "period": 10, "z_window": 30}
    full = backtest(Momentum(**params), spx)
    part = backtest(Momentum(**params), spx.slice_time(None, int(spx.ts[cut])))
    limit = int(spx.ts[cut])

    def decided(run: Run) -> list[tuple[str, OrderSide, Decimal]]:
        return [
            (o.client_order_id, o.side, o.quantity) for o in run.orders if o.ts_created <= limit
        ]

    assert len(decided(full)) > 2
    assert decided(part) == decided(full)
