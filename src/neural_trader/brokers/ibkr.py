"""Interactive Brokers through TWS or IB Gateway, on the maintained ``ib-async`` client.

TWS has no API keys: the user logs in to TWS/Gateway, which listens on a socket (paper TWS
7497 by default, live TWS 7496, Gateway 4002/4001); we connect with a client id. ib-async is
asyncio native and runs on our event loop (no thread); every wait is bounded by
``asyncio.timeout``. One connection per venue (``max_connections=1``): ib-async keeps orders of
its own client id live, so reads on a second client id would see stale copies.

* **Our client order id** travels in the IB order's ``orderRef`` (IB has no idempotency key of
  its own; executions and completed orders carry the ref too). Before a place, the orders this
  session knows and TWS's open orders of every client are searched for that ref; a hit is
  ``DUPLICATE`` and nothing is sent. ``get_order`` searches the session, then open orders,
  then TWS's completed orders.
* **The venue order id** is IB's permanent id (``permId``), stable across sessions and client
  ids.
* **Failures.** TWS error messages map through :data:`~.ibkr_records.ERRORS` (codes and
  reasons); a dropped socket is UNAVAILABLE, no answer in time is TIMEOUT (the outcome of a
  place is then unknown, and the pool resolves it by ``orderRef``). A message ib-async could
  not decode (it logs and drops them) fails the call that is running or the next one with
  MALFORMED, so nothing is silently lost. While TWS reports its link to IB down (1100, until
  1101/1102), health is not ok and orders are refused as UNAVAILABLE.

Not supported yet: contracts other than US stocks (``Stock(symbol, "SMART", "USD")``; options,
futures, forex and non-USD listings are not placed, and positions in them are listed under
``"LOCALSYMBOL (SECTYPE)"``), fractional shares, outside-regular-hours orders, order replace
(cancel and place a new one), bars and quotes, and financial-advisor allocations. Fills come
from ``reqExecutions``, which TWS answers for the current day; a commission report that has
not arrived yet reads as zero commission.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

from ib_async import IB, RequestError, StartupFetch, Trade
from ib_async import util as ib_util

from neural_trader.brokers.base import (
    Account,
    Broker,
    Capabilities,
    Failure,
    Health,
    VenueError,
    VenueFill,
    VenueOrder,
    VenuePosition,
    missing_order,
)
from neural_trader.brokers.ibkr_records import (
    CANCELLED_CODE,
    LINK_LOST,
    LINK_RESTORED,
    VENUE,
    Endpoint,
    account_of,
    error,
    expressible,
    fill_of,
    find,
    order_of,
    position_of,
    request_of,
)
from neural_trader.brokers.resilience import TokenBucket
from neural_trader.core.instruments import AssetClass
from neural_trader.core.orders import Order, OrderType, TimeInForce

log = logging.getLogger(__name__)

CAPABILITIES = Capabilities(
    order_types=frozenset(OrderType),
    time_in_force=frozenset(TimeInForce),
    asset_classes=frozenset({AssetClass.EQUITY}),
    fractional=False,
    shorting=True,
    extended_hours=False,
    replace=False,
    market_data=False,
    sandbox=True,  # the paper account behind paper TWS/Gateway
    requests_per_s=40.0,  # TWS takes at most 50 messages a second from a client
    burst=10,
    max_connections=1,
)
# Startup sync: this client's open and completed orders and the day's executions, so that
# orders placed before a reconnect are found by their orderRef. Positions always come.
STARTUP = StartupFetch.ORDERS_OPEN | StartupFetch.ORDERS_COMPLETE | StartupFetch.EXECUTIONS
_WAITING = frozenset({"PendingSubmit", "ApiPending"})


class _Undecoded(logging.Handler):
    """Collects what ib-async's decoder logs at ERROR: messages it could not decode."""

    def __init__(self, seen: list[str]) -> None:
        super().__init__(logging.ERROR)
        self.seen = seen

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record.getMessage()[:300])


