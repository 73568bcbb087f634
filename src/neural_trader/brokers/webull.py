"""Webull (US equities) on Webull's official OpenAPI over ``httpx``; the UAT test environment
unless ``paper_trading = false``.

Webull's official SDKs (``webull-openapi-python-sdk``, ``webull-openapi-java-sdk``) are sync
clients that retry, sleep and poll for a 2FA token on their own; the pool owns those
decisions, so this adapter speaks the documented HTTP API itself and signs each request with
:mod:`neural_trader.brokers.webull_signing`. The paths, methods and ``x-version`` header are
the ones the official Python SDK sends (``AccountV2``, ``OrderOperationV3``):

* ``GET /openapi/account/list``, ``/openapi/assets/balance``, ``/openapi/assets/positions``;
* ``POST /openapi/trade/order/place`` and ``/openapi/trade/order/cancel``;
* ``GET /openapi/trade/order/detail`` (by client order id), ``/openapi/trade/order/open``.

Our client order id is Webull's ``client_order_id`` (Webull requires one per order and
refuses a second use), so the order is found, cancelled and deduplicated by our own id; a
refused place is checked against the venue (:meth:`WebullBroker._holds`) so that a reused id
comes back ``DUPLICATE`` whatever words the refusal uses. Fills come from the executions list
(``GET /trading/orders/executions/list``, x-version v2, paged by ``last_execution_id``, from
the official Java SDK), whose ``execution_id`` is the venue fill id; an execution record
carries no fee, so fills report zero commission (Webull's FAQ: API orders pay the app's
fee schedule; no fee is in the execution record, so none is booked per fill). Order
states map through :data:`STATUSES`, errors (Webull's ``{"error_code", "message"}`` body plus
the HTTP status) through :data:`ERRORS`.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from neural_trader.brokers.base import (
    Account,
    Broker,
    Capabilities,
    ErrorRule,
    Failure,
    Health,
    StatusTable,
    VenueError,
    VenueFill,
    VenueOrder,
    VenuePosition,
    classify,
    decimal_field,
    http_response,
    iso_ns,
    optional_decimal,
    reply_list,
    reply_object,
)
from neural_trader.brokers.resilience import TokenBucket
from neural_trader.brokers.webull_signing import WebullSigner
from neural_trader.core.instruments import AssetClass
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce

VENUE = "webull"
PRODUCTION_URL = "https://api.webull.com"
TEST_URL = "https://us-openapi-alb.uat.webullbroker.com"  # Webull's US test environment
API_VERSION = "v2"
PAGE_SIZE = 20  # the executions list's default page size in Webull's SDK
S = OrderStatus
# The order status enum of the order detail/history/open reference (developer.webull.com).
STATUSES = StatusTable(
    VENUE,
    {
        # Both are working orders that Webull says may still end FAILED (rejected), so both
        # stay SUBMITTED here: our state machine allows SUBMITTED -> REJECTED only.
        "SUBMITTED": S.SUBMITTED,  # submitted to Webull or the exchange
        "PENDING": S.SUBMITTED,  # at the exchange, awaiting completion
        "PARTIAL_FILLED": S.PARTIALLY_FILLED,
        "FILLED": S.FILLED,
        "CANCELLED": S.CANCELED,
        "FAILED": S.REJECTED,  # "a failed order, such as REJECTED"
    },
)
# Webull's error codes page and trading FAQ; first match wins. Status rules come before message
# fragments so that e.g. a 403 "insufficient permissions" is AUTH, not INSUFFICIENT_FUNDS.
ERRORS = (
    ErrorRule(Failure.RATE_LIMITED, code="TOO_MANY_REQUESTS"),
    ErrorRule(Failure.RATE_LIMITED, code="REQUEST_TOTAL_COUNT_EXCEEDED"),
    ErrorRule(Failure.RATE_LIMITED, status=429),
    ErrorRule(Failure.RATE_LIMITED, status=417),  # a throttle reply; not on Webull's error pages
    ErrorRule(Failure.AUTH, status=401),  # bad key, bad signature, missing/expired 2FA token
    ErrorRule(Failure.AUTH, status=403),  # missing headers, bad credentials, no permission
    ErrorRule(Failure.AUTH, code="INCORRECT_SIGN"),
    ErrorRule(Failure.AUTH, code="CLOCK_SKEW_EXCEEDED"),
    ErrorRule(Failure.UNAVAILABLE, code="SYSTEM_ERROR"),
    ErrorRule(Failure.UNAVAILABLE, code="INTERNAL_ERROR"),
    ErrorRule(Failure.UNAVAILABLE, code="GRPC_SYSTEM_ERROR"),
    ErrorRule(Failure.DUPLICATE, contains="duplicate"),
    ErrorRule(Failure.DUPLICATE, contains="already exist"),
    ErrorRule(Failure.INSUFFICIENT_FUNDS, contains="insufficient"),
    ErrorRule(Failure.INSUFFICIENT_FUNDS, contains="buying power"),
    ErrorRule(Failure.NOT_FOUND, status=404),
    ErrorRule(Failure.NOT_FOUND, code="ORDER_NOT_FOUND"),
    ErrorRule(Failure.NOT_FOUND, contains="order not found"),
    ErrorRule(Failure.NOT_FOUND, contains="order does not exist"),
    ErrorRule(Failure.INVALID, code="ILLEGAL_PARAMETER"),
)
CAPABILITIES = Capabilities(
    order_types=frozenset(OrderType),
    time_in_force=frozenset({TimeInForce.DAY, TimeInForce.GTC}),  # US stocks: DAY and GTC
    asset_classes=frozenset({AssetClass.EQUITY}),
    fractional=False,  # fractional US stock orders go by amount, which this adapter omits
    shorting=False,  # a short sale is side SHORT; the adapter sends BUY/SELL only
    extended_hours=False,  # orders go to the CORE session
    replace=False,
    market_data=False,
    sandbox=True,
    requests_per_s=1.0,  # order queries: 2 requests per 2 s per app key
    burst=2,
)
_TYPES = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.STOP: "STOP_LOSS",
    OrderType.STOP_LIMIT: "STOP_LOSS_LIMIT",
}
_OUR_TYPES = {v: k for k, v in _TYPES.items()}
_SIDES = {"BUY": OrderSide.BUY, "SELL": OrderSide.SELL, "SHORT": OrderSide.SELL}


_mapping = functools.partial(reply_object, venue=VENUE)
_list = functools.partial(reply_list, venue=VENUE)


def _text(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise VenueError(f"{VENUE} {what} lacks {key!r}", Failure.MALFORMED, venue=VENUE, key=key)
    return value


def stamp_ns(value: Any) -> int:
    """Webull's ``*_at`` fields are ISO 8601 UTC; its older fields are epoch milliseconds."""
    if isinstance(value, str) and value.isdigit():
        return int(value) * 1_000_000
    return iso_ns(value, VENUE)


