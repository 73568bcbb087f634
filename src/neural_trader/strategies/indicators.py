"""Incremental indicators: O(1) work per new value, no history re-scans, no pandas.

Each has ``update(x) -> value | None`` (None until warmed up) and ``value`` (the last output);
they are fed one close at a time from a strategy's ``on_bar``. The value is a float, except for
:class:`MACD` (``MACDValue(macd, signal, hist)``) and :class:`Bollinger`
(``BollingerBands(lower, mid, upper)``). Warm-up and smoothing follow TA-Lib's conventions.
"""

from __future__ import annotations

import math
from typing import NamedTuple


class SMA:
    """Simple moving average over the last ``period`` values (a running sum over a ring)."""

    __slots__ = ("_buf", "_i", "_n", "_sum", "period", "value")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"SMA period must be >= 1, got {period}")
        self.period = period
        self._buf = [0.0] * period
        self._i = 0
        self._n = 0
        self._sum = 0.0
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        i = self._i
        buf = self._buf
        self._sum += x - buf[i]
        buf[i] = x
        i += 1
        self._i = 0 if i == self.period else i
        if self._n < self.period:
            self._n += 1
            if self._n < self.period:
                return None
        self.value = v = self._sum / self.period
        return v


class EMA:
    """Exponential moving average, ``alpha = 2 / (period + 1)``.

    Seeded TA-Lib's way: the first value is the simple mean of the first ``period`` inputs,
    and from then on ``ema += alpha * (x - ema)``. :meth:`seed` starts it from a given value
    instead (used by :class:`MACD`).
    """

    __slots__ = ("_alpha", "_n", "_sum", "period", "value")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"EMA period must be >= 1, got {period}")
        self.period = period
        self._alpha = 2.0 / (period + 1)
        self._n = 0
        self._sum = 0.0
        self.value: float | None = None

    def seed(self, value: float) -> float:
        """Declare the indicator warm at ``value``; later updates smooth from there."""
        self.value = value
        return value

    def update(self, x: float) -> float | None:
        v = self.value
        if v is not None:
            v = (x - v) * self._alpha + v
            self.value = v
            return v
        self._n += 1
        self._sum += x
        if self._n < self.period:
            return None
        self.value = v = self._sum / self.period
        return v


class RollingStd:
    """Standard deviation of the last ``period`` values (``ddof=0``: population, the default).

    A rolling Welford update (add the new value, drop the oldest) keeps each step O(1). It works
    on values shifted by a recent value from the window, so a large level with a small spread
    (prices) loses no precision to cancellation. Every time the ring buffer comes round, the
    shift (to the newest value), the mean and the sum of squared deviations are recomputed
    exactly from the window (O(period) once per ``period`` updates), so rounding error cannot
    accumulate over long series.
    ``mean`` is the window's mean once warm.
    """

    __slots__ = ("_buf", "_i", "_m2", "_mean", "_n", "_shift", "ddof", "mean", "period", "value")

    def __init__(self, period: int, ddof: int = 0) -> None:
        if ddof < 0:
            raise ValueError(f"RollingStd ddof must be >= 0, got {ddof}")
        if period < 1 or period <= ddof:
            raise ValueError(f"RollingStd period must be >= 1 and > ddof ({ddof}), got {period}")
        self.period = period
        self.ddof = ddof
        self._buf = [0.0] * period
        self._i = 0
        self._n = 0
        self._shift = 0.0  # values are handled as x - shift
        self._mean = 0.0  # mean of the shifted values
        self._m2 = 0.0  # sum of squared deviations from the mean
        self.mean: float | None = None
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        period = self.period
        buf = self._buf
        i = self._i
        if self._n < period:
            if not self._n:
                self._shift = x
            n = self._n = self._n + 1
            y = x - self._shift
            d = y - self._mean
            self._mean += d / n
            self._m2 += d * (y - self._mean)
        else:
            shift = self._shift
            y = x - shift
            y_old = buf[i] - shift
            mean_old = self._mean
            mean = mean_old + (y - y_old) / period
            self._m2 += (y - y_old) * (y - mean + y_old - mean_old)
            self._mean = mean
        buf[i] = x
        i += 1
        if i == period:
            i = 0
            self._recompute()
        self._i = i
        if self._n < period:
            return None
        m2 = self._m2
        v = (m2 / (period - self.ddof)) ** 0.5 if m2 > 0.0 else 0.0
        self.mean = self._mean + self._shift
        self.value = v
        return v

    def deviation(self, x: float) -> float:
        """``x`` minus the window mean, computed in the shifted frame (no cancellation)."""
        return (x - self._shift) - self._mean

    def _recompute(self) -> None:
        buf = self._buf
        shift = buf[-1]  # the newest value: inside the window's range, and exact for a constant
        ys = [b - shift for b in buf]
        mean = math.fsum(ys) / self.period
        self._shift = shift
        self._mean = mean
        self._m2 = math.fsum((y - mean) * (y - mean) for y in ys)


