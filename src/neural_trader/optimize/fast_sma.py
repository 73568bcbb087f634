"""A compiled evaluator for ``sma_cross`` that gives the kernel's fills, cash and equity exactly.

Sweeping a parameter grid re-runs the same backtest hundreds of times, and the kernel's per-bar
Python path (about a microsecond a bar) makes a 100-combination sweep of a million bars take
minutes. This evaluator runs the same rules in numba (:mod:`neural_trader.optimize.sma_kernel`)
in a few milliseconds per combination. It is exact, not approximate, where it applies:

* fill prices are the opens rounded to the instrument's tick the way ``Instrument.round_price``
  does (half-even on the decimal text of the float), computed once per series;
* cash is integer units of 10⁻ᴰ of the currency, so it is the ledger's ``Decimal`` exactly, and
  ``float(cash)`` is the correctly rounded ``units / 10ᴰ``, the ledger's float mirror;
* commissions are ``FeeModel.commission`` in integer arithmetic, rounded half-even to the cent.

It declines (and the kernel is used) where it would have to guess: a contract multiplier, a
fractional lot, a tick that is not a power of ten, slippage, volume participation, a circuit
breaker, or a risk limit that depends on the book (concentration, leverage, heat, order rate).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from neural_trader.analytics.metrics import cagr, periods_per_year, total_return
from neural_trader.brokers.paper import FeeModel
from neural_trader.core.market_data import BarSeries
from neural_trader.errors import ConfigError
from neural_trader.optimize import sma_kernel as k
from neural_trader.optimize.evaluators import KernelEvaluator
from neural_trader.optimize.folds import Window
from neural_trader.optimize.objectives import TrialMetrics
from neural_trader.strategies.sma_cross import SmaCross
from neural_trader.trading.backtest import BacktestConfig
from neural_trader.trading.instruments import default_instrument
from neural_trader.trading.trades import Trade

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
MAX_DECIMALS = 9
BOOK_LIMITS = (
    "max_concentration",
    "max_gross_leverage",
    "max_net_leverage",
    "max_portfolio_heat",
    "max_orders_per_second",
)


def power_of_ten_decimals(value: Decimal) -> int | None:
    """``d`` when ``value`` is 10⁻ᵈ (0 <= d <= MAX_DECIMALS), else None."""
    t = value.normalize().as_tuple()
    if t.digits != (1,) or not isinstance(t.exponent, int) or not -MAX_DECIMALS <= t.exponent <= 0:
        return None
    return -t.exponent


def decimals(value: Decimal) -> int:
    """Digits after the point that ``value`` needs (0 for an integer)."""
    exp = value.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else MAX_DECIMALS + 1


def exact_ticks(prices: npt.ArrayLike, tick_decimals: int) -> IntArray:
    """``Instrument.round_price`` for every price, in ticks of 10⁻ᵈ: the decimal text of each
    float, divided by the tick, rounded half-even.

    ``p·10ᵈ`` in floating point is within a few ulps of the decimal quotient, so it rounds the
    same way unless it lies within that distance of a half; those few are redone in Decimal.
    """
    p = np.asarray(prices, dtype=np.float64)
    y = p * float(10**tick_decimals)
    if not np.all(np.abs(y) < 2.0**52):
        raise ConfigError("prices too large for exact tick arithmetic")
    ticks = np.rint(y).astype(np.int64)
    near_half = np.abs(y - np.floor(y) - 0.5) <= 8.0 * np.abs(y) * 2.0**-52 + 1e-12
    tick = Decimal(1).scaleb(-tick_decimals)
    for i in np.flatnonzero(near_half):
        exact = Decimal(repr(float(p[i]))) / tick
        ticks[i] = int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))
    return ticks


def fee_scale(fees: FeeModel, cash_decimals: int) -> IntArray | None:
    """(k_share, k_bps, k_min, div) for :func:`sma_kernel.commission_cents`, or None when the
    fee model needs more digits than int64 arithmetic can carry.

    With every term on one integer scale 10⁻ᴱ: per_share·qty = k_share·qty, bps·notional/10⁴ =
    k_bps·(notional in cash units), the minimum = k_min, and one cent = ``div``.
    """
    parts = (fees.per_share, fees.bps, fees.minimum)
    if any(decimals(x) > MAX_DECIMALS for x in parts):
        return None
    a, b, c = (decimals(x) for x in parts)
    e = max(a, b + cash_decimals + 4, c, 2)
    k_share = int(fees.per_share.scaleb(e))
    k_bps = int(fees.bps.scaleb(e - cash_decimals - 4))
    k_min = int(fees.minimum.scaleb(e))
    out = [k_share, k_bps, k_min, 10 ** (e - 2)]
    if max(out) >= k.SAFE_INT:
        return None
    return np.asarray(out, dtype=np.int64)


def unsupported(series: BarSeries, config: BacktestConfig) -> str | None:
    """Why this evaluator cannot reproduce the kernel for ``config`` (None: it can)."""
    inst = default_instrument(series.symbol)
    if inst.multiplier != 1:
        return "the instrument has a contract multiplier"
    if inst.size_increment != 1:
        return "the instrument trades fractional lots"
    if power_of_ten_decimals(inst.price_increment) is None:
        return f"the tick {inst.price_increment} is not a power of ten"
    if config.slippage_bps:
        return "slippage is set"
    if config.max_volume_participation is not None:
        return "volume participation is limited"
    if config.breaker is not None:
        return "a circuit breaker is configured"
    for name in BOOK_LIMITS:
        if getattr(config.limits, name) is not None:
            return f"risk limit {name} is set"
    if decimals(config.starting_cash) > MAX_DECIMALS:
        return "the starting cash has too many decimals"
    if fee_scale(config.fees, _cash_decimals(config, inst.price_increment)) is None:
        return "the fee model has too many decimals"
    if len(series) == 0:
        return "there are no bars"
    return None


def _cash_decimals(config: BacktestConfig, tick: Decimal) -> int:
    return max(2, decimals(tick), decimals(config.starting_cash))


@dataclass
class FastRun:
    """One compiled backtest, in the kernel's own types (for comparing the two)."""

    trades: list[Trade]
    cash: Decimal
    position: Decimal
    equity: FloatArray
    metrics: TrialMetrics