def translate_status(response: httpx.Response) -> VenueError:
    """An HTTP error reply as one of ours. Webull's body is ``{"error_code", "message"}``; a
    body that is not JSON (a proxy's page) still has a status that says what happened."""
    code: str | None = None
    message = response.reason_phrase or f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        code = None if body.get("error_code") is None else str(body["error_code"])
        message = str(body.get("message") or code or message)
    failure = classify(ERRORS, response.status_code, code, message)
    return VenueError(
        f"{VENUE}: {message[:300]}", failure, venue=VENUE, status=response.status_code, code=code
    )


def parse_order(data: Any) -> VenueOrder:
    """One item of a detail/open/history reply's ``orders`` list."""
    d = _mapping(data, "order")
    cid = _text(d, "client_order_id", "order")
    side = _SIDES.get(str(d.get("side")))
    kind = _OUR_TYPES.get(str(d.get("order_type")))
    if side is None or kind is None:
        raise VenueError(
            f"{VENUE} order {cid} has side {d.get('side')!r} / type {d.get('order_type')!r}, "
            "which this adapter does not know",
            Failure.MALFORMED,
            venue=VENUE,
            order=cid,
        )
    qty = decimal_field(d, "total_quantity", VENUE)
    filled = decimal_field(d, "filled_quantity", VENUE, "0")
    raw = _text(d, "status", "order")
    placed = d.get("place_time_at") or d.get("place_time")
    return VenueOrder(
        client_order_id=cid,
        venue_order_id=_text(d, "order_id", "order"),
        symbol=_text(d, "symbol", "order"),
        side=side,
        quantity=qty,
        filled_quantity=filled,
        status=STATUSES.map(raw, qty, filled, cid),
        venue_status=raw,
        order_type=kind,
        avg_price=optional_decimal(d, "filled_price", VENUE) if filled > 0 else None,
        limit_price=optional_decimal(d, "limit_price", VENUE),
        stop_price=optional_decimal(d, "stop_price", VENUE),
        ts=stamp_ns(d.get("filled_time_at") or placed) if placed else 0,
        reason=raw if raw == "FAILED" else "",
    )


