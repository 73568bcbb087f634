"""The broker port: what every venue adapter offers the pool, asynchronously, in our own types.

An adapter translates one venue's SDK or HTTP API into the records below and its failures into
:class:`VenueError`, whose :class:`Failure` says what went wrong in terms the pool acts on:

* order states map onto :class:`~neural_trader.core.orders.OrderStatus` through a
  :class:`StatusTable` per venue; a state the table does not list raises
  ``VenueError(UNKNOWN_STATE)`` naming the raw state, so nothing is guessed or dropped;
* venue errors map through an ordered tuple of :class:`ErrorRule` (HTTP status, venue code,
  message fragment), first match wins, so the mapping is a table that can be read and tested;
* client order ids are the idempotency key: placing an order whose id the venue already knows
  never makes a second order (the venue refuses it as ``DUPLICATE`` and the pool adopts the one
  it has).

Sync SDKs run in a worker thread through :class:`SyncCalls`, one call at a time per client (the
SDKs keep per-client state such as nonces and sessions that is not thread-safe).
"""

from __future__ import annotations

import asyncio
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

import httpx

from neural_trader.brokers.resilience import TokenBucket
from neural_trader.core.instruments import AssetClass
from neural_trader.core.market_data import Bar, QuoteTick
from neural_trader.core.orders import OPEN, Order, OrderSide, OrderStatus, OrderType, TimeInForce
from neural_trader.errors import BrokerError

T = TypeVar("T")


class Failure(StrEnum):
    """Why a venue call failed, as the pool needs to know it."""

    REJECTED = "rejected"  # the venue refused this order (price, symbol, market closed, ...)
    INSUFFICIENT_FUNDS = "insufficient_funds"
    DUPLICATE = "duplicate"  # the client order id is already known to the venue
    NOT_FOUND = "not_found"
    INVALID = "invalid"  # the request itself was malformed in the venue's eyes
    AUTH = "auth"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"  # 5xx, maintenance, connection refused or reset
    TIMEOUT = "timeout"  # no answer in time: the outcome of a write is unknown
    MALFORMED = "malformed"  # an answer we cannot interpret (not JSON, missing fields)
    UNKNOWN_STATE = "unknown_state"  # an order state the venue's table does not list
    UNSUPPORTED = "unsupported"  # the venue (or this adapter) does not offer it
    CIRCUIT_OPEN = "circuit_open"  # the pool holds calls back while the venue recovers
    NO_ROUTE = "no_route"


TRANSIENT = frozenset({Failure.RATE_LIMITED, Failure.UNAVAILABLE, Failure.TIMEOUT})


class VenueError(BrokerError):
    """A venue call failed; ``failure`` says how, the context says where (never a secret)."""

    def __init__(self, message: str, failure: Failure, **context: Any) -> None:
        super().__init__(message, **context)
        self.failure = failure
        self.context.setdefault("failure", failure.value)

    @property
    def transient(self) -> bool:
        """Worth retrying later; for a write it also means the outcome is unknown."""
        return self.failure in TRANSIENT


# -- records ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a venue accepts; the pool checks an order against it before sending."""

    order_types: frozenset[OrderType]
    time_in_force: frozenset[TimeInForce]
    asset_classes: frozenset[AssetClass]
    fractional: bool
    shorting: bool
    extended_hours: bool
    replace: bool
    market_data: bool
    sandbox: bool  # the venue offers a paper/test environment
    requests_per_s: float  # the venue's documented request budget
    burst: int = 1
    max_connections: int = 4

    def check(self, order: Order, venue: str) -> None:
        """Refuse, before anything is sent, an order this venue cannot take."""
        where = {"venue": venue, "order": order.client_order_id}
        if order.order_type not in self.order_types:
            raise VenueError(
                f"{venue} does not take {order.order_type.value} orders",
                Failure.UNSUPPORTED,
                **where,
            )
        if order.time_in_force not in self.time_in_force:
            raise VenueError(
                f"{venue} does not take time in force {order.time_in_force.value}",
                Failure.UNSUPPORTED,
                **where,
            )
        if not self.fractional and order.quantity != order.quantity.to_integral_value():
            raise VenueError(
                f"{venue} takes whole quantities only, got {order.quantity}",
                Failure.UNSUPPORTED,
                **where,
            )

    def describe(self) -> dict[str, Any]:
        """A JSON-able view (the CLI prints it)."""
        return {
            "order_types": sorted(t.value for t in self.order_types),
            "time_in_force": sorted(t.value for t in self.time_in_force),
            "asset_classes": sorted(a.value for a in self.asset_classes),
            "fractional": self.fractional,
            "shorting": self.shorting,
            "extended_hours": self.extended_hours,
            "replace": self.replace,
            "market_data": self.market_data,
            "sandbox": self.sandbox,
            "requests_per_s": self.requests_per_s,
        }


