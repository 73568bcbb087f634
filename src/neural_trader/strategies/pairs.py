"""Pairs trading: trade the spread of two cointegrated prices back to its mean.

Per pair of symbols ``(a, b)`` (``a`` before ``b`` in the strategy's ``symbols``, or in order of
first appearance when ``symbols`` is None), on log closes ``y = log a`` and ``x = log b``:

* **Selection.** Every ``retest`` timestamps (the first time once ``formation`` timestamps have
  been seen) every candidate pair is tested with the Engle-Granger test
  (``statsmodels.tsa.stattools.coint(y, x)``: OLS of ``y`` on ``x`` with a constant, ADF on the
  residuals with AIC lag choice, MacKinnon p-value) over its last ``formation`` aligned closes
  (timestamps where both have a bar). Pairs with ``p < p_value`` are chosen, lowest p first,
  no symbol in two pairs, at most ``max_pairs``. The test runs on the first bar of a new
  timestamp, on data up to the previous one, so nothing it decides can have seen the new bar.
* **Break.** A pair in a position whose re-test gives ``p >= p_value`` (or cannot be tested) is
  flattened at its next bar and dropped; a chosen pair that is flat and not re-chosen is dropped.
* **Hedge ratio and signal.** A rolling OLS of ``y`` on ``x`` with a constant over the last
  ``hedge_window`` aligned bars (:class:`RollingOLS`, O(1) per bar) gives ``beta`` and the
  residual ``e_t = y_t - alpha - beta·x_t`` of the newest bar; ``z = e_t / σ`` with ``σ`` the
  population standard deviation of the window's residuals. OLS rather than a Kalman filter: it
  has no noise variances to tune, and its numbers can be checked against a plain regression.
* **Trading.** Decisions need both legs' bars of the same timestamp (bars of several symbols
  arrive one at a time) and no working order on either leg. Flat: ``entry_z < z < stop_z``
  sells ``a`` and buys ``b`` (short the spread); ``-stop_z < z < -entry_z`` buys ``a`` and sells
  ``b``. Long the spread: exit when ``z >= -exit_z``, stop when ``z <= -stop_z`` (mirrored when
  short). After a stop the pair does not enter again until ``|z| <= exit_z``.
* **Sizing.** Dollar-neutral: each leg is ``fraction · equity / (2 · max_pairs)`` at the last
  close, in whole lots, both legs submitted on the same bar. If the second leg is denied the
  first is cancelled; if only one leg ends up held (a reject, an outside close) it is closed.

The legs' positions are the book's, as for every strategy here: the pair assumes it is the only
strategy trading its symbols. Orders fill at the next bar's open at the earliest.
"""

from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple

import numpy as np

from neural_trader.core.market_data import Bar
from neural_trader.core.orders import OrderSide, OrderStatus
from neural_trader.errors import StrategyError
from neural_trader.strategies.base import Param, Strategy


class CointTest(NamedTuple):
    """One Engle-Granger test: on the ``nobs`` aligned log closes up to ``ts`` (inclusive)."""

    ts: int
    first: str
    second: str
    stat: float
    pvalue: float
    nobs: int


