"""Clocks: the only place the kernel learns what time it is.

A backtest advances a :class:`SimulatedClock` to each event's timestamp; live and paper trading
read the wall clock. Nothing else in the kernel calls ``time``.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int: ...


class SimulatedClock:
    """Time stands still until the runner moves it, and never moves backwards."""

    __slots__ = ("ts",)

    def __init__(self, start_ns: int = 0) -> None:
        self.ts = start_ns

    def now_ns(self) -> int:
        return self.ts

    def advance_to(self, ts: int) -> None:
        if ts < self.ts:
            raise ValueError(f"simulated clock cannot go back from {self.ts} to {ts}")
        self.ts = ts


class LiveClock:
    """Wall-clock UTC nanoseconds."""

    __slots__ = ()

    def now_ns(self) -> int:
        return time.time_ns()