@dataclass(frozen=True, slots=True)
class Account:
    venue: str
    currency: str
    cash: Decimal
    buying_power: Decimal
    equity: Decimal | None = None


@dataclass(frozen=True, slots=True)
class VenuePosition:
    """The venue's net quantity (negative for a short) in our symbol."""

    symbol: str
    quantity: Decimal
    avg_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """The venue's view of one order, with its state already mapped onto ours."""

    client_order_id: str
    venue_order_id: str
    symbol: str
    side: OrderSide
    quantity: Decimal
    filled_quantity: Decimal
    status: OrderStatus
    venue_status: str
    order_type: OrderType = OrderType.MARKET
    avg_price: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    ts: int = 0
    reason: str = ""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @classmethod
    def acknowledged(
        cls, order: Order, venue_order_id: str, venue_status: str = "acknowledged", ts: int = 0
    ) -> VenueOrder:
        """A placement the venue answered with an id only: submitted, nothing filled; its
        state comes with the next update."""
        return cls(
            client_order_id=order.client_order_id,
            venue_order_id=venue_order_id,
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            filled_quantity=Decimal(0),
            status=OrderStatus.SUBMITTED,
            venue_status=venue_status,
            order_type=order.order_type,
            limit_price=order.limit_price,
            stop_price=order.stop_price,
            ts=ts,
        )


@dataclass(frozen=True, slots=True)
class VenueFill:
    """One execution as the venue reports it; ``fill_id`` is the venue's, unique per venue."""

    fill_id: str
    venue_order_id: str
    client_order_id: str | None
    symbol: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    commission: Decimal
    ts: int
    liquidity: str = "taker"


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """One item of the update stream: a new order state, a fill, or both."""

    order: VenueOrder | None = None
    fill: VenueFill | None = None


@dataclass(frozen=True, slots=True)
class Health:
    venue: str
    ok: bool
    latency_s: float
    detail: str = ""


# -- mapping tables ---------------------------------------------------------------------------
@dataclass(frozen=True)
class StatusTable:
    """A venue's order states onto ours. Fill quantities refine the result: an open order with
    some quantity filled is PARTIALLY_FILLED, one with all of it filled is FILLED."""

    venue: str
    table: Mapping[str, OrderStatus]

    def map(
        self, raw: str, quantity: Decimal, filled: Decimal, client_order_id: str = ""
    ) -> OrderStatus:
        status = self.table.get(raw)
        if status is None:
            raise VenueError(
                f"{self.venue} reported order state {raw!r}, which its state table does not list",
                Failure.UNKNOWN_STATE,
                venue=self.venue,
                order=client_order_id,
                state=raw,
            )
        if status in OPEN and filled > 0:
            return OrderStatus.FILLED if filled >= quantity else OrderStatus.PARTIALLY_FILLED
        return status


@dataclass(frozen=True, slots=True)
class ErrorRule:
    """Matches a venue error by HTTP status, venue error code and/or message fragment (all that
    are set must match; the fragment case-insensitively)."""

    failure: Failure
    status: int | None = None
    code: str | None = None
    contains: str | None = None

    def matches(self, status: int | None, code: str | None, message: str) -> bool:
        return (
            (self.status is None or self.status == status)
            and (self.code is None or self.code == code)
            and (self.contains is None or self.contains.lower() in message.lower())
        )


def classify(
    rules: Sequence[ErrorRule], status: int | None, code: str | None, message: str
) -> Failure:
    """The first rule that matches; an error no rule covers is ``UNAVAILABLE`` for a 5xx and
    ``REJECTED`` otherwise (the venue said no, for a reason it gave in ``message``)."""
    for rule in rules:
        if rule.matches(status, code, message):
            return rule.failure
    return Failure.UNAVAILABLE if status is not None and status >= 500 else Failure.REJECTED


def reply_object(data: Any, what: str, venue: str, label: str = "") -> Mapping[str, Any]:
    """``data`` if it is a JSON object, else ``MALFORMED`` (``label``: how the message names
    the venue, e.g. one side of it; the venue's name by default)."""
    if not isinstance(data, Mapping):
        raise VenueError(
            f"{label or venue} {what} is not an object", Failure.MALFORMED, venue=venue
        )
    return data


