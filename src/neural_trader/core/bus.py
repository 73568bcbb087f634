"""A typed, synchronous, in-process message bus.

Dispatch is by the event's exact class (a dict lookup), not by isinstance, because it sits on
the per-bar path. Handlers run in subscription order, in the publisher's call stack, so a
backtest is deterministic; an exception in a handler propagates to the publisher.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

E = TypeVar("E")
Handler = Callable[[Any], None]


class MessageBus:
    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = {}

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        self._handlers.setdefault(event_type, []).append(handler)

    def unsubscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        handlers = self._handlers.get(event_type, [])
        if handler in handlers:
            handlers.remove(handler)

    def has_subscribers(self, event_type: type) -> bool:
        return bool(self._handlers.get(event_type))

    def publish(self, event: object) -> None:
        handlers = self._handlers.get(type(event))
        if handlers:
            for handler in handlers:
                handler(event)