class IbkrBroker(Broker):
    capabilities = CAPABILITIES

    def __init__(
        self,
        where: Endpoint | None = None,
        timeout_s: float = 10.0,
        name: str = VENUE,
        poll_interval_s: float = 1.0,
    ) -> None:
        self.name = name
        self.where = where or Endpoint()
        self.account_id = self.where.account
        self.poll_interval_s = poll_interval_s
        self._timeout_s = timeout_s
        self._ib: IB | None = None
        self._lock = asyncio.Lock()
        self._bucket: TokenBucket | None = None
        self._wake = asyncio.Event()
        self._errors: dict[int, tuple[int, str]] = {}  # order id -> latest TWS error
        self._link_down = ""
        self._undecoded: list[str] = []
        self._skipped: set[int] = set()

    def __repr__(self) -> str:
        w = self.where
        return f"IbkrBroker(name={self.name!r}, {w.host}:{w.port}, client_id={w.client_id})"

    def limit_rate(self, bucket: TokenBucket) -> None:
        self._bucket = bucket

    # -- the session --------------------------------------------------------------------------
    async def connect(self) -> None:
        await self.close()
        _use_running_loop()
        ib = IB()
        ib.RaiseRequestErrors = True  # a request TWS refuses raises instead of returning []
        decoder_log = logging.Logger("ib_async.Decoder")
        decoder_log.parent = logging.getLogger("ib_async.Decoder")
        decoder_log.addHandler(_Undecoded(self._undecoded))
        ib.client.decoder.logger = decoder_log
        ib.errorEvent += self._on_error
        ib.updateEvent += self._wake.set
        ib.disconnectedEvent += self._wake.set
        self._errors.clear()
        self._undecoded.clear()
        self._link_down = ""
        w = self.where
        try:
            async with asyncio.timeout(self._timeout_s):
                await ib.connectAsync(
                    w.host,
                    w.port,
                    w.client_id,
                    timeout=self._timeout_s,
                    account=w.account,
                    raiseSyncErrors=True,
                    fetchFields=STARTUP,
                )
        except TimeoutError:
            ib.disconnect()
            raise VenueError(
                f"{self.name}: TWS at {w.host}:{w.port} did not complete the handshake within "
                f"{self._timeout_s:g} s",
                Failure.TIMEOUT,
                venue=self.name,
            ) from None
        except (ConnectionError, OSError) as exc:
            raise VenueError(
                f"{self.name}: cannot connect to TWS at {w.host}:{w.port}: {exc}",
                Failure.UNAVAILABLE,
                venue=self.name,
            ) from None
        try:
            self.account_id = self._pick_account(ib.managedAccounts())
        except VenueError:
            ib.disconnect()
            raise
        self._ib = ib
        self._raise_undecoded()

    def _pick_account(self, accounts: Sequence[str]) -> str:
        if self.where.account:
            if self.where.account not in accounts:
                raise VenueError(
                    f"{self.name}: account {self.where.account} is not among the accounts "
                    f"this TWS login manages: {', '.join(accounts)}",
                    Failure.INVALID,
                    venue=self.name,
                )
            return self.where.account
        if len(accounts) != 1:
            raise VenueError(
                f"{self.name}: TWS manages {len(accounts)} accounts ({', '.join(accounts)}); "
                "name one in extra.account",
                Failure.INVALID,
                venue=self.name,
            )
        return accounts[0]

    async def close(self) -> None:
        ib, self._ib = self._ib, None
        if ib is not None:
            ib.disconnect()

    def _on_error(self, req_id: int, code: int, text: str, contract: Any) -> None:
        if code == LINK_LOST:
            self._link_down = f"TWS error {code}: {text}"
        elif code in LINK_RESTORED:
            self._link_down = ""
        elif req_id >= 0 and not 2100 <= code < 2200:  # 21xx are notices
            self._errors[req_id] = (code, text)
        self._wake.set()

    def _session(self) -> IB:
        ib = self._ib
        if ib is None or not ib.isConnected():
            raise VenueError(f"{self.name} is not connected", Failure.UNAVAILABLE, venue=self.name)
        return ib

    def _raise_undecoded(self) -> None:
        if self._undecoded:
            first, count = self._undecoded[0], len(self._undecoded)
            self._undecoded.clear()
            raise VenueError(
                f"{self.name}: TWS sent {count} message(s) ib-async could not decode: {first}",
                Failure.MALFORMED,
                venue=self.name,
            )

    @contextlib.asynccontextmanager
    async def _guard(self, what: str) -> AsyncIterator[IB]:
        """One call at a time, bounded in time, with every failure translated."""
        ib = self._session()
        if self._bucket is not None:
            await self._bucket.acquire()
        async with self._lock:
            try:
                async with asyncio.timeout(self._timeout_s):
                    yield ib
            except VenueError:
                raise
            except TimeoutError:
                raise VenueError(
                    f"{self.name}: no answer to {what} within {self._timeout_s:g} s",
                    Failure.TIMEOUT,
                    venue=self.name,
                ) from None
            except RequestError as exc:
                raise error(exc.code, exc.message) from None
            except (ConnectionError, OSError) as exc:
                raise VenueError(
                    f"{self.name}: connection to TWS lost during {what}: {exc}",
                    Failure.UNAVAILABLE,
                    venue=self.name,
                ) from None
            self._raise_undecoded()

    async def _until(self, ib: IB, done: Callable[[], bool], what: str) -> None:
        """Wait (inside a guard's time bound) until ``done()``; a dropped socket or an
        undecodable message ends the wait with the failure it is."""
        while not done():
            self._raise_undecoded()
            if not ib.isConnected():
                raise VenueError(
                    f"{self.name}: connection to TWS dropped while waiting for {what}; "
                    "its outcome is unknown",
                    Failure.UNAVAILABLE,
                    venue=self.name,
                )
            self._wake.clear()
            await self._wake.wait()

    # -- reads --------------------------------------------------------------------------------
    async def health(self) -> Health:
        started = time.perf_counter()
        async with self._guard("a time request") as ib:
            now = await ib.reqCurrentTimeAsync()
        latency = time.perf_counter() - started
        if self._link_down:
            return Health(self.name, False, latency, self._link_down)
        return Health(self.name, True, latency, f"TWS time {now.isoformat()}")

    async def account(self) -> Account:
        async with self._guard("the account summary") as ib:
            values = await ib.accountSummaryAsync(self.account_id)
        return account_of(values, self.account_id, self.name)

    async def positions(self) -> list[VenuePosition]:
        async with self._guard("positions") as ib:
            rows = await ib.reqPositionsAsync()
        return [position_of(p) for p in rows if p.account == self.account_id and p.position]

    async def open_orders(self) -> list[VenueOrder]:
        async with self._guard("open orders") as ib:
            trades = await ib.reqAllOpenOrdersAsync()
        out = [self._report(t) for t in self._ours_to_describe(trades)]
        return [o for o in out if o.is_open]

    async def get_order(self, client_order_id: str, symbol: str = "") -> VenueOrder | None:
        async with self._guard(f"order {client_order_id}") as ib:
            trade = find(ib.trades(), client_order_id)
            if trade is None:
                trade = find(await ib.reqAllOpenOrdersAsync(), client_order_id)
            if trade is None:
                trade = find(await ib.reqCompletedOrdersAsync(True), client_order_id)
        return None if trade is None else self._report(trade)

    async def fills(self, since_ns: int, symbols: Sequence[str]) -> list[VenueFill]:
        """The day's executions (TWS keeps no older ones for the API) at or after
        ``since_ns``, filtered here: the filter's time field is read in TWS's local zone."""
        async with self._guard("executions") as ib:
            got = await ib.reqExecutionsAsync()
            live = {f.execution.execId: f for f in ib.fills()}
        out = [fill_of(f, live.get(f.execution.execId)) for f in got]
        return [f for f in out if f.ts >= since_ns]

    def _report(self, trade: Trade) -> VenueOrder:
        err = self._errors.get(trade.order.orderId) if trade.order.orderId else None
        text = f"TWS error {err[0]}: {err[1]}" if err and err[0] != CANCELLED_CODE else ""
        return order_of(trade, text)

    def _ours_to_describe(self, trades: Iterable[Trade]) -> list[Trade]:
        out = []
        for trade in trades:
            if expressible(trade):
                out.append(trade)
            elif trade.order.permId not in self._skipped:
                self._skipped.add(trade.order.permId)
                log.warning(
                    "%s: order %s of type %s (not placed by this adapter) is not listed",
                    self.name,
                    trade.order.permId,
                    trade.order.orderType,
                )
        return out

    # -- writes -------------------------------------------------------------------------------
    async def place_order(self, order: Order) -> VenueOrder:
        cid = order.client_order_id
        contract, ib_order = request_of(order, self.account_id, self.name)
        async with self._guard(f"placing {cid}") as ib:
            if self._link_down:
                raise VenueError(
                    f"{self.name}: not placing {cid}: {self._link_down}",
                    Failure.UNAVAILABLE,
                    venue=self.name,
                    order=cid,
                )
            known = find(ib.trades(), cid) or find(await ib.reqAllOpenOrdersAsync(), cid)
            if known is not None:
                raise VenueError(
                    f"{self.name} already has an order with orderRef {cid} "
                    f"(permId {known.order.permId})",
                    Failure.DUPLICATE,
                    venue=self.name,
                    order=cid,
                )
            trade = ib.placeOrder(contract, ib_order)
            oid = trade.order.orderId
            self._errors.pop(oid, None)
            await self._until(
                ib,
                lambda: trade.orderStatus.status not in _WAITING or oid in self._errors,
                f"the acknowledgement of {cid}",
            )
        refused = self._errors.get(oid)
        if refused is not None and trade.isDone() and not trade.fills:
            raise error(*refused, order=cid)
        return self._report(trade)

    async def cancel_order(self, client_order_id: str, symbol: str = "") -> None:
        cid = client_order_id
        async with self._guard(f"cancelling {cid}") as ib:
            trade = find(ib.trades(), cid) or find(await ib.reqAllOpenOrdersAsync(), cid)
            if trade is None:
                raise missing_order(self.name, cid)
            if trade.isDone():
                return  # nothing left to cancel; its final state is already known
            oid = trade.order.orderId
            self._errors.pop(oid, None)
            ib.cancelOrder(trade.order)
            await self._until(
                ib, lambda: trade.isDone() or oid in self._errors, f"the cancel of {cid}"
            )
        refused = self._errors.get(oid)
        if refused is not None and refused[0] != CANCELLED_CODE:
            raise error(*refused, order=cid)


def _use_running_loop() -> None:
    """ib-async caches the first event loop it is used on (``functools.cache`` on
    ``util.getLoop``) and schedules its socket and timers there; under a later loop (a second
    ``asyncio.run`` of a script, each test) it would use the closed one."""
    if ib_util.getLoop() is not asyncio.get_running_loop():
        ib_util.getLoop.cache_clear()