def reply_list(data: Any, what: str, venue: str, label: str = "") -> list[Any]:
    """``data`` if it is a JSON array, else ``MALFORMED``."""
    if not isinstance(data, list):
        raise VenueError(f"{label or venue} {what} is not a list", Failure.MALFORMED, venue=venue)
    return data


def missing_order(venue: str, client_order_id: str, label: str = "") -> VenueError:
    """The venue has no order under our id."""
    return VenueError(
        f"{label or venue} has no order {client_order_id}",
        Failure.NOT_FOUND,
        venue=venue,
        order=client_order_id,
    )


async def http_response(
    call: Callable[[], Awaitable[httpx.Response]], venue: str, timeout_s: float, label: str = ""
) -> httpx.Response:
    """One HTTP call of an adapter that speaks the venue's REST API through httpx, bounded by
    ``timeout_s`` (a second more than the client's own timeout, in case it is not enforced),
    its transport failures as ours: a timeout is TIMEOUT, a broken connection UNAVAILABLE
    (both transient). The reply is returned whatever its status."""
    name = label or venue
    try:
        async with asyncio.timeout(timeout_s + 1.0):
            return await call()
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise VenueError(
            f"{name} did not answer within {timeout_s:g} s ({type(exc).__name__})",
            Failure.TIMEOUT,
            venue=venue,
        ) from None
    except httpx.TransportError as exc:
        raise VenueError(
            f"{name} connection failed: {type(exc).__name__}", Failure.UNAVAILABLE, venue=venue
        ) from None


def decimal_field(
    data: Mapping[str, Any], key: str, venue: str, default: str | None = None
) -> Decimal:
    """``data[key]`` as an exact Decimal; a missing or non-numeric value is ``MALFORMED``."""
    value = data.get(key, default)
    if value is None:
        raise VenueError(f"{venue} reply lacks {key!r}", Failure.MALFORMED, venue=venue, key=key)
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise VenueError(
            f"{venue} reply has a non-numeric {key!r}: {value!r}",
            Failure.MALFORMED,
            venue=venue,
            key=key,
        ) from None
    if not out.is_finite():
        raise VenueError(f"{venue} reply has {key}={value}", Failure.MALFORMED, venue=venue)
    return out


_ISO = re.compile(
    r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(\d{1,9})\d*)?(Z|[+-]\d{2}:\d{2})?$"
)


def iso_ns(text: Any, venue: str) -> int:
    """An ISO 8601 timestamp (``2021-03-16T18:38:01.942282Z``, up to nanoseconds; UTC unless
    it carries an offset) as integer nanoseconds since the epoch."""
    match = _ISO.match(text) if isinstance(text, str) else None
    if match is None:
        raise VenueError(
            f"{venue} reply has a bad timestamp {text!r}", Failure.MALFORMED, venue=venue
        )
    whole, frac, zone = match.groups()
    offset = "+00:00" if zone in (None, "Z") else zone
    seconds = int(datetime.fromisoformat(whole + offset).timestamp())
    return seconds * 1_000_000_000 + int((frac or "").ljust(9, "0"))


def optional_decimal(data: Mapping[str, Any], key: str, venue: str) -> Decimal | None:
    return None if data.get(key) in (None, "") else decimal_field(data, key, venue)


