"""The compiled inner loop of the fast ``sma_cross`` evaluator (numba, no Python objects).

It replays the kernel's rules for :class:`~neural_trader.strategies.sma_cross.SmaCross` bar by
bar, in the kernel's order and with the kernel's arithmetic, so its fills, cash and equity are
the kernel's to the last bit (the test suite checks this against ``run_backtest``):

1. an order decided on bar *t-1* fills at bar *t*'s open, already rounded to the tick
   (``open_ticks``); cash is kept in exact integer units (10^-D of the currency) and the
   commission is computed in integers and rounded half-even to the cent, as ``FeeModel`` does;
2. equity is marked at the close: ``float(cash) + position · close``;
3. the SMAs are running sums updated ``sum += x - oldest`` (the indicator's exact sequence of
   floating-point operations); a cross up while flat buys ``floor(equity / close)`` units, a
   cross down while long closes, and the risk gate's notional and quantity limits deny an
   order exactly where :class:`~neural_trader.risk.gate.PreTradeGate` would.

Nothing here allocates per bar; compiling is cached on disk (``cache=True``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray

# Integers above this could overflow int64 in a product: the caller then uses the kernel.
SAFE_INT = 2**62
STATUS_OK = 0
STATUS_OVERFLOW = 1
# Columns of the trades array.
T_ENTRY, T_EXIT, T_QTY, T_ENTRY_PX, T_EXIT_PX, T_FEE_IN, T_FEE_OUT = range(7)
TRADE_COLUMNS = 7


@njit(cache=True)
def commission_cents(
    qty: int, notional: int, k_share: int, k_bps: int, k_min: int, div: int
) -> int:
    """``max(minimum, per_share·qty + bps·notional/10⁴)`` in cents, rounded half-even.

    All fee terms are pre-scaled to one integer unit (see ``FeeScale``); -1 flags an overflow.
    """
    if k_share == 0 and k_bps == 0 and k_min == 0:
        return 0
    if (k_share and qty > SAFE_INT // k_share) or (k_bps and notional > SAFE_INT // k_bps):
        return -1
    fee = k_share * qty + k_bps * notional
    if fee < k_min:
        fee = k_min
    q = fee // div
    twice = 2 * (fee - q * div)
    if twice > div or (twice == div and q % 2 == 1):
        q += 1
    return q


# Columns of the fills array: bar, position after, cash after (units), price (ticks), fee (cents).
F_BAR, F_POS, F_CASH, F_PX, F_FEE = range(5)
FILL_COLUMNS = 5
# Slots of the statistics array.
S_SUM, S_SUM_SQ, S_DOWN_SQ, S_MIN, S_MAX, S_MDD, S_HELD = range(7)
STATS_SIZE = 7


@njit(cache=True)
def trade(
    open_ticks: NDArray[np.int64],
    close: NDArray[np.float64],
    fast: int,
    slow: int,
    cash0: int,
    units: NDArray[np.int64],
    fees: NDArray[np.int64],
    limits: NDArray[np.float64],
    fills: NDArray[np.int64],
) -> tuple[int, int]:
    """The strategy, the gate and the venue: write one row of ``fills`` per fill.

    An order decided on bar *t*'s close fills at bar *t+1*'s open, before anything is decided
    on bar *t+1*, so it is booked at once (an order decided on the last bar never fills).
    ``units`` = (cash units per price tick, cash units per cent, cash units per currency unit);
    ``fees`` = (k_share, k_bps, k_min, div) of :func:`commission_cents`; ``limits`` = (max order
    notional, max position notional, max position quantity, 1.0 if trading is allowed else 0).
    Returns (number of fills, status).
    """
    n = close.shape[0]
    scale = float(units[2])
    max_order, max_position, max_qty = limits[0], limits[1], limits[2]
    if limits[3] <= 0.0:
        return 0, STATUS_OK
    sum_f = sum_s = 0.0
    state = -1  # fast above slow on the previous bar: 1/0, -1 until both are warm
    pos = 0
    cash = cash0
    count = 0
    for t in range(n - 1):
        c = close[t]
        sum_f += c - (close[t - fast] if t >= fast else 0.0)
        sum_s += c - (close[t - slow] if t >= slow else 0.0)
        if t + 1 < slow:
            continue
        above = 1 if sum_f / fast > sum_s / slow else 0
        if state < 0 or above == state:
            state = above
            continue
        state = above
        order = 0
        if above == 1:
            if pos == 0 and c > 0.0:
                size = cash / scale * 1.0 / c
                if size >= 1.0:
                    q = math.floor(size)
                    value = q * c * 1.0
                    if value <= max_order and value <= max_position and q <= max_qty:
                        order = int(q)
        elif pos > 0 and c > 0.0 and pos * c * 1.0 <= max_order:
            order = -pos
        if order == 0:
            continue
        px = open_ticks[t + 1]
        qty = abs(order)
        notional = qty * px * units[0]
        fee = commission_cents(qty, abs(notional), fees[0], fees[1], fees[2], fees[3])
        if fee < 0 or abs(notional) > SAFE_INT:
            return count, STATUS_OVERFLOW
        cash -= (notional if order > 0 else -notional) + fee * units[1]
        pos += order
        row = fills[count]
        row[F_BAR], row[F_POS], row[F_CASH], row[F_PX], row[F_FEE] = t + 1, pos, cash, px, fee
        count += 1
    return count, STATUS_OK


@njit(cache=True, inline="always")
def _step(
    e: float, prev: float, acc: tuple[float, float, float, float, float, float, float, float]
) -> tuple[float, float, float, float, float, float, float, float]:
    """Fold one more equity point into (Σr, Σr², Σr²[r<0], min r, max r, peak, trough, mdd).

    Written without data-dependent branches (a return's sign is a coin flip the CPU cannot
    predict). The drawdown is kept as the lowest point under each running peak: ``min(e) /
    peak`` is ``min(e / peak)`` exactly, since correctly rounded division is monotonic.
    """
    r_sum, r_sq, r_down, r_min, r_max, peak, trough, mdd = acc
    r = e / prev - 1.0
    neg = r if r < 0.0 else 0.0
    if e > peak:  # a new high: rare, so the branch predicts well
        if peak > 0.0:
            mdd = min(mdd, trough / peak - 1.0)
        peak = trough = e
    return (
        r_sum + r,
        r_sq + r * r,
        r_down + neg * neg,
        r if r < r_min else r_min,
        r if r > r_max else r_max,
        peak,
        e if e < trough else trough,
        mdd,
    )


@njit(cache=True)
def curve(
    close: NDArray[np.float64],
    fills: NDArray[np.int64],
    n_fills: int,
    cash0: int,
    scale: float,
    equity: NDArray[np.float64],
    stats: NDArray[np.float64],
) -> None:
    """The equity curve the fills imply, marked at each close as ``float(cash) + qty·close``
    (the kernel's ``EquityRecorder``), folded into ``stats`` and written to ``equity`` unless
    it is empty. Between two fills cash and quantity are constant: a flat stretch is one level,
    and only the bars in the market cost a multiplication and a division each.

    ``stats`` gets Σr, Σr², Σr² of the negative returns (returns ``e[t] / e[t-1] - 1``; their
    mean is far below their spread, so the one-pass variance loses nothing that matters),
    the smallest and largest return, the maximum drawdown and the bars in the market.
    """
    n = close.shape[0]
    keep = equity.shape[0] == n
    cash_f = prev = cash0 / scale
    acc = (0.0, 0.0, 0.0, math.inf, -math.inf, prev, prev, 0.0)
    pos = 0
    start = 0
    held = 0
    for k in range(n_fills + 1):
        end = fills[k, F_BAR] if k < n_fills else n
        if pos != 0:
            held += end - start
            for t in range(start, end):
                e = cash_f + pos * close[t]
                if keep:
                    equity[t] = e
                if t > 0:
                    acc = _step(e, prev, acc)
                prev = e
        elif start < end:
            if keep:
                equity[start:end] = cash_f
            if start > 0:
                acc = _step(cash_f, prev, acc)
            if end - start > 1:  # the remaining flat bars: returns of exactly 0
                acc = _step(cash_f, cash_f, acc)
            prev = cash_f
        if k < n_fills:
            pos = fills[k, F_POS]
            cash_f = fills[k, F_CASH] / scale
            start = end
    r_sum, r_sq, r_down, r_min, r_max, peak, trough, mdd = acc
    if peak > 0.0:
        mdd = min(mdd, trough / peak - 1.0)
    stats[S_SUM], stats[S_SUM_SQ], stats[S_DOWN_SQ] = r_sum, r_sq, r_down
    stats[S_MIN], stats[S_MAX], stats[S_MDD], stats[S_HELD] = r_min, r_max, mdd, float(held)