def parse_group(data: Any) -> list[VenueOrder]:
    """A detail/open/history item: ``{client_order_id, combo_type, orders: [...]}``."""
    d = _mapping(data, "order group")
    orders = _list(d.get("orders"), "order group's orders")
    if not orders:
        raise VenueError(f"{VENUE} order group has no orders", Failure.MALFORMED, venue=VENUE)
    return [parse_order(o) for o in orders]


def parse_fill(data: Any) -> VenueFill:
    """One item of the executions list."""
    d = _mapping(data, "execution")
    side = _SIDES.get(str(d.get("side")))
    if side is None:
        raise VenueError(
            f"{VENUE} execution has side {d.get('side')!r}", Failure.MALFORMED, venue=VENUE
        )
    return VenueFill(
        fill_id=_text(d, "execution_id", "execution"),
        venue_order_id=_text(d, "order_id", "execution"),
        client_order_id=d.get("client_order_id") or None,
        symbol=_text(d, "symbol", "execution"),
        side=side,
        quantity=decimal_field(d, "filled_quantity", VENUE),
        price=decimal_field(d, "filled_price", VENUE),
        commission=Decimal(0),  # the execution record carries no fee (module doc)
        ts=stamp_ns(d.get("execution_time")),
    )


def order_body(order: Order, account_id: str, session: str) -> dict[str, Any]:
    """The place-order body: one NORMAL (single) US equity order under our client order id."""
    item: dict[str, Any] = {
        "combo_type": "NORMAL",
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "instrument_type": "EQUITY",
        "market": "US",
        "order_type": _TYPES[order.order_type],
        "quantity": str(order.quantity),
        "side": "BUY" if order.side is OrderSide.BUY else "SELL",
        "time_in_force": order.time_in_force.value.upper(),
        "entrust_type": "QTY",
        "support_trading_session": session,
    }
    if order.limit_price is not None:
        item["limit_price"] = str(order.limit_price)
    if order.stop_price is not None:
        item["stop_price"] = str(order.stop_price)
    return {"account_id": account_id, "new_orders": [item]}


