"""BrokerPool: every configured venue behind one object that never loses or doubles an order.

* **Connections.** Each venue has its clients (writes on the first, reads spread over all), a
  token bucket at the venue's documented request rate, and a circuit breaker that opens after
  ``breaker_failures`` transient failures in a row. A failed health check (every
  ``health_check_interval_s``) or an open breaker marks the venue DOWN and starts one reconnect
  loop (exponential backoff with jitter; concurrent failures share the loop).
* **Reconciliation** runs on every (re)connect before the venue takes orders again: missed
  fills, open orders, orders whose send had an unknown outcome, and positions against the
  ledger (see :mod:`neural_trader.brokers.reconcile` for the rules).
* **Idempotency.** An order is known by its client order id from the moment ``submit`` is
  called: a second submit of the same id does not send again. A send that times out or loses
  its connection is resolved by asking the venue for that id, and only sent again (under the
  same id, which the venue refuses to double) when the venue has no such order.
* **Routing.** :class:`~neural_trader.brokers.routing.Router` picks the venues; an order goes to
  the first that is UP. It fails over only *before* sending: an order whose send outcome is
  unknown stays with its venue until resolved.

Every outcome reaches the rest of the platform as an event on the bus (``core.events`` order
events, ``brokers.events`` for the rest), published on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from neural_trader.brokers.base import (
    Account,
    Broker,
    Failure,
    OrderUpdate,
    VenueError,
    VenueOrder,
    VenuePosition,
)
from neural_trader.brokers.connection import VenueConnection, VenueState
from neural_trader.brokers.events import BrokerDown, BrokerUp, OrderUnresolved, VenueStateUnknown
from neural_trader.brokers.reconcile import Reconciler
from neural_trader.brokers.resilience import Backoff, CircuitBreaker
from neural_trader.brokers.routing import Router
from neural_trader.brokers.tracking import OrderBook, Tracked
from neural_trader.core.bus import MessageBus
from neural_trader.core.clock import Clock, LiveClock
from neural_trader.core.instruments import AssetClass
from neural_trader.core.orders import Order
from neural_trader.core.portfolio import Portfolio

T = TypeVar("T")


@dataclass(frozen=True)
class PoolSettings:
    health_check_interval_s: float = 30.0
    reconnect_base_s: float = 0.5
    reconnect_max_s: float = 60.0
    breaker_failures: int = 5
    # Fills are re-read this far back on reconciliation (venues stamp fills a little late).
    fill_overlap_ns: int = 60_000_000_000
    resolve_attempts: int = 8


class BrokerPool:
    def __init__(
        self,
        bus: MessageBus,
        venues: Mapping[str, Sequence[Broker]],
        router: Router,
        ledger: Portfolio | None = None,
        settings: PoolSettings | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        requests_per_s: Mapping[str, float] | None = None,
    ) -> None:
        self.settings = settings or PoolSettings()
        self.bus = bus
        self.router = router
        self.ledger = ledger
        self.clock = clock or LiveClock()
        self.book = OrderBook(bus)
        self._backoff = Backoff(self.settings.reconnect_base_s, self.settings.reconnect_max_s, rng)
        rates = requests_per_s or {}
        self.venues: dict[str, VenueConnection] = {
            name: VenueConnection(
                name, clients, CircuitBreaker(self.settings.breaker_failures), rates.get(name)
            )
            for name, clients in venues.items()
        }
        self.reconciler = Reconciler(self)
        self._sent: dict[str, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unknown_states: set[tuple[str, str, str]] = set()
        self._health_task: asyncio.Task[None] | None = None
        self._closed = False
        self.started_ns = self.clock.now_ns()

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect and reconcile every venue; a venue that cannot connect starts reconnecting
        and shows DOWN (the others work meanwhile)."""
        for venue in self.venues.values():
            try:
                await venue.connect_all()
            except VenueError as exc:
                self._went_down(venue, str(exc))
                continue
            await self._come_up(venue)
        self._health_task = asyncio.create_task(self._health_loop())

    async def stop(self) -> None:
        self._closed = True
        tasks = [t for t in (self._health_task,) if t is not None] + list(self._tasks)
        for venue in self.venues.values():
            tasks += [t for t in (venue.reconnect_task, venue.stream_task) if t is not None]
        await _cancel(tasks)
        for venue in self.venues.values():
            venue.set_state(VenueState.CLOSED)
            await venue.close_all()

    @property
    def busy(self) -> bool:
        """True while a submit, cancel or resolution started by the pool is still running."""
        return bool(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _come_up(self, venue: VenueConnection) -> None:
        venue.set_state(VenueState.RECONCILING)
        venue.breaker.success()
        try:
            await self.reconciler.run(venue)
        except VenueError as exc:
            if exc.transient or exc.failure is Failure.CIRCUIT_OPEN:
                self._went_down(venue, f"reconciliation failed: {exc}")
                return
            raise
        venue.set_state(VenueState.UP)
        self.bus.publish(BrokerUp(venue.name, self.clock.now_ns(), venue.reconnects))
        venue.stream_task = asyncio.create_task(self._stream(venue))

    def _went_down(self, venue: VenueConnection, reason: str) -> None:
        """Mark ``venue`` DOWN (once) and make sure exactly one reconnect loop runs."""
        if self._closed:
            return
        if venue.state is not VenueState.DOWN:
            venue.breaker.trip()
            venue.set_state(VenueState.DOWN, reason)
            self.bus.publish(BrokerDown(venue.name, reason, self.clock.now_ns()))
            stream = venue.stream_task
            if stream is not None and stream is not asyncio.current_task():
                stream.cancel()
            venue.stream_task = None
        if venue.reconnect_task is None or venue.reconnect_task.done():
            venue.reconnect_task = asyncio.create_task(self._reconnect(venue))

    async def _reconnect(self, venue: VenueConnection) -> None:
        attempt = 0
        while not self._closed:
            await asyncio.sleep(self._backoff.delay(attempt))
            attempt += 1
            venue.breaker.probe()
            try:
                await venue.connect_all()
                health = await venue.call(lambda c: c.health(), probe=True)
                if not health.ok:
                    raise VenueError(health.detail, Failure.UNAVAILABLE, venue=venue.name)
            except VenueError as exc:
                venue.breaker.failure()
                venue.reason = f"reconnect attempt {attempt}: {exc}"
                continue
            venue.reconnects += 1
            venue.reconnect_task = None
            await self._come_up(venue)
            return

    async def _health_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.settings.health_check_interval_s)
            for venue in self.venues.values():
                if venue.state is VenueState.UP:
                    await self.check(venue.name)

    async def check(self, name: str) -> bool:
        """One health check of ``name`` now; a failure marks it DOWN. True when healthy."""
        venue = self.venue(name)
        try:
            health = await venue.call(lambda c: c.health())
        except VenueError as exc:
            if exc.transient or exc.failure in (Failure.CIRCUIT_OPEN, Failure.MALFORMED):
                self._went_down(venue, f"health check: {exc}")
                return False
            raise
        if not health.ok:
            self._went_down(venue, f"health check: {health.detail}")
        return health.ok

    # -- the update stream --------------------------------------------------------------------
    async def _stream(self, venue: VenueConnection) -> None:
        while not self._closed and venue.state is VenueState.UP:
            try:
                updates = venue.writer.updates(
                    venue.last_fill_ns, lambda: self.book.symbols_on(venue.name)
                )
                async for update in updates:
                    self.apply_update(venue, update)
            except VenueError as exc:
                if exc.failure is Failure.UNKNOWN_STATE:
                    self.unknown_state(venue, exc)
                    await asyncio.sleep(venue.writer.poll_interval_s)
                    continue
                self._went_down(venue, f"update stream: {exc}")
                return

    def apply_update(self, venue: VenueConnection, update: OrderUpdate) -> None:
        if update.fill is not None and self.book.apply_fill(venue.name, update.fill):
            venue.last_fill_ns = max(venue.last_fill_ns, update.fill.ts)
        if update.order is not None:
            self.book.apply_order(venue.name, update.order)

    def unknown_state(self, venue: VenueConnection, exc: VenueError) -> None:
        cid = str(exc.context.get("order", ""))
        state = str(exc.context.get("state", ""))
        if (venue.name, cid, state) not in self._unknown_states:
            self._unknown_states.add((venue.name, cid, state))
            self.bus.publish(VenueStateUnknown(venue.name, cid, state, str(exc)))

    # -- orders -------------------------------------------------------------------------------
    def venue(self, name: str) -> VenueConnection:
        try:
            return self.venues[name]
        except KeyError:
            raise VenueError(
                f"no venue {name!r} in the pool", Failure.NO_ROUTE, known=sorted(self.venues)
            ) from None

    def _asset_class(self, symbol: str) -> AssetClass | None:
        if self.ledger is not None and symbol in self.ledger.instruments:
            return self.ledger.instruments.get(symbol).asset_class
        return None

    def route(self, symbol: str) -> tuple[str, ...]:
        return self.router.venues_for(symbol, self._asset_class(symbol))

    async def submit(self, order: Order) -> Tracked:
        """Send ``order`` (already SUBMITTED) to its venue; outcomes arrive as events. A second
        submit of the same client order id waits for the first and sends nothing."""
        cid = order.client_order_id
        sent = self._sent.get(cid)
        if sent is not None:
            await sent.wait()
            return self.book.orders[cid]
        self._sent[cid] = done = asyncio.Event()
        try:
            return await self._send(order)
        finally:
            done.set()

    async def _send(self, order: Order) -> Tracked:
        try:
            names = self.route(order.symbol)
        except VenueError as exc:
            tracked = self.book.track(order, "")
            self.book.reject_unsent(tracked, str(exc))
            return tracked
        refusals: list[str] = []
        for name in names:
            venue = self.venue(name)
            tracked = self.book.track(order, name)
            try:
                venue.capabilities.check(order, name)
                report = await venue.call(lambda c: c.place_order(order), write=True)
            except VenueError as exc:
                if exc.failure is Failure.CIRCUIT_OPEN:
                    refusals.append(str(exc))
                    continue  # not sent: the next venue of the route may take it
                self._send_failed(venue, tracked, exc)
                return tracked
            self.book.apply_order(name, report)
            return tracked
        self.book.reject_unsent(tracked, "no venue up: " + "; ".join(refusals))
        return tracked

    def _send_failed(self, venue: VenueConnection, tracked: Tracked, exc: VenueError) -> None:
        if exc.transient or exc.failure in (Failure.DUPLICATE, Failure.MALFORMED):
            # The venue may hold the order: find out before anything is sent again.
            tracked.send_unknown = exc.failure is not Failure.DUPLICATE
            self.bus.publish(OrderUnresolved(venue.name, tracked.order, str(exc)))
            if not venue.breaker.closed:
                self._went_down(venue, str(exc))
            self.spawn(self._resolve_soon(venue, tracked))
        else:
            self.book.reject_unsent(tracked, str(exc))

    async def _resolve_soon(self, venue: VenueConnection, tracked: Tracked) -> None:
        for attempt in range(self.settings.resolve_attempts):
            await venue.up.wait()
            if tracked.terminal or tracked.venue_order_id is not None:
                return
            try:
                await self.reconciler.resolve(venue, tracked, probe=False)
                return
            except VenueError as exc:
                if not (exc.transient or exc.failure is Failure.CIRCUIT_OPEN):
                    self.book.reject_unsent(tracked, str(exc))
                    return
                await asyncio.sleep(self._backoff.delay(attempt))

    async def cancel(self, client_order_id: str) -> None:
        tracked = self.book.orders.get(client_order_id)
        if tracked is None or tracked.terminal:
            return
        venue = self.venue(tracked.venue)
        symbol = tracked.order.symbol
        await venue.call(lambda c: c.cancel_order(client_order_id, symbol), write=True)

    async def replace(self, client_order_id: str, new: Order) -> Tracked:
        """Replace a working order with ``new`` (already SUBMITTED, a new client order id);
        the old one is closed by the venue's update, the new one is tracked from here."""
        old = self.book.orders[client_order_id]
        venue = self.venue(old.venue)
        tracked = self.book.track(new, venue.name)

        async def swap(client: Broker) -> VenueOrder:
            return await client.replace_order(
                client_order_id, new.client_order_id, new.quantity, new.limit_price, new.stop_price
            )

        try:
            report = await venue.call(swap, write=True)
        except VenueError as exc:
            self._send_failed(venue, tracked, exc)
            return tracked
        self.book.apply_order(venue.name, report)
        return tracked

    # -- reads --------------------------------------------------------------------------------
    async def _read(self, name: str, fn: Callable[[Broker], Awaitable[T]]) -> T:
        return await self.venue(name).call(fn)

    async def account(self, name: str) -> Account:
        return await self._read(name, lambda c: c.account())

    async def positions(self, name: str) -> list[VenuePosition]:
        return await self._read(name, lambda c: c.positions())

    def ledger_quantity(self, symbol: str) -> Decimal:
        return self.ledger.quantity(symbol) if self.ledger is not None else Decimal(0)

    def health(self) -> dict[str, Any]:
        """``ok`` when every venue is up, ``down`` when none is, else ``degraded``."""
        states = {name: v.state.value for name, v in self.venues.items()}
        up = sum(1 for v in self.venues.values() if v.available)
        status = "ok" if up == len(self.venues) else ("down" if up == 0 else "degraded")
        return {
            "status": status,
            "venues": {
                name: {"state": states[name], "reason": v.reason, "reconnects": v.reconnects}
                for name, v in self.venues.items()
            },
        }


async def _cancel(tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and wait until every one has ended, cancelling again any that is still
    running a second later (a library may swallow one cancellation). A venue's error is
    dropped (the pool is closing and it was reported as an event); any other is a bug and is
    raised."""
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=1.0)
    errors = [t.exception() for t in tasks if not t.cancelled()]
    for error in errors:
        if error is not None and not isinstance(error, VenueError):
            raise error
