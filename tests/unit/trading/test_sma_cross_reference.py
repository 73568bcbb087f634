"""sma_cross through the full kernel vs an independent vectorised numpy implementation.

The reference shares nothing with the kernel but the rules: SMAs by cumulative sums, crosses by
comparing consecutive signs, entries at cross-ups when flat sized floor(cash / close), exits at
cross-downs, every fill at the next bar's open rounded to the cent, optional bps commission.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pytest

from neural_trader.brokers.paper import FeeModel
from neural_trader.data import load_bars
from neural_trader.strategies import SmaCross
from neural_trader.trading.backtest import BacktestConfig, run_backtest


def sma(x: np.ndarray, n: int) -> np.ndarray:
    c = np.concatenate(([0.0], np.cumsum(x)))
    out = np.full(x.shape, np.nan)
    out[n - 1 :] = (c[n:] - c[:-n]) / n
    return out


def reference(close, open_, fast, slow, cash0, bps):
    f, s = sma(close, fast), sma(close, slow)
    valid = ~np.isnan(s)
    above = np.where(valid, f > s, False)
    prev = np.r_[False, above[:-1]]
    prev_valid = np.r_[False, valid[:-1]]
    ups = np.flatnonzero(valid & prev_valid & above & ~prev)
    downs = np.flatnonzero(valid & prev_valid & ~above & prev)
    n = len(close)
    cash = Decimal(cash0)
    trades = []
    for t in ups:
        if t + 1 >= n:
            break
        qty = int(np.floor(float(cash) / close[t]))
        if qty <= 0:
            continue
        later = downs[downs > t]
        entry_px = Decimal(str(open_[t + 1])).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
        fee_in = (Decimal(bps) * entry_px * qty / 10_000).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
        cash -= entry_px * qty + fee_in
        if not len(later) or later[0] + 1 >= n:
            trades.append((t + 1, entry_px, None, None, qty))
            break
        x = later[0] + 1
        exit_px = Decimal(str(open_[x])).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
        fee_out = (Decimal(bps) * exit_px * qty / 10_000).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
        cash += exit_px * qty - fee_out
        trades.append((t + 1, entry_px, x, exit_px, qty))
    return trades, cash


@pytest.mark.parametrize(("fast", "slow", "bps"), [(10, 30, 0), (20, 50, 5), (5, 200, 0)])
def test_sma_cross_on_spx_matches_numpy_reference(fast: int, slow: int, bps: int) -> None:
    bars = load_bars("SPX", start="2000-01-01", end="2018-12-31")
    result = run_backtest(
        SmaCross(fast=fast, slow=slow),
        [bars],
        BacktestConfig(starting_cash=Decimal(100_000), fees=FeeModel(bps=Decimal(bps))),
    )
    ref_trades, ref_cash = reference(bars.close, bars.open, fast, slow, 100_000, bps)
    closed = [t for t in ref_trades if t[2] is not None]
    assert len(closed) > 10
    assert len(result.trades) == len(closed)
    for got, (i_in, px_in, i_out, px_out, qty) in zip(result.trades, closed, strict=True):
        assert got.entry_time == bars.ts[i_in]
        assert got.exit_time == bars.ts[i_out]
        assert got.entry_price == px_in
        assert got.exit_price == px_out
        assert got.quantity == qty
    open_trade = [t for t in ref_trades if t[2] is None]
    position = Decimal(open_trade[0][4]) if open_trade else Decimal(0)
    assert result.portfolio.quantity("SPX") == position
    assert result.portfolio.cash == ref_cash
    final_ref = float(ref_cash) + float(position) * bars.close[-1]
    assert result.final_equity == pytest.approx(final_ref, abs=0.005)
