"""Incremental indicators: O(1) work per new value, no history re-scans, no pandas.

Each has ``update(x) -> value | None`` (None until warmed up) and ``value``; they are fed one
close at a time from a strategy's ``on_bar``.
"""

from __future__ import annotations

from collections import deque


class SMA:
    """Simple moving average over the last ``period`` values (a running sum)."""

    __slots__ = ("_sum", "_window", "period", "value")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"SMA period must be >= 1, got {period}")
        self.period = period
        self._window: deque[float] = deque()
        self._sum = 0.0
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        window = self._window
        window.append(x)
        self._sum += x
        if len(window) > self.period:
            self._sum -= window.popleft()
        if len(window) == self.period:
            self.value = self._sum / self.period
        return self.value
