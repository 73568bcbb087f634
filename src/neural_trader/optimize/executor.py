"""Where the evaluations run: a small executor interface, in-process or on all local cores.

An :class:`Executor` maps a function over items and reports progress. The optimiser only ever
calls ``map``, so a cluster backend (Ray) is one more class with the same method.

:class:`ProcessExecutor` installs the function once in each worker process (it carries the bar
series, which can be tens of megabytes) and then sends only the small items. On Linux the
workers are forked, so they inherit the already compiled numba code and the data without
pickling; elsewhere they are spawned and unpickle the function once each. The pool lives until
``close`` (or the ``with`` block ends) and is reused while the function stays the same object.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int, int], None]  # (items done, items in this map)


class Executor(Protocol):
    """Runs ``fn`` on every item; results in the order of ``items``."""

    workers: int

    def map(
        self, fn: Callable[[T], R], items: Sequence[T], progress: Progress | None = None
    ) -> list[R]:
        """``[fn(item) for item in items]``, calling ``progress(done, len(items))`` on the way."""
        ...


class SerialExecutor:
    """Everything in this process, one item after another (tests, tiny sweeps, debugging)."""

    workers = 1

    def map(
        self, fn: Callable[[T], R], items: Sequence[T], progress: Progress | None = None
    ) -> list[R]:
        """In order, in this process."""
        out = []
        for i, item in enumerate(items):
            out.append(fn(item))
            if progress is not None:
                progress(i + 1, len(items))
        return out

    def close(self) -> None:
        """Nothing to release."""


_installed: Callable[[Any], Any] | None = None


def _install(fn: Callable[[Any], Any]) -> None:
    global _installed
    _installed = fn


def _call(item: Any) -> Any:
    assert _installed is not None, "worker started without a function"
    return _installed(item)


def _context() -> Any:
    if sys.platform == "linux" and "fork" in mp.get_all_start_methods():
        return mp.get_context("fork")
    return mp.get_context("spawn")


class ProcessExecutor:
    """A process pool over ``workers`` local cores (default: all of them)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
        self._fn: Callable[[Any], Any] | None = None

    def _pool_for(self, fn: Callable[[Any], Any]) -> ProcessPoolExecutor:
        if self._pool is None or self._fn is not fn:
            self.close()
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=_context(), initializer=_install, initargs=(fn,)
            )
            self._fn = fn
        return self._pool

    def map(
        self, fn: Callable[[T], R], items: Sequence[T], progress: Progress | None = None
    ) -> list[R]:
        """Items go to whichever worker is free; results come back in the items' order. The
        first error raised in a worker is raised here, and the items not yet started are
        cancelled."""
        if not items:
            return []
        pool = self._pool_for(fn)
        futures: dict[Future[Any], int] = {
            pool.submit(_call, item): i for i, item in enumerate(items)
        }
        results: list[Any] = [None] * len(items)
        pending = set(futures)
        done_count = 0
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    results[futures[future]] = future.result()
                    done_count += 1
                if progress is not None:
                    progress(done_count, len(items))
        except BaseException:
            for future in pending:
                future.cancel()
            raise
        return results

    def close(self) -> None:
        """Stop the workers (idempotent)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        self._fn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def local_executor(workers: int | None = None) -> SerialExecutor | ProcessExecutor:
    """A process pool, or the serial executor when only one worker is wanted."""
    return SerialExecutor() if (workers or os.cpu_count() or 1) <= 1 else ProcessExecutor(workers)
