"""The session trading through the BrokerPool instead of the in-process simulated venue:
orders go out through :class:`~neural_trader.brokers.execution.PoolVenue` to the venues of
``[brokers]`` (``enabled``, ``routes``; ``paper`` alone by default), are reconciled on every
(re)connect, and come back as the same order events the ledger recorder stores.

The replayed bars still drive the strategies (there is no live market-data feed here), and each
bar also reaches every paper adapter in the pool after the kernel has seen it, so the simulated
venue behind the port matches an order only against data later than its decision.

Graceful degradation: when a venue goes down, the strategies whose symbols have no venue of
their route up are halted at the gate (new orders denied with ``strategy_halted``; their
working orders stay, as the venue holds them); they resume when a venue of theirs is back.
The other strategies trade on.

On restart, the stored open orders are tracked by the pool at their route's first venue, so
the start-up reconciliation looks each one up there: one the venue still holds is adopted,
one it has no record of is reported as ``OrderUnresolved`` (never sent again unasked).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from neural_trader.brokers.base import VenueError
from neural_trader.brokers.events import BrokerDown, BrokerUp
from neural_trader.brokers.execution import PoolVenue
from neural_trader.brokers.paper_adapter import PaperBroker
from neural_trader.brokers.pool import BrokerPool
from neural_trader.brokers.registry import build_pool
from neural_trader.config import Settings
from neural_trader.core.market_data import Bar, QuoteTick, TradeTick
from neural_trader.core.news import NewsItem
from neural_trader.core.venue import ExecutionVenue
from neural_trader.risk.gate import TradingState
from neural_trader.storage import Store
from neural_trader.storage.store import AccountState
from neural_trader.strategies.services import StrategyServices
from neural_trader.trading.session import PaperSession

SETTLE_STEPS = 50


class PoolSession(PaperSession):
    pool: BrokerPool

    def _venue(self) -> ExecutionVenue:
        self.pool = build_pool(self.settings, self.bus, self.portfolio, rng=random.Random())
        self.paper_adapters = [
            client
            for connection in self.pool.venues.values()
            for client in connection.clients
            if isinstance(client, PaperBroker)
        ]
        self.halted_for_venue: set[str] = set()
        self.bus.subscribe(BrokerDown, lambda _: self._venues_changed())
        self.bus.subscribe(BrokerUp, lambda _: self._venues_changed())
        return PoolVenue(self.pool)

    def _restore_venue(self, saved: AccountState) -> None:
        for order, _ in saved.open_orders:
            routes = self.pool.route(order.symbol)
            self.pool.book.track(order, routes[0])

    async def _step(self, event: Bar | TradeTick | QuoteTick | NewsItem) -> None:
        """A bar reaches the paper adapters first and their fills (at its open, of orders
        decided on earlier bars) reach the kernel; then the strategies see the bar, and the
        orders they decide reach the venue before the next one: the simulated venue's order
        of things. A real venue answers when it answers: each wait is a few loop steps."""
        if isinstance(event, Bar) and self.paper_adapters:
            for adapter in self.paper_adapters:
                adapter.on_bar(event)
            await self._settle()
        self._dispatch(event)
        await self._settle()

    async def _settle(self) -> None:
        for _ in range(SETTLE_STEPS):
            await asyncio.sleep(0)
            if not self.pool.busy and not any(a.pending_updates for a in self.paper_adapters):
                return

    async def run(
        self,
        stop: asyncio.Event,
        speed: float,
        until_end: bool,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        await self.pool.start()
        try:
            await super().run(stop, speed, until_end, on_tick)
        finally:
            await self.pool.stop()
            self.recorder.flush()

    # -- degradation --------------------------------------------------------------------------
    def _venues_changed(self) -> None:
        """Halt the running strategies that no venue up can serve; resume the ones that can
        be served again (only those halted here: an operator's pause stays)."""
        up = {name for name, v in self.pool.venues.items() if v.available}
        gate = self.kernel.gate
        for sid, managed in self.manager.managed.items():
            # A strategy that names no symbols trades what the session replays.
            symbols = managed.inner.symbols or list(managed.seen) or self.symbols
            served = all(up.intersection(self._route(symbol)) for symbol in symbols)
            if not served and gate.strategy_state(sid) is TradingState.ACTIVE:
                gate.set_strategy_state(sid, TradingState.HALTED)
                self.halted_for_venue.add(sid)
                self.status.events.append(f"{sid} halted: no venue up for its symbols")
            elif served and sid in self.halted_for_venue:
                gate.set_strategy_state(sid, TradingState.ACTIVE)
                self.halted_for_venue.discard(sid)
                self.status.events.append(f"{sid} resumed: a venue is back")

    def _route(self, symbol: str) -> tuple[str, ...]:
        try:
            return self.pool.route(symbol)
        except VenueError:  # no route: nothing can serve it
            return ()


def session_for(
    settings: Settings,
    store: Store,
    account: str = "paper",
    services: StrategyServices | None = None,
) -> PaperSession:
    """The session ``[run] venue`` asks for: ``sim`` (the in-process simulated venue) or
    ``pool`` (the BrokerPool of ``[brokers]``)."""
    kind = PoolSession if settings.run.venue == "pool" else PaperSession
    return kind(settings, store, account, services)