# -- running a sync SDK -----------------------------------------------------------------------
class SyncCalls:
    """Runs a sync SDK's calls in a worker thread, one at a time, each bounded by ``timeout_s``
    and with its exceptions translated by ``translate`` into :class:`VenueError`."""

    def __init__(
        self, venue: str, translate: Callable[[Exception], VenueError], timeout_s: float
    ) -> None:
        self.venue = venue
        self._translate = translate
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        # The pool's per-venue request budget; every request takes a token before it goes out.
        self.bucket: TokenBucket | None = None

    def _locked(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            return fn(*args)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self.bucket is not None:
            await self.bucket.acquire()
        try:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for drops a cancellation that
            # arrives as the call completes, which left the pool's stream running after stop().
            async with asyncio.timeout(self._timeout_s + 1.0):
                return await asyncio.to_thread(self._locked, fn, *args)
        except VenueError:
            raise
        except TimeoutError:
            raise VenueError(
                f"{self.venue} did not answer within {self._timeout_s:g} s",
                Failure.TIMEOUT,
                venue=self.venue,
            ) from None
        except Exception as exc:  # every SDK failure becomes one of ours, with its context
            raise self._translate(exc) from exc


# -- the port ---------------------------------------------------------------------------------
@dataclass
class PollState:
    """What the polling update stream has already reported."""

    since_ns: int
    open_seen: dict[str, VenueOrder] = field(default_factory=dict)


class Broker(ABC):
    """One connection to one venue. All methods may raise :class:`VenueError`."""

    name: str
    capabilities: Capabilities
    poll_interval_s: float = 1.0

    def limit_rate(self, bucket: TokenBucket) -> None:
        """Take a token from ``bucket`` (shared by the venue's connections) for each request."""
        calls = getattr(self, "_calls", None)
        if isinstance(calls, SyncCalls):
            calls.bucket = bucket

    @abstractmethod
    async def connect(self) -> None:
        """Open (or re-open) the connection and check the credentials."""

    @abstractmethod
    async def close(self) -> None:
        """Release the connection; safe to call twice."""

    @abstractmethod
    async def health(self) -> Health:
        """A cheap round trip that proves the venue answers."""

    @abstractmethod
    async def account(self) -> Account: ...

    @abstractmethod
    async def positions(self) -> list[VenuePosition]: ...

    @abstractmethod
    async def place_order(self, order: Order) -> VenueOrder:
        """Send ``order`` under its client order id; a second send of the same id fails with
        ``DUPLICATE`` instead of making a second order."""

    @abstractmethod
    async def cancel_order(self, client_order_id: str, symbol: str) -> None:
        """Ask the venue to cancel; the outcome arrives as an order update. (``symbol``: some
        venues, e.g. exchanges, look orders up per market.)"""

    @abstractmethod
    async def get_order(self, client_order_id: str, symbol: str) -> VenueOrder | None:
        """The venue's view of our order, or None when the venue has no order with that id."""

    async def venue_order_id(self, client_order_id: str, symbol: str = "") -> str:
        """The venue's id of our order, looked up by ours (NOT_FOUND when it has none)."""
        found = await self.get_order(client_order_id, symbol)
        if found is None:
            raise missing_order(self.name, client_order_id)
        return found.venue_order_id

    @abstractmethod
    async def open_orders(self) -> list[VenueOrder]: ...

    @abstractmethod
    async def fills(self, since_ns: int, symbols: Sequence[str]) -> list[VenueFill]:
        """Executions at or after ``since_ns`` (for ``symbols`` where the venue needs them)."""

    async def replace_order(
        self,
        client_order_id: str,
        new_client_order_id: str,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> VenueOrder:
        """Change a working order; the venue answers with the order that replaces it."""
        raise VenueError(
            f"{self.name} does not replace orders; cancel and place a new one",
            Failure.UNSUPPORTED,
            venue=self.name,
        )

    async def bars(self, symbol: str, timeframe: str, start_ns: int, end_ns: int) -> list[Bar]:
        raise VenueError(
            f"{self.name} offers no bars through this adapter", Failure.UNSUPPORTED, venue=self.name
        )

    async def quote(self, symbol: str) -> QuoteTick:
        raise VenueError(
            f"{self.name} offers no quotes through this adapter",
            Failure.UNSUPPORTED,
            venue=self.name,
        )

    async def updates(
        self, since_ns: int, watched: Callable[[], Sequence[str]]
    ) -> AsyncIterator[OrderUpdate]:
        """Order updates and fills from ``since_ns`` on, for our orders in the symbols
        ``watched()`` names. This default polls the REST API every ``poll_interval_s``: new
        fills, then orders that changed or stopped being open. Items may repeat (a fill is
        identified by its id); an error ends the stream."""
        state = PollState(since_ns)
        while True:
            symbols = sorted({o.symbol for o in state.open_seen.values()} | set(watched()))
            for fill in sorted(await self.fills(state.since_ns, symbols), key=lambda f: f.ts):
                state.since_ns = max(state.since_ns, fill.ts)
                yield OrderUpdate(fill=fill)
            now_open = {o.client_order_id: o for o in await self.open_orders()}
            for cid, order in now_open.items():
                if state.open_seen.get(cid) != order:
                    yield OrderUpdate(order=order)
            for cid in set(state.open_seen) - set(now_open):
                final = await self.get_order(cid, state.open_seen[cid].symbol)
                if final is not None:
                    yield OrderUpdate(order=final)
            state.open_seen = now_open
            await asyncio.sleep(self.poll_interval_s)