def engle_granger(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """(ADF statistic, p-value) of the Engle-Granger test of ``y`` on ``x`` (statsmodels).

    statsmodels is imported here, not at module import: it takes a second to load and is
    needed only when a strategy re-tests, not by every program that lists the strategies.
    """
    from statsmodels.tsa.stattools import coint

    stat, pvalue, _ = coint(y, x)
    return float(stat), float(pvalue)


class RollingOLS:
    """OLS of ``y`` on ``x`` with a constant over the last ``period`` pairs, O(1) per update.

    Running sums are kept in a frame shifted by a recent value, so log prices far from zero
    lose nothing to cancellation, and are recomputed exactly each time the ring comes round so
    rounding cannot accumulate. ``update`` returns the z-score of the newest residual (see the
    module doc) once warm, else None; ``beta`` and ``alpha`` are the last fit.
    """

    __slots__ = ("_i", "_kx", "_ky", "_n", "_s", "_xs", "_ys", "alpha", "beta", "period", "z")

    def __init__(self, period: int) -> None:
        if period < 3:
            raise ValueError(f"RollingOLS period must be >= 3, got {period}")
        self.period = period
        self._xs = [0.0] * period
        self._ys = [0.0] * period
        self._i = 0
        self._n = 0
        self._kx = 0.0
        self._ky = 0.0
        self._s = [0.0] * 5  # sums of x, y, xx, yy, xy in the shifted frame
        self.beta: float | None = None
        self.alpha: float | None = None
        self.z: float | None = None

    def update(self, x: float, y: float) -> float | None:
        i = self._i
        s = self._s
        if not self._n:
            self._kx, self._ky = x, y
        dx, dy = x - self._kx, y - self._ky
        if self._n == self.period:
            ox, oy = self._xs[i] - self._kx, self._ys[i] - self._ky
            s[0] -= ox
            s[1] -= oy
            s[2] -= ox * ox
            s[3] -= oy * oy
            s[4] -= ox * oy
        else:
            self._n += 1
        s[0] += dx
        s[1] += dy
        s[2] += dx * dx
        s[3] += dy * dy
        s[4] += dx * dy
        self._xs[i] = x
        self._ys[i] = y
        i += 1
        if i == self.period:
            i = 0
            if self._n == self.period:
                self._recompute()
        self._i = i
        return None if self._n < self.period else self._fit(x, y)

    def _fit(self, x: float, y: float) -> float | None:
        n = self.period
        sx, sy, sxx, syy, sxy = self._s
        mx, my = sx / n, sy / n
        cxx = sxx - sx * mx
        if cxx <= 0.0:
            self.beta = self.alpha = self.z = None
            return None
        cxy = sxy - sx * my
        beta = cxy / cxx
        ssr = (syy - sy * my) - beta * cxy
        resid = (y - self._ky - my) - beta * (x - self._kx - mx)
        sd = math.sqrt(ssr / n) if ssr > 0.0 else 0.0
        self.beta = beta
        self.alpha = (my + self._ky) - beta * (mx + self._kx)
        self.z = z = resid / sd if sd > 0.0 else 0.0
        return z

    def _recompute(self) -> None:
        kx, ky = self._xs[-1], self._ys[-1]
        dxs = [v - kx for v in self._xs]
        dys = [v - ky for v in self._ys]
        self._kx, self._ky = kx, ky
        self._s = [
            math.fsum(dxs),
            math.fsum(dys),
            math.fsum(v * v for v in dxs),
            math.fsum(v * v for v in dys),
            math.fsum(u * v for u, v in zip(dxs, dys, strict=True)),
        ]


class _History:
    """A symbol's recent (timestamp, log close) pairs and its newest bar."""

    __slots__ = ("last_close", "last_ts", "ts", "y")

    def __init__(self, maxlen: int) -> None:
        self.ts: deque[int] = deque(maxlen=maxlen)
        self.y: deque[float] = deque(maxlen=maxlen)
        self.last_ts = -1
        self.last_close = 0.0


class _Pair:
    __slots__ = ("a", "b", "closing", "cooling", "ols", "side")

    def __init__(self, a: str, b: str, ols: RollingOLS) -> None:
        self.a = a
        self.b = b
        self.ols = ols
        self.side = 0  # +1 long the spread (long a, short b), -1 short it, 0 flat
        self.cooling = False  # stopped out; no entry until |z| <= exit_z
        self.closing = False  # cointegration broke: flatten, then drop


class PairsTrading(Strategy):
    name = "pairs"

    formation: int = Param(252, ge=30, description="aligned bars the cointegration test uses")
    hedge_window: int = Param(60, ge=10, description="bars of the rolling OLS hedge ratio")
    entry_z: float = Param(2.0, gt=0, description="enter when |z| exceeds this")
    exit_z: float = Param(0.5, ge=0, description="exit when |z| is back within this")
    stop_z: float = Param(4.0, gt=0, description="stop out (and never enter) beyond this |z|")
    p_value: float = Param(0.05, gt=0, lt=1, description="trade a pair only while p < this")
    retest: int = Param(21, ge=1, description="timestamps between cointegration tests")
    fraction: float = Param(0.5, gt=0, le=1, description="gross fraction of equity, all pairs")
    max_pairs: int = Param(1, ge=1, description="pairs traded at the same time")

    def __init__(
        self, strategy_id: str | None = None, symbols: list[str] | None = None, **params: object
    ) -> None:
        super().__init__(strategy_id, symbols, **params)
        if symbols is not None and len(set(symbols)) < 2:
            raise StrategyError(
                f"pairs: parameter 'symbols' needs at least two distinct symbols, got {symbols}",
                strategy=self.name,
                parameter="symbols",
            )

    def check_params(self) -> None:
        rules = (
            ("exit_z", self.exit_z < self.entry_z, f"less than 'entry_z' ({self.entry_z})"),
            ("stop_z", self.stop_z > self.entry_z, f"greater than 'entry_z' ({self.entry_z})"),
            (
                "hedge_window",
                self.hedge_window <= self.formation,
                f"at most 'formation' ({self.formation})",
            ),
        )
        for name, ok, must in rules:
            if not ok:
                raise StrategyError(
                    f"pairs: parameter {name!r} ({getattr(self, name)}) must be {must}",
                    strategy=self.name,
                    parameter=name,
                )

    def on_start(self) -> None:
        self._history: dict[str, _History] = {}
        self._universe: list[str] = []
        self._pairs: dict[tuple[str, str], _Pair] = {}
        self._by_symbol: dict[str, list[_Pair]] = {}
        self._ts = -1
        self._seen = 0  # timestamps whose bars are all in (every earlier one)
        self._tested_at: int | None = None
        self.tests: list[CointTest] = []
        for sym in dict.fromkeys(self.symbols or ()):
            self._track(sym)

    def _track(self, sym: str) -> _History:
        h = self._history[sym] = _History(2 * self.formation)
        self._universe.append(sym)
        return h

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """The pairs chosen at the last test and not yet dropped."""
        return list(self._pairs)

    # -- per bar ------------------------------------------------------------------------------
    def on_bar(self, bar: Bar) -> None:
        ts = bar.ts
        if ts != self._ts:
            if ts < self._ts:
                return  # the kernel replays in time order; a late bar cannot be decided on
            if self._ts >= 0:
                self._seen += 1
            self._ts = ts
            if self._due():
                self._retest()
        close = bar.close
        if close <= 0.0:
            return
        sym = bar.symbol
        h = self._history.get(sym)
        if h is None:
            if self.symbols is not None:
                return  # not one of the given symbols
            h = self._track(sym)
        h.ts.append(ts)
        h.y.append(math.log(close))
        h.last_ts = ts
        h.last_close = close
        pairs = self._by_symbol.get(sym)
        if pairs:
            for pair in list(pairs):
                other = self._history[pair.b if sym == pair.a else pair.a]
                if other.last_ts == ts:
                    self._step(pair)

    def _due(self) -> bool:
        if self._tested_at is None:
            return self._seen >= self.formation
        return self._seen - self._tested_at >= self.retest

    def _step(self, pair: _Pair) -> None:
        """Both legs have a bar of the current timestamp: update the fit and decide."""
        ha, hb = self._history[pair.a], self._history[pair.b]
        z = pair.ols.update(hb.y[-1], ha.y[-1])
        ctx = self.ctx
        if ctx.open_orders(self.id, pair.a) or ctx.open_orders(self.id, pair.b):
            return
        held_a, held_b = bool(ctx.position(pair.a)), bool(ctx.position(pair.b))
        # Closing after a break, one leg only (a reject), or held while the pair is flat (a
        # position left by someone else in legs that are this pair's alone): flatten.
        if pair.closing or held_a != held_b or (held_a and not pair.side):
            self._flatten(pair)
            if pair.closing and not held_a:
                self._drop(pair)
            return
        if pair.side and not held_a:
            pair.side = 0  # flattened from outside, or the entry never filled
        if z is None:
            return
        if pair.side == 0:
            self._maybe_enter(pair, z, ha.last_close, hb.last_close)
        elif pair.side > 0 and (z >= -self.exit_z or z <= -self.stop_z):
            pair.cooling = z <= -self.stop_z
            self._flatten(pair)
        elif pair.side < 0 and (z <= self.exit_z or z >= self.stop_z):
            pair.cooling = z >= self.stop_z
            self._flatten(pair)

    def _maybe_enter(self, pair: _Pair, z: float, price_a: float, price_b: float) -> None:
        az = abs(z)
        if pair.cooling:
            pair.cooling = az > self.exit_z
            return
        if not self.entry_z < az < self.stop_z:
            return
        ctx = self.ctx
        leg = ctx.equity() * self.fraction / (2 * self.max_pairs)
        qa = ctx.round_quantity(pair.a, leg / price_a)
        qb = ctx.round_quantity(pair.b, leg / price_b)
        if qa <= 0 or qb <= 0:
            return
        side = -1 if z > 0 else 1
        buy, sell = OrderSide.BUY, OrderSide.SELL
        first = self.order(pair.a, buy if side > 0 else sell, qa)
        if first is None or first.status is OrderStatus.DENIED:
            return
        second = self.order(pair.b, sell if side > 0 else buy, qb)
        if second is None or second.status is OrderStatus.DENIED:
            ctx.cancel(first.client_order_id)  # never one leg alone
            return
        pair.side = side

    def _flatten(self, pair: _Pair) -> None:
        self.close(pair.a)
        self.close(pair.b)
        pair.side = 0

    def _drop(self, pair: _Pair) -> None:
        del self._pairs[(pair.a, pair.b)]
        for sym in (pair.a, pair.b):
            self._by_symbol[sym].remove(pair)

    # -- selection ----------------------------------------------------------------------------
    def _retest(self) -> None:
        """Test every candidate pair on data up to the previous timestamp and re-choose."""
        self._tested_at = self._seen
        passed: dict[tuple[str, str], tuple[float, np.ndarray, np.ndarray]] = {}
        universe = self._universe
        for i, a in enumerate(universe):
            for b in universe[i + 1 :]:
                aligned = self._aligned(a, b)
                if aligned is None:
                    continue
                ts, ya, yb = aligned
                stat, p = engle_granger(ya, yb)
                self.tests.append(CointTest(ts, a, b, stat, p, len(ya)))
                if p < self.p_value:
                    passed[(a, b)] = (p, ya, yb)
        used: set[str] = set()
        chosen = 0
        for key, pair in list(self._pairs.items()):
            held = pair.side != 0 or pair.closing
            if held and key not in passed:
                pair.closing = True
            elif not held:
                self._drop(pair)
                continue
            used.update(key)
            chosen += not pair.closing
        for key, (_, ya, yb) in sorted(passed.items(), key=lambda kv: kv[1][0]):
            if chosen >= self.max_pairs:
                break
            if key in self._pairs or used.intersection(key):
                continue
            self._choose(key, ya, yb)
            used.update(key)
            chosen += 1

    def _choose(self, key: tuple[str, str], ya: np.ndarray, yb: np.ndarray) -> None:
        w = self.hedge_window
        ols = RollingOLS(w)
        for x, y in zip(yb[-w:].tolist(), ya[-w:].tolist(), strict=True):
            ols.update(x, y)
        pair = self._pairs[key] = _Pair(key[0], key[1], ols)
        for sym in key:
            self._by_symbol.setdefault(sym, []).append(pair)

    def _aligned(self, a: str, b: str) -> tuple[int, np.ndarray, np.ndarray] | None:
        """The last ``formation`` log closes of ``a`` and ``b`` at their common timestamps."""
        ha, hb = self._history[a], self._history[b]
        ta = np.fromiter(ha.ts, np.int64, len(ha.ts))
        tb = np.fromiter(hb.ts, np.int64, len(hb.ts))
        common, ia, ib = np.intersect1d(ta, tb, assume_unique=True, return_indices=True)
        n = self.formation
        if len(common) < n:
            return None
        ya = np.fromiter(ha.y, np.float64, len(ha.y))[ia[-n:]]
        yb = np.fromiter(hb.y, np.float64, len(hb.y))[ib[-n:]]
        return int(common[-1]), ya, yb
