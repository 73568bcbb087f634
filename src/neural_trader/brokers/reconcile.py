"""Reconciliation: what the pool does on every (re)connect before a venue takes orders again.

Rules, applied in this order (the venue is the record of what happened; we never invent):

1. **Missed fills.** Orders whose send had an unknown outcome are looked up first (rule 3),
   so that their venue ids are known; then executions since the last booked fill (less an
   overlap) are fetched and booked; a fill already booked is recognised by its venue id and
   skipped; one that matches none of our orders is reported as ``ForeignFill``.
2. **Open orders.** Each open order at the venue updates ours; one we did not place is reported
   as ``ForeignOrder`` and left alone (we never cancel what we did not send).
3. **Orders we think open that the venue does not list.** Each is looked up by client order id:
   a terminal state is applied (after its fills, see ``tracking``); an order whose send had an
   unknown outcome and that the venue has never seen is sent again under the same id; one the
   venue has no record of otherwise is reported as ``OrderUnresolved``.
4. **Positions.** For each symbol, the ledger's quantity is compared with the sum of the
   positions at the venues its route names (those reconciled so far); a difference is reported
   as ``PositionMismatch``: the venue's figure is the truth, the ledger is not forced.

An order state the venue's table does not list is reported as ``VenueStateUnknown`` and the
order is left as it was. The outcome is published as a ``ReconciliationReport``.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING

from neural_trader.brokers.base import Failure, VenueError, VenueOrder
from neural_trader.brokers.events import OrderUnresolved, PositionMismatch, ReconciliationReport
from neural_trader.brokers.tracking import Tracked

if TYPE_CHECKING:
    from neural_trader.brokers.connection import VenueConnection
    from neural_trader.brokers.pool import BrokerPool

ZERO = Decimal(0)


class Reconciler:
    def __init__(self, pool: BrokerPool) -> None:
        self.pool = pool
        self._locks: dict[str, asyncio.Lock] = {}
        # Latest positions of each venue, by symbol, for the cross-venue comparison.
        self.positions: dict[str, dict[str, Decimal]] = {}

    async def run(self, venue: VenueConnection) -> ReconciliationReport:
        pool = self.pool
        book = pool.book
        report = ReconciliationReport(venue.name, pool.clock.now_ns())
        tracked = book.open_on(venue.name)
        since = venue.last_fill_ns - pool.settings.fill_overlap_ns if venue.last_fill_ns else 0
        if not venue.last_fill_ns:
            created = [t.order.ts_created for t in tracked if t.order.ts_created > 0]
            since = min([pool.started_ns - pool.settings.fill_overlap_ns, *created])
        # Orders whose send outcome is unknown first: their venue ids place the fills below.
        settled = {t.order.client_order_id for t in tracked if t.send_unknown}
        for t in tracked:
            if t.send_unknown:
                await self._settle(venue, t, report)
        symbols = sorted({t.order.symbol for t in tracked} | self._held_symbols(venue.name))
        fills = await venue.call(lambda c: c.fills(max(0, since), symbols), probe=True)
        for fill in sorted(fills, key=lambda f: f.ts):
            if book.apply_fill(venue.name, fill):
                report.fills_applied += 1
                venue.last_fill_ns = max(venue.last_fill_ns, fill.ts)
        listed = await self._open_orders(venue, report)
        for order in listed:
            if book.apply_order(venue.name, order):
                report.orders_updated += 1
            else:
                report.foreign_orders.append(order.client_order_id or order.venue_order_id)
        seen = {o.client_order_id for o in listed} | settled
        for t in book.open_on(venue.name):
            if t.order.client_order_id not in seen:
                await self._settle(venue, t, report)
        foreign = book.report_foreign_fills(venue.name)
        if foreign:
            report.mismatches.extend(f"foreign fill {fill_id}" for fill_id in foreign)
        if pool.ledger is not None:
            await self._positions(venue, report)
        pool.bus.publish(report)
        return report

    async def _open_orders(
        self, venue: VenueConnection, report: ReconciliationReport
    ) -> list[VenueOrder]:
        try:
            return await venue.call(lambda c: c.open_orders(), probe=True)
        except VenueError as exc:
            if exc.failure is not Failure.UNKNOWN_STATE:
                raise
            self.pool.unknown_state(venue, exc)
            report.unresolved.append(str(exc.context.get("order", "")))
            return []

    async def _settle(
        self, venue: VenueConnection, tracked: Tracked, report: ReconciliationReport
    ) -> None:
        cid = tracked.order.client_order_id
        try:
            resent = await self.resolve(venue, tracked, probe=True)
        except VenueError as exc:
            if exc.failure is not Failure.UNKNOWN_STATE:
                raise
            self.pool.unknown_state(venue, exc)
            report.unresolved.append(cid)
            return
        if resent:
            report.resent.append(cid)
        if tracked.waiting_for_fills or (not tracked.terminal and tracked.venue_order_id is None):
            report.unresolved.append(cid)

    async def resolve(self, venue: VenueConnection, tracked: Tracked, probe: bool) -> bool:
        """Establish ``tracked``'s fate at the venue; True when it had to be sent again. One
        resolution per order at a time, so two paths cannot both decide to resend."""
        cid = tracked.order.client_order_id
        symbol = tracked.order.symbol
        lock = self._locks.setdefault(cid, asyncio.Lock())
        async with lock:
            found = await venue.call(lambda c: c.get_order(cid, symbol), probe=probe)
            if found is not None:
                tracked.send_unknown = False
                self.pool.book.apply_order(venue.name, found)
                return False
            if not tracked.send_unknown:
                self.pool.bus.publish(
                    OrderUnresolved(venue.name, tracked.order, "the venue has no such order")
                )
                return False
            try:
                placed = await venue.call(
                    lambda c: c.place_order(tracked.order), write=True, probe=probe
                )
            except VenueError as exc:
                if exc.failure is not Failure.DUPLICATE:
                    raise
                again = await venue.call(lambda c: c.get_order(cid, symbol), probe=probe)
                if again is None:
                    raise
                placed = again
            tracked.send_unknown = False
            self.pool.book.apply_order(venue.name, placed)
            return True

    def _held_symbols(self, venue: str) -> set[str]:
        ledger = self.pool.ledger
        if ledger is None:
            return set()
        return {p.symbol for p in ledger.open_positions() if venue in self._route(p.symbol)}

    def _route(self, symbol: str) -> tuple[str, ...]:
        try:
            return self.pool.route(symbol)
        except VenueError:
            return ()

    async def _positions(self, venue: VenueConnection, report: ReconciliationReport) -> None:
        held = await venue.call(lambda c: c.positions(), probe=True)
        self.positions[venue.name] = {p.symbol: p.quantity for p in held}
        symbols = set(self.positions[venue.name]) | self._held_symbols(venue.name)
        for symbol in sorted(symbols):
            route = self._route(symbol) or (venue.name,)
            at_venues = sum(
                (self.positions.get(name, {}).get(symbol, ZERO) for name in route), ZERO
            )
            ours = self.pool.ledger_quantity(symbol)
            if at_venues != ours:
                report.mismatches.append(symbol)
                self.pool.bus.publish(PositionMismatch(venue.name, symbol, ours, at_venues))