class RSI:
    """Relative strength index with Wilder's smoothing, the TA-Lib convention.

    The first average gain and loss are simple means of the first ``period`` changes (so the
    first value comes with the ``period + 1``-th input); then ``avg = (avg·(period-1) + new) /
    period``, and ``RSI = 100 · avg_gain / (avg_gain + avg_loss)``. When nothing moved at all
    (both averages zero) the RSI is 50, neutral (TA-Lib reports 0 there).
    """

    __slots__ = ("_gain", "_loss", "_n", "_prev", "period", "value")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"RSI period must be >= 1, got {period}")
        self.period = period
        self._prev: float | None = None
        self._n = 0
        self._gain = 0.0
        self._loss = 0.0
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        prev = self._prev
        self._prev = x
        if prev is None:
            return None
        change = x - prev
        gain = change if change > 0.0 else 0.0
        loss = -change if change < 0.0 else 0.0
        p = self.period
        if self._n < p:
            self._n += 1
            self._gain += gain
            self._loss += loss
            if self._n < p:
                return None
            self._gain /= p
            self._loss /= p
        else:
            self._gain = (self._gain * (p - 1) + gain) / p
            self._loss = (self._loss * (p - 1) + loss) / p
        total = self._gain + self._loss
        v = 100.0 * (self._gain / total) if total > 0.0 else 50.0
        self.value = v
        return v


class MACDValue(NamedTuple):
    macd: float
    signal: float
    hist: float


class MACD:
    """Moving average convergence/divergence, the TA-Lib convention.

    ``macd = EMA(fast) - EMA(slow)``, ``signal = EMA(signal)`` of ``macd``, ``hist = macd -
    signal``. As in TA-Lib, both EMAs start on the bar the slow one warms (input
    ``slow``): the slow EMA from the mean of the first ``slow`` inputs, the fast one from the
    mean of the last ``fast`` inputs up to that bar. The signal EMA is seeded with the mean of
    the first ``signal`` MACD values, so the first output comes with input
    ``slow + signal - 1``.
    """

    __slots__ = ("_fast", "_fast_seed", "_signal", "_slow", "value")

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        if fast < 1 or signal < 1:
            raise ValueError(f"MACD periods must be >= 1, got fast={fast} signal={signal}")
        if slow <= fast:
            raise ValueError(f"MACD slow period ({slow}) must be greater than fast ({fast})")
        self._fast_seed = SMA(fast)
        self._fast = EMA(fast)
        self._slow = EMA(slow)
        self._signal = EMA(signal)
        self.value: MACDValue | None = None

    def update(self, x: float) -> MACDValue | None:
        fast = self._fast
        if fast.value is not None:
            f = fast.update(x)
            s = self._slow.update(x)
        else:
            seed = self._fast_seed.update(x)
            s = self._slow.update(x)
            if s is None or seed is None:
                return None
            f = fast.seed(seed)
        macd = f - s  # type: ignore[operator]  # both warm from here on
        sig = self._signal.update(macd)
        if sig is None:
            return None
        v = self.value = MACDValue(macd, sig, macd - sig)
        return v


class BollingerBands(NamedTuple):
    lower: float
    mid: float
    upper: float


class Bollinger:
    """Bollinger bands: ``mid`` = mean of the last ``period`` values, bands at ``mid ±
    num_std · σ`` with the population standard deviation (TA-Lib's BBANDS, pandas-ta)."""

    __slots__ = ("_std", "num_std", "period", "value")

    def __init__(self, period: int, num_std: float = 2.0) -> None:
        if period < 1:
            raise ValueError(f"Bollinger period must be >= 1, got {period}")
        if not num_std > 0:
            raise ValueError(f"Bollinger num_std must be > 0, got {num_std}")
        self.period = period
        self.num_std = num_std
        self._std = RollingStd(period, 0)
        self.value: BollingerBands | None = None

    def update(self, x: float) -> BollingerBands | None:
        std = self._std
        s = std.update(x)
        if s is None:
            return None
        mid: float = std.mean  # type: ignore[assignment]  # set whenever the std is warm
        width = self.num_std * s
        v = self.value = BollingerBands(mid - width, mid, mid + width)
        return v


class RateOfChange:
    """Momentum as a rate of change: ``x_t / x_{t-period} - 1``.

    Warm from the ``period + 1``-th input. Undefined (None) on a bar whose base value is 0.
    """

    __slots__ = ("_buf", "_i", "_n", "period", "value")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"RateOfChange period must be >= 1, got {period}")
        self.period = period
        self._buf = [0.0] * period
        self._i = 0
        self._n = 0
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        buf = self._buf
        i = self._i
        old = buf[i]
        buf[i] = x
        i += 1
        self._i = 0 if i == self.period else i
        if self._n < self.period:
            self._n += 1
            return None
        if old == 0.0:
            self.value = None
            return None
        v = self.value = x / old - 1.0
        return v


class ZScore:
    """How many population standard deviations the newest value lies from the mean of the
    last ``period`` values (the newest included). 0 when the window has no spread."""

    __slots__ = ("_std", "period", "value")

    def __init__(self, period: int) -> None:
        if period < 2:
            raise ValueError(f"ZScore period must be >= 2, got {period}")
        self.period = period
        self._std = RollingStd(period, 0)
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        std = self._std
        s = std.update(x)
        if s is None:
            return None
        v = std.deviation(x) / s if s > 0.0 else 0.0
        self.value = v
        return v
