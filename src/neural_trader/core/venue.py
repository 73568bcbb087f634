"""The execution port: what the kernel needs from any venue, simulated or real.

A venue takes orders and answers only through events on the bus (accepted, rejected, filled,
canceled, expired). A simulated venue additionally sees market data so that it can match;
a real broker's adapter does not need it because the venue matches on its own side.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Protocol, runtime_checkable

from neural_trader.core.market_data import Bar, QuoteTick, TradeTick
from neural_trader.core.orders import Order


@runtime_checkable
class ExecutionVenue(Protocol):
    name: str

    def submit(self, order: Order, decision_ts: int) -> None:
        """Send ``order`` (already SUBMITTED), decided on data stamped ``decision_ts``."""

    def cancel(self, client_order_id: str) -> None: ...


@runtime_checkable
class MatchingVenue(ExecutionVenue, Protocol):
    """A venue that matches orders itself against the market data the kernel replays."""

    def working_symbols(self) -> Container[str]: ...

    def on_bar(self, bar: Bar) -> None:
        """A bar of a symbol with working orders (the kernel skips the others)."""

    def on_quote(self, quote: QuoteTick) -> None:
        """Every quote of every symbol: the venue keeps the touch to place new orders in its
        queue, besides matching the orders working in that symbol."""

    def on_trade(self, trade: TradeTick) -> None:
        """A trade printed in a symbol with working orders (the kernel skips the others)."""