class SmaCrossFast:
    """The :class:`~neural_trader.optimize.evaluators.Evaluator` for ``sma_cross``."""

    name = "numba"

    def __init__(self, series: BarSeries, config: BacktestConfig | None = None) -> None:
        config = config or BacktestConfig()
        reason = unsupported(series, config)
        if reason is not None:
            raise ConfigError(f"the compiled sma_cross evaluator cannot be used: {reason}")
        inst = default_instrument(series.symbol)
        d_tick = power_of_ten_decimals(inst.price_increment) or 0
        d_cash = _cash_decimals(config, inst.price_increment)
        self.series = series
        self.config = config
        self._tick = inst.price_increment
        self._d_cash = d_cash
        self._scale = 10**d_cash
        self._units = np.asarray(
            [10 ** (d_cash - d_tick), 10 ** (d_cash - 2), self._scale], dtype=np.int64
        )
        self._cash0 = int(config.starting_cash.scaleb(d_cash))
        fees = fee_scale(config.fees, d_cash)
        assert fees is not None  # unsupported() said the fee model fits
        self._fees = fees
        lim = config.limits
        allowed = lim.allowed_symbols is None or series.symbol in lim.allowed_symbols
        self._limits = np.asarray(
            [
                float(lim.max_order_notional),
                float(lim.max_position_size),
                math.inf if lim.max_position_quantity is None else float(lim.max_position_quantity),
                1.0 if allowed and not lim.kill_switch else 0.0,
            ]
        )
        self._open = exact_ticks(series.open, d_tick)
        self._close = np.ascontiguousarray(series.close, dtype=np.float64)
        self._kernel = KernelEvaluator(SmaCross, series, config)
        self._buffers: tuple[IntArray, FloatArray] | None = None
        self._ppy: dict[tuple[int, int], float] = {}
        self.fallbacks = 0  # combinations handed to the kernel (an int64 overflow)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_buffers"] = None  # scratch space: each process makes its own
        return state

    def _simulate(
        self, window: Window, fast: int, slow: int, equity: FloatArray
    ) -> tuple[IntArray, int, FloatArray] | None:
        if self._buffers is None:
            self._buffers = (
                np.empty((len(self.series), k.FILL_COLUMNS), dtype=np.int64),
                np.empty(k.STATS_SIZE, dtype=np.float64),
            )
        fills, stats = self._buffers
        lo, hi = window.lo, window.hi
        close = self._close[lo:hi]
        n, status = k.trade(
            self._open[lo:hi],
            close,
            fast,
            slow,
            self._cash0,
            self._units,
            self._fees,
            self._limits,
            fills,
        )
        if status != k.STATUS_OK:
            return None
        k.curve(close, fills, n, self._cash0, float(self._scale), equity, stats)
        return fills, n, stats

    def metrics(self, window: Window, params: Sequence[Mapping[str, Any]]) -> list[TrialMetrics]:
        """Compiled backtests; a parameter set that would overflow int64 (absurd prices or
        cash) goes to the kernel instead and is counted in ``fallbacks``."""
        out = []
        none = np.empty(0, dtype=np.float64)
        for p in params:
            fast, slow = _periods(p)
            run = self._simulate(window, fast, slow, none)
            if run is None:
                self.fallbacks += 1
                out.extend(self._kernel.metrics(window, [p]))
            else:
                out.append(self._metrics(window, *run))
        return out

    def curve(self, window: Window, params: Mapping[str, Any]) -> FloatArray:
        """The equity curve, bit for bit the kernel's."""
        equity = np.empty(len(window), dtype=np.float64)
        if self._simulate(window, *_periods(params), equity) is None:
            self.fallbacks += 1
            return self._kernel.curve(window, params)
        return equity

    def run(self, window: Window, params: Mapping[str, Any]) -> FastRun:
        """Trades, cash, position, curve and figures, as the kernel's types (for checks)."""
        equity = np.empty(len(window), dtype=np.float64)
        sim = self._simulate(window, *_periods(params), equity)
        if sim is None:
            raise ConfigError("the compiled evaluator overflowed int64 on these parameters")
        fills, n, stats = sim
        rows = fills[:n]
        cash_units = int(rows[-1, k.F_CASH]) if n else self._cash0
        position = int(rows[-1, k.F_POS]) if n else 0
        return FastRun(
            trades=self._trades(window, rows),
            cash=Decimal(cash_units).scaleb(-self._d_cash),
            position=Decimal(position),
            equity=equity,
            metrics=self._metrics(window, fills, n, stats),
        )

    def _trades(self, window: Window, rows: IntArray) -> list[Trade]:
        ts = self.series.ts[window.lo : window.hi]
        tick = self._tick
        cent = Decimal("0.01")
        out = []
        for buy, sell in zip(rows[0::2], rows[1::2], strict=False):
            qty = Decimal(int(buy[k.F_POS]))
            entry = int(buy[k.F_PX]) * tick
            exit_ = int(sell[k.F_PX]) * tick
            fee = (int(buy[k.F_FEE]) + int(sell[k.F_FEE])) * cent
            out.append(
                Trade(
                    SmaCross.name,
                    self.series.symbol,
                    1,
                    int(ts[buy[k.F_BAR]]),
                    entry,
                    int(ts[sell[k.F_BAR]]),
                    exit_,
                    qty,
                    (exit_ - entry) * qty - fee,
                    fee,
                )
            )
        return out

    def _metrics(self, window: Window, fills: IntArray, n: int, stats: FloatArray) -> TrialMetrics:
        lo, hi = window.lo, window.hi
        scale = float(self._scale)
        key = (lo, hi)
        ppy = self._ppy.get(key)
        if ppy is None:
            ppy = self._ppy[key] = periods_per_year(self.series.ts[lo:hi])
        first = self._cash0 / scale
        last = first
        if n:
            pos = int(fills[n - 1, k.F_POS])
            cash_f = int(fills[n - 1, k.F_CASH]) / scale
            last = cash_f + pos * float(self._close[hi - 1]) if pos else cash_f
        ends = np.asarray([first, last]) if hi - lo > 1 else np.asarray([first])
        growth = cagr(ends, self.series.ts[[lo, hi - 1]] if hi - lo > 1 else self.series.ts[lo:hi])
        sharpe, sortino = _ratios(stats, hi - lo - 1, ppy)
        mdd = float(stats[k.S_MDD]) if first > 0 else math.nan
        return TrialMetrics(
            sharpe=sharpe,
            sortino=sortino,
            calmar=growth / abs(mdd) if mdd < 0 and math.isfinite(growth) else math.nan,
            total_return=total_return(ends),
            cagr=growth,
            max_drawdown=mdd,
            num_trades=n // 2,
            exposure=float(stats[k.S_HELD]) / (hi - lo),
            final_equity=last,
            bars=hi - lo,
            periods_per_year=ppy,
        )


def _periods(params: Mapping[str, Any]) -> tuple[int, int]:
    """(fast, slow) with sma_cross's defaults for what ``params`` leaves out."""
    fields = SmaCross.params_model.model_fields
    return int(params.get("fast", fields["fast"].default)), int(
        params.get("slow", fields["slow"].default)
    )


def _ratios(stats: FloatArray, m: int, ppy: float) -> tuple[float, float]:
    """(Sharpe, Sortino) from the kernel's sums over ``m`` returns, with the NaNs of
    :mod:`neural_trader.analytics.metrics` for too few, non-finite or constant returns."""
    r_sum, r_sq, r_down = (float(stats[i]) for i in (k.S_SUM, k.S_SUM_SQ, k.S_DOWN_SQ))
    if m < 2 or not (math.isfinite(r_sum) and math.isfinite(r_sq)):
        return math.nan, math.nan
    mean = r_sum / m
    root = math.sqrt(ppy)
    downside = math.sqrt(r_down / m)
    sortino = mean / downside * root if downside > 0 else math.nan
    var = (r_sq - r_sum * mean) / (m - 1)
    if stats[k.S_MIN] == stats[k.S_MAX] or not var > 0:
        return math.nan, sortino
    return mean / math.sqrt(var) * root, sortino