class WebullBroker(Broker):
    capabilities = CAPABILITIES
    poll_interval_s = 2.0  # order queries are limited to 2 per 2 s

    def __init__(
        self,
        app_key: SecretStr,
        app_secret: SecretStr,
        account_id: str | None = None,
        paper: bool = True,
        base_url: str | None = None,
        timeout_s: float = 10.0,
        name: str = VENUE,
        access_token: SecretStr | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.name = name
        self.paper = paper
        self.account_id = account_id
        self._base_url = (base_url or (TEST_URL if paper else PRODUCTION_URL)).rstrip("/")
        self._host = urlsplit(self._base_url).netloc
        if not self._host:
            raise VenueError(f"{name}: base_url {base_url!r} has no host", Failure.INVALID)
        self._signer = WebullSigner(app_key, app_secret)
        self._token = access_token  # Webull's x-access-token, for apps with 2FA turned on
        self._timeout_s = timeout_s
        self._transport = transport
        self._clock = clock
        self._nonce = nonce
        self._http: httpx.AsyncClient | None = None
        self._bucket: TokenBucket | None = None

    def __repr__(self) -> str:
        return f"WebullBroker(name={self.name!r}, paper={self.paper}, url={self._base_url!r})"

    def limit_rate(self, bucket: TokenBucket) -> None:
        self._bucket = bucket

    # -- transport ----------------------------------------------------------------------------
    async def _call(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        version: str = API_VERSION,
        category: str | None = None,
    ) -> Any:
        """One signed request; the reply's JSON (None for an empty 2xx body)."""
        if self._http is None:
            raise VenueError(f"{self.name} is not connected", Failure.UNAVAILABLE, venue=VENUE)
        params = dict(query or {})
        text = None if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        headers = self._signer.headers(self._host, path, params, text, self._clock(), self._nonce())
        headers["x-version"] = version
        if text is not None:
            headers["content-type"] = "application/json"
        if category is not None:
            headers["category"] = category
        if self._token is not None:
            headers["x-access-token"] = self._token.get_secret_value()
        if self._bucket is not None:
            await self._bucket.acquire()
        http = self._http
        response = await http_response(
            lambda: http.request(
                method,
                path,
                params=params or None,
                content=None if text is None else text.encode("utf-8"),
                headers=headers,
            ),
            VENUE,
            self._timeout_s,
            self.name,
        )
        if response.status_code >= 400:
            raise translate_status(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise VenueError(
                f"{self.name} sent a reply that is not JSON ({path})",
                Failure.MALFORMED,
                venue=VENUE,
            ) from None

    @property
    def _account(self) -> str:
        if self.account_id is None:
            raise VenueError(f"{self.name} is not connected", Failure.UNAVAILABLE, venue=VENUE)
        return self.account_id

    # -- the port -----------------------------------------------------------------------------
    async def connect(self) -> None:
        await self.close()
        self._http = httpx.AsyncClient(
            base_url=self._base_url, timeout=self._timeout_s, transport=self._transport
        )
        if self.account_id is None:
            self.account_id = await self._only_account()
        await self.account()  # proves the keys, the signature and the account id

    async def _only_account(self) -> str:
        rows = _list(await self._call("GET", "/openapi/account/list"), "account list")
        ids = [_text(_mapping(r, "account"), "account_id", "account") for r in rows]
        if len(ids) != 1:
            raise VenueError(
                f"{self.name} has {len(ids)} accounts ({', '.join(ids) or 'none'}); "
                f"set brokers.{self.name}.extra.account_id to the one to trade",
                Failure.INVALID,
                venue=VENUE,
            )
        return ids[0]

    async def close(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    async def health(self) -> Health:
        started = time.perf_counter()
        rows = _list(await self._call("GET", "/openapi/account/list"), "account list")
        return Health(self.name, True, time.perf_counter() - started, f"{len(rows)} account(s)")

    async def account(self) -> Account:
        query = {"account_id": self._account}
        d = _mapping(await self._call("GET", "/openapi/assets/balance", query), "balance")
        currency = str(d.get("total_asset_currency") or "USD")
        assets = [
            _mapping(a, "currency asset")
            for a in _list(d.get("account_currency_assets"), "account_currency_assets")
        ]
        match = [a for a in assets if a.get("currency") == currency]
        if not match:
            raise VenueError(
                f"{VENUE} balance has no {currency} entry in account_currency_assets",
                Failure.MALFORMED,
                venue=VENUE,
            )
        return Account(
            venue=self.name,
            currency=currency,
            cash=decimal_field(d, "total_cash_balance", VENUE),
            buying_power=decimal_field(match[0], "buying_power", VENUE),
            equity=optional_decimal(d, "total_net_liquidation_value", VENUE),
        )

    async def positions(self) -> list[VenuePosition]:
        """Equity positions. Option and event positions (multi-leg, not a symbol of ours) are
        left out: this adapter neither trades nor books them."""
        query = {"account_id": self._account}
        rows = _list(await self._call("GET", "/openapi/assets/positions", query), "positions")
        out = []
        for row in rows:
            d = _mapping(row, "position")
            if d.get("instrument_type") not in ("EQUITY", None):
                continue
            symbol = _text(d, "symbol", "position")
            qty = decimal_field(d, "quantity", VENUE)
            out.append(VenuePosition(symbol, qty, optional_decimal(d, "cost_price", VENUE)))
        return out

    async def place_order(self, order: Order) -> VenueOrder:
        """Send ``order``; a refusal of an id Webull already holds becomes ``DUPLICATE``."""
        self.capabilities.check(order, self.name)
        body = order_body(order, self._account, "CORE")
        try:
            reply = await self._call(
                "POST", "/openapi/trade/order/place", body=body, category="US_EQUITY"
            )
        except VenueError as exc:
            if exc.failure in (Failure.REJECTED, Failure.INVALID) and await self._holds(
                order.client_order_id
            ):
                raise VenueError(
                    f"{self.name} already holds order {order.client_order_id} ({exc.message})",
                    Failure.DUPLICATE,
                    venue=VENUE,
                    order=order.client_order_id,
                    code=exc.context.get("code"),
                ) from exc
            raise
        d = _mapping(reply, "place-order reply")
        if d.get("client_order_id") not in (None, order.client_order_id):
            raise VenueError(
                f"{VENUE} answered order {order.client_order_id} with "
                f"client_order_id {d.get('client_order_id')!r}",
                Failure.MALFORMED,
                venue=VENUE,
                order=order.client_order_id,
            )
        # The reply is an acknowledgement (ids only); the order's state comes with updates.
        return VenueOrder.acknowledged(order, _text(d, "order_id", "place-order reply"), "")

    async def _holds(self, client_order_id: str) -> bool:
        """Whether Webull already has an order under our id. Webull documents that a
        client_order_id must be unique but not the text of the refusal of a reused one, so a
        refused place (e.g. the retry of one that timed out) is checked against the venue
        rather than guessed from the message. A failed lookup proves nothing: False."""
        try:
            return await self.get_order(client_order_id) is not None
        except VenueError:
            return False

    async def cancel_order(self, client_order_id: str, symbol: str = "") -> None:
        body = {"account_id": self._account, "client_order_id": client_order_id}
        _mapping(await self._call("POST", "/openapi/trade/order/cancel", body=body), "cancel reply")

    async def get_order(self, client_order_id: str, symbol: str = "") -> VenueOrder | None:
        query = {"account_id": self._account, "client_order_id": client_order_id}
        try:
            reply = await self._call("GET", "/openapi/trade/order/detail", query)
        except VenueError as exc:
            if exc.failure is Failure.NOT_FOUND:
                return None
            raise
        orders = parse_group(reply)
        ours = [o for o in orders if o.client_order_id == client_order_id]
        if not ours:
            raise VenueError(
                f"{VENUE} order detail for {client_order_id} holds other orders only",
                Failure.MALFORMED,
                venue=VENUE,
                order=client_order_id,
            )
        return ours[0]

    async def open_orders(self) -> list[VenueOrder]:
        """Every open order, following ``last_client_order_id`` page by page."""
        query = {"account_id": self._account, "page_size": str(PAGE_SIZE)}
        out: list[VenueOrder] = []
        while True:
            page = _list(
                await self._call("GET", "/openapi/trade/order/open", dict(query)), "open orders"
            )
            for group in page:
                out += parse_group(group)
            if len(page) < PAGE_SIZE:
                return out
            query["last_client_order_id"] = _text(
                _mapping(page[-1], "order group"), "client_order_id", "order group"
            )

    async def fills(self, since_ns: int, symbols: Sequence[str]) -> list[VenueFill]:
        """Executions from the UTC day of ``since_ns`` on (the list filters by date), kept from
        ``since_ns`` itself, following ``last_execution_id`` page by page. ``since_ns = 0``
        leaves the date out: the venue's default window, not 1970."""
        query = {"account_id": self._account, "page_size": str(PAGE_SIZE)}
        if since_ns > 0:
            day = datetime.fromtimestamp(since_ns / 1e9, UTC).strftime("%Y-%m-%d")
            query["start_date"] = day
        out: list[VenueFill] = []
        while True:
            page = _list(
                await self._call("GET", "/trading/orders/executions/list", dict(query)),
                "executions",
            )
            out += [f for f in map(parse_fill, page) if f.ts >= since_ns]
            if len(page) < PAGE_SIZE:
                return out
            query["last_execution_id"] = _text(
                _mapping(page[-1], "execution"), "execution_id", "execution"
            )
