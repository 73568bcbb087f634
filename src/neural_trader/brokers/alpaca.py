"""Alpaca (US equities and crypto) on its maintained SDK, ``alpaca-py``; paper endpoint unless
``paper_trading = false``.

The SDK's TradingClient runs over ``requests`` in a worker thread (see ``SyncCalls``). It is
built with ``raw_data=True`` so that prices and quantities arrive as the JSON strings the API
sends and are read into exact Decimals here. Two SDK defaults are changed, both on the client's
own session, because the pool owns them: the SDK would sleep 3 s and retry a 429 or 504 up to
three times (the pool rate-limits and backs off per venue instead), and ``requests`` would wait
forever for an answer (every request gets ``timeout_s``). The SDK has no public switch for
either, so the adapter sets them once in :func:`_own_transport`.

Fills come from the account activities endpoint (``/v2/account/activities/FILL``), which lists
executions with their venue order id; order states map through :data:`STATUSES` (Alpaca's
documented order states), errors through :data:`ERRORS` (its documented codes and messages).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide as AlpacaSide
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.enums import TimeInForce as AlpacaTif
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    OrderRequest,
    ReplaceOrderRequest,
    StopLimitOrderRequest,
    StopOrderRequest,
)
from pydantic import SecretStr
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

from neural_trader.brokers.base import (
    Account,
    Broker,
    Capabilities,
    ErrorRule,
    Failure,
    Health,
    StatusTable,
    SyncCalls,
    VenueError,
    VenueFill,
    VenueOrder,
    VenuePosition,
    classify,
    decimal_field,
    iso_ns,
    optional_decimal,
    reply_list,
    reply_object,
)
from neural_trader.core.instruments import AssetClass
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce

VENUE = "alpaca"
S = OrderStatus
# https://docs.alpaca.markets/docs/orders-at-alpaca#order-lifecycle
STATUSES = StatusTable(
    VENUE,
    {
        "pending_new": S.SUBMITTED,  # routed, not yet acknowledged by the exchange
        "accepted": S.SUBMITTED,  # received by Alpaca, not yet routed (may still be rejected)
        "accepted_for_bidding": S.SUBMITTED,
        "pending_review": S.SUBMITTED,
        "new": S.ACCEPTED,
        "held": S.ACCEPTED,  # waiting for a trigger (bracket legs)
        "stopped": S.ACCEPTED,  # a fill is guaranteed but has not happened
        "suspended": S.ACCEPTED,  # not eligible for trading for now, still working
        "pending_cancel": S.ACCEPTED,
        "pending_replace": S.ACCEPTED,
        "done_for_day": S.ACCEPTED,  # no more fills today, works again tomorrow
        "calculated": S.ACCEPTED,  # done for the day, settlement pending
        "partially_filled": S.PARTIALLY_FILLED,
        "filled": S.FILLED,
        "canceled": S.CANCELED,
        "replaced": S.CANCELED,  # closed; the order that replaced it carries on
        "expired": S.EXPIRED,
        "rejected": S.REJECTED,
    },
)
# https://docs.alpaca.markets/reference/postorder (error responses); first match wins.
ERRORS = (
    ErrorRule(Failure.DUPLICATE, contains="client_order_id must be unique"),
    ErrorRule(Failure.INSUFFICIENT_FUNDS, contains="insufficient"),
    ErrorRule(Failure.RATE_LIMITED, status=429),
    ErrorRule(Failure.NOT_FOUND, status=404),
    ErrorRule(Failure.AUTH, status=401),
    ErrorRule(Failure.AUTH, status=403, contains="forbidden"),
    ErrorRule(Failure.REJECTED, status=403),  # e.g. shorting not allowed, trading blocked
    ErrorRule(Failure.REJECTED, status=422),  # invalid qty/price, market closed, ...
    ErrorRule(Failure.INVALID, status=400),
)
CAPABILITIES = Capabilities(
    order_types=frozenset(OrderType),
    time_in_force=frozenset(TimeInForce),
    asset_classes=frozenset({AssetClass.EQUITY, AssetClass.CRYPTO}),
    fractional=True,
    shorting=True,
    extended_hours=True,
    replace=True,
    market_data=False,
    sandbox=True,
    requests_per_s=200 / 60,  # 200 requests per minute per account
    burst=10,
)
_SIDES = {"buy": OrderSide.BUY, "sell": OrderSide.SELL}
_TYPES = {t.value: t for t in OrderType}
_CRYPTO_QUOTES = ("USDT", "USDC", "USD", "BTC")


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request a timeout and makes ``requests`` itself never retry."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(max_retries=0)
        self.timeout_s = timeout_s

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> Response:
        return super().send(
            request,
            stream=stream,
            timeout=self.timeout_s if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


def _own_transport(client: TradingClient, timeout_s: float) -> None:
    """One attempt per call, bounded in time (see the module doc for why)."""
    client._retry = 0
    adapter = _TimeoutAdapter(timeout_s)
    client._session.mount("https://", adapter)
    client._session.mount("http://", adapter)


def translate(exc: Exception) -> VenueError:
    """An SDK or transport exception as one of ours; the message is the venue's, never a
    header (the keys travel in headers only)."""
    if isinstance(exc, APIError):
        status = exc.status_code
        text = str(exc)
        code: str | None = None
        message = text
        try:
            body = json.loads(text)
        except ValueError:
            body = None  # e.g. a proxy's HTML error page: the status still says what happened
        if isinstance(body, dict):
            code = None if body.get("code") is None else str(body["code"])
            message = str(body.get("message", text))
        failure = classify(ERRORS, status, code, message)
        return VenueError(
            f"{VENUE}: {message[:300]}", failure, venue=VENUE, status=status, code=code
        )
    if isinstance(exc, ValueError):  # requests' JSONDecodeError: a 2xx whose body is not JSON
        return VenueError(f"{VENUE} sent a reply that is not JSON", Failure.MALFORMED, venue=VENUE)
    if isinstance(exc, requests.Timeout):
        return VenueError(f"{VENUE} timed out: {type(exc).__name__}", Failure.TIMEOUT, venue=VENUE)
    if isinstance(exc, requests.ConnectionError):
        return VenueError(f"{VENUE} connection failed", Failure.UNAVAILABLE, venue=VENUE)
    return VenueError(
        f"{VENUE} reply could not be read: {type(exc).__name__}: {exc}",
        Failure.MALFORMED,
        venue=VENUE,
    )


_mapping = functools.partial(reply_object, venue=VENUE)
_list = functools.partial(reply_list, venue=VENUE)


def _symbol(raw: str, asset_class: str | None) -> str:
    """Alpaca names crypto pairs BTC/USD in orders but BTCUSD in positions and activities."""
    if asset_class == "crypto" and "/" not in raw:
        for quote in _CRYPTO_QUOTES:
            if raw.endswith(quote) and len(raw) > len(quote):
                return f"{raw[: -len(quote)]}/{quote}"
    return raw


def parse_order(data: Any) -> VenueOrder:
    d = _mapping(data, "order")
    cid = str(d.get("client_order_id") or "")
    qty = decimal_field(d, "qty", VENUE)
    filled = decimal_field(d, "filled_qty", VENUE, "0")
    side = _SIDES.get(str(d.get("side")))
    kind = _TYPES.get(str(d.get("type") or d.get("order_type")))
    if side is None or kind is None or not d.get("id") or "status" not in d:
        raise VenueError(
            f"{VENUE} order lacks id, status, a known side or type", Failure.MALFORMED, venue=VENUE
        )
    raw = str(d["status"])
    stamp = d.get("updated_at") or d.get("submitted_at") or d.get("created_at")
    return VenueOrder(
        client_order_id=cid,
        venue_order_id=str(d["id"]),
        symbol=_symbol(str(d.get("symbol")), d.get("asset_class")),
        side=side,
        quantity=qty,
        filled_quantity=filled,
        status=STATUSES.map(raw, qty, filled, cid),
        venue_status=raw,
        order_type=kind,
        avg_price=optional_decimal(d, "filled_avg_price", VENUE),
        limit_price=optional_decimal(d, "limit_price", VENUE),
        stop_price=optional_decimal(d, "stop_price", VENUE),
        ts=iso_ns(stamp, VENUE) if stamp else 0,
        reason=raw if raw == "rejected" else "",
    )


def parse_fill(data: Any) -> VenueFill:
    d = _mapping(data, "fill activity")
    side = _SIDES.get(str(d.get("side")))
    if side is None or not d.get("id") or not d.get("order_id"):
        raise VenueError(f"{VENUE} fill lacks id, order_id or side", Failure.MALFORMED, venue=VENUE)
    symbol = str(d.get("symbol"))
    return VenueFill(
        fill_id=str(d["id"]),
        venue_order_id=str(d["order_id"]),
        client_order_id=None,  # activities carry the venue's order id only
        symbol=_symbol(symbol, "crypto" if symbol.endswith(_CRYPTO_QUOTES) else None),
        side=side,
        quantity=decimal_field(d, "qty", VENUE),
        price=decimal_field(d, "price", VENUE),
        commission=Decimal(0),  # Alpaca charges no commission on these fills
        ts=iso_ns(d.get("transaction_time"), VENUE),
    )


def _request(order: Order) -> OrderRequest:
    common: dict[str, Any] = {
        "symbol": order.symbol,
        "qty": float(order.quantity),
        "side": AlpacaSide.BUY if order.side is OrderSide.BUY else AlpacaSide.SELL,
        "time_in_force": AlpacaTif(order.time_in_force.value),
        "client_order_id": order.client_order_id,
    }
    kind = order.order_type
    if kind is OrderType.MARKET:
        return MarketOrderRequest(**common)
    if kind is OrderType.LIMIT:
        return LimitOrderRequest(limit_price=float(order.limit_price or 0), **common)
    if kind is OrderType.STOP:
        return StopOrderRequest(stop_price=float(order.stop_price or 0), **common)
    return StopLimitOrderRequest(
        limit_price=float(order.limit_price or 0), stop_price=float(order.stop_price or 0), **common
    )


class AlpacaBroker(Broker):
    capabilities = CAPABILITIES

    def __init__(
        self,
        api_key: SecretStr,
        api_secret: SecretStr,
        paper: bool = True,
        base_url: str | None = None,
        timeout_s: float = 10.0,
        name: str = VENUE,
    ) -> None:
        self.name = name
        self.paper = paper
        self._key = api_key
        self._secret = api_secret
        self._base_url = base_url
        self._timeout_s = timeout_s
        self._calls = SyncCalls(name, translate, timeout_s)
        self._client: TradingClient | None = None

    def __repr__(self) -> str:
        return f"AlpacaBroker(name={self.name!r}, paper={self.paper})"

    def _new_client(self) -> TradingClient:
        client = TradingClient(
            self._key.get_secret_value(),
            self._secret.get_secret_value(),
            paper=self.paper,
            raw_data=True,
            url_override=self._base_url,
        )
        _own_transport(client, self._timeout_s)
        return client

    @property
    def client(self) -> TradingClient:
        if self._client is None:
            raise VenueError(f"{self.name} is not connected", Failure.UNAVAILABLE, venue=self.name)
        return self._client

    async def connect(self) -> None:
        self._client = self._new_client()
        await self.account()  # proves the keys work

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client._session.close()

    async def health(self) -> Health:
        started = time.perf_counter()
        clock = _mapping(await self._calls.run(self.client.get_clock), "clock")
        state = "market open" if clock.get("is_open") else "market closed"
        return Health(self.name, True, time.perf_counter() - started, state)

    async def account(self) -> Account:
        d = _mapping(await self._calls.run(self.client.get_account), "account")
        return Account(
            venue=self.name,
            currency=str(d.get("currency") or "USD"),
            cash=decimal_field(d, "cash", VENUE),
            buying_power=decimal_field(d, "buying_power", VENUE),
            equity=optional_decimal(d, "equity", VENUE),
        )

    async def positions(self) -> list[VenuePosition]:
        rows = _list(await self._calls.run(self.client.get_all_positions), "positions")
        out = []
        for row in rows:
            d = _mapping(row, "position")
            qty = abs(decimal_field(d, "qty", VENUE))
            if d.get("side") == "short":
                qty = -qty
            symbol = _symbol(str(d.get("symbol")), d.get("asset_class"))
            out.append(VenuePosition(symbol, qty, optional_decimal(d, "avg_entry_price", VENUE)))
        return out

    async def place_order(self, order: Order) -> VenueOrder:
        try:
            request = _request(order)
        except ValueError as exc:  # the SDK's own validation of the request
            raise VenueError(
                f"{self.name} cannot express {order!r}: {exc}",
                Failure.INVALID,
                venue=self.name,
                order=order.client_order_id,
            ) from None
        return parse_order(await self._calls.run(self.client.submit_order, request))

    async def get_order(self, client_order_id: str, symbol: str = "") -> VenueOrder | None:
        try:
            raw = await self._calls.run(self.client.get_order_by_client_id, client_order_id)
        except VenueError as exc:
            if exc.failure is Failure.NOT_FOUND:
                return None
            raise
        return parse_order(raw)

    async def cancel_order(self, client_order_id: str, symbol: str = "") -> None:
        venue_id = await self.venue_order_id(client_order_id)
        await self._calls.run(self.client.cancel_order_by_id, venue_id)

    async def replace_order(
        self,
        client_order_id: str,
        new_client_order_id: str,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> VenueOrder:
        if quantity is not None and quantity != quantity.to_integral_value():
            raise VenueError(
                f"{self.name} replaces whole quantities only, got {quantity}",
                Failure.UNSUPPORTED,
                venue=self.name,
            )
        venue_id = await self.venue_order_id(client_order_id)
        change = ReplaceOrderRequest(
            qty=None if quantity is None else int(quantity),
            limit_price=None if limit_price is None else float(limit_price),
            stop_price=None if stop_price is None else float(stop_price),
            client_order_id=new_client_order_id,
        )
        return parse_order(await self._calls.run(self.client.replace_order_by_id, venue_id, change))

    async def open_orders(self) -> list[VenueOrder]:
        query = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500)
        rows = _list(await self._calls.run(self.client.get_orders, query), "orders")
        return [parse_order(row) for row in rows]

    async def fills(self, since_ns: int, symbols: Sequence[str]) -> list[VenueFill]:
        """Every FILL activity since ``since_ns``, oldest first, following the page tokens."""
        after = datetime.fromtimestamp(since_ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        params: dict[str, Any] = {"after": after, "direction": "asc", "page_size": 100}
        out: list[VenueFill] = []
        while True:
            rows = _list(
                await self._calls.run(self.client.get, "/account/activities/FILL", dict(params)),
                "activities",
            )
            out += [parse_fill(row) for row in rows]
            if len(rows) < params["page_size"]:
                return out
            params["page_token"] = str(_mapping(rows[-1], "fill activity")["id"])
