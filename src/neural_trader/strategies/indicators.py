"""Incremental indicators: O(1) work per new value, no history re-scans, no pandas.

Each has ``update(x) -> value | None`` (None until warmed up) and ``value``; they are fed one
close at a time from a strategy's ``on_bar``.
"""

from __future__ import annotations


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
