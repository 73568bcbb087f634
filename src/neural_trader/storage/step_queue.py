"""Writes gathered during one step of the running event loop and stored together when the
step ends (at once when no loop runs): a burst of events costs one transaction, and the loop
never waits on a writer in another thread. Orders reach a venue in a later step than the one
that decided them, so what a step queued is stored before anything it caused can be sent.
A failed write keeps its items, in order, for the next flush, and sets ``failure``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import structlog

from neural_trader.errors import StorageError

T = TypeVar("T")
log = structlog.get_logger("neural_trader.storage")


class StepQueue(Generic[T]):
    def __init__(self, write: Callable[[Sequence[T]], object], what: str, limit: int = 10_000):
        self._write = write
        self._what = what
        self._limit = limit
        self._items: list[T] = []
        self._pending: asyncio.Handle | None = None
        self.failure: StorageError | None = None

    def add(self, item: T) -> None:
        self._items.append(item)
        if len(self._items) >= self._limit:
            self.flush()
            return
        if self._pending is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._pending = loop.call_soon(self._flush_soon)

    def _flush_soon(self) -> None:
        self._pending = None
        try:
            self.flush()
        except StorageError as exc:
            log.error(f"{self._what} not stored; kept for the next flush", error=str(exc))

    def flush(self) -> None:
        """Store every queued item now, in one write (none of them if it fails)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        items, self._items = self._items, []
        if not items:
            return
        try:
            self._write(items)
        except StorageError as exc:
            self._items[:0] = items
            self.failure = exc
            raise
        self.failure = None
