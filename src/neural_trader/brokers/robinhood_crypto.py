"""Robinhood's official Crypto Trading API (https://docs.robinhood.com/crypto/trading/) over
``httpx``: the signed client the Robinhood broker routes crypto pairs to.

* **Signing.** Every request carries ``x-api-key``, ``x-timestamp`` (Unix seconds; the venue
  refuses one older than 30 s) and ``x-signature``: the base64 ed25519 signature of
  ``api_key + timestamp + path + method + body``, where ``path`` includes the query string and
  ``body`` is the JSON text sent (empty for a GET). The private key is the base64 32-byte seed
  the Robinhood API credentials page hands out. The path signed is read off the request httpx is
  about to send, so what is signed is what goes on the wire.
* **Client order ids** must be UUIDs; ours are not, so the venue gets the UUID-5 of ours, a pure
  function of it: a retry is sent under the same id (the venue refuses the second one, mapped to
  ``DUPLICATE``) and a lookup after a restart still finds the order. The API has no lookup by
  client id: an order is found by the venue id seen at placement, else by scanning the newest
  orders (:data:`SCAN_PAGES` pages). Reports carry our id for orders this process placed or
  looked up, the venue's UUID otherwise.
* **Fills** are the ``executions`` listed inside each order; they carry no id of their own, so a
  fill is named ``{order id}:{n}``, ``n`` its place in time order (executions are only appended).
  Robinhood charges no separate commission on crypto (the spread is the cost): commission 0.
"""

from __future__ import annotations

import base64
import functools
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from neural_trader.brokers.base import (
    Account,
    ErrorRule,
    Failure,
    StatusTable,
    VenueError,
    VenueFill,
    VenueOrder,
    VenuePosition,
    classify,
    decimal_field,
    http_response,
    iso_ns,
    missing_order,
    optional_decimal,
    reply_object,
)
from neural_trader.brokers.resilience import TokenBucket
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce

VENUE = "robinhood"
BASE_URL = "https://trading.robinhood.com"
API = "/api/v1/crypto/trading"
SCAN_PAGES = 4
S = OrderStatus
# https://docs.robinhood.com/crypto/trading/#tag/Trading/operation/api_v1_get_crypto_trading_orders
STATUSES = StatusTable(
    VENUE,
    {
        "open": S.ACCEPTED,
        "partially_filled": S.PARTIALLY_FILLED,
        "filled": S.FILLED,
        "canceled": S.CANCELED,
        "failed": S.REJECTED,
    },
)
# Error replies: {"type": "validation_error"|"client_error"|..., "errors": [{"detail", "attr"}]}
ERRORS = (
    ErrorRule(Failure.DUPLICATE, contains="already exists"),  # a known client_order_id
    ErrorRule(Failure.DUPLICATE, contains="duplicate"),
    ErrorRule(Failure.INSUFFICIENT_FUNDS, contains="insufficient"),
    ErrorRule(Failure.RATE_LIMITED, status=429),
    ErrorRule(Failure.AUTH, status=401),
    ErrorRule(Failure.AUTH, status=403),
    ErrorRule(Failure.NOT_FOUND, status=404),
    ErrorRule(Failure.INVALID, status=400, code="validation_error"),
    ErrorRule(Failure.REJECTED, status=400),
)
_NAMESPACE = uuid.UUID("0b6f7f0e-4a4b-5c55-9d7e-52b0a1f3c2d9")
_SIDES = {"buy": OrderSide.BUY, "sell": OrderSide.SELL}
_TYPES = {
    "market": OrderType.MARKET,
    "limit": OrderType.LIMIT,
    "stop_loss": OrderType.STOP,
    "stop_limit": OrderType.STOP_LIMIT,
}
_CONFIGS = {
    OrderType.MARKET: ("market", "market_order_config"),
    OrderType.LIMIT: ("limit", "limit_order_config"),
    OrderType.STOP: ("stop_loss", "stop_loss_order_config"),
    OrderType.STOP_LIMIT: ("stop_limit", "stop_limit_order_config"),
}


def venue_client_id(client_order_id: str) -> str:
    """The UUID the venue knows our order by (see the module doc)."""
    return str(uuid.uuid5(_NAMESPACE, client_order_id))


def is_pair(symbol: str) -> bool:
    """``BTC/USD``, ``BTC-USD`` (optionally ``@venue``): what this client trades."""
    return venue_symbol(symbol) is not None


def venue_symbol(symbol: str) -> str | None:
    """Our ``BTC/USD`` as the venue's ``BTC-USD``; None for a name that is not a pair."""
    name = symbol.partition("@")[0]
    for sep in ("/", "-"):
        base, found, quote = name.partition(sep)
        if found and base.isalnum() and quote.isalnum():
            return f"{base.upper()}-{quote.upper()}"
    return None


def _malformed(what: str) -> VenueError:
    return VenueError(f"{VENUE} crypto {what}", Failure.MALFORMED, venue=VENUE)


_mapping = functools.partial(reply_object, venue=VENUE, label=f"{VENUE} crypto")


def _results(data: Any, what: str) -> tuple[list[Any], str | None]:
    page = _mapping(data, what)
    rows = page.get("results")
    if not isinstance(rows, list):
        raise _malformed(f"{what} lacks a 'results' list")
    nxt = page.get("next")
    return rows, nxt if isinstance(nxt, str) and nxt else None


class Signer:
    """Signs requests with the account's ed25519 key; holds the key, never shows it."""

    def __init__(self, api_key: SecretStr, private_key: SecretStr) -> None:
        try:
            seed = base64.b64decode(private_key.get_secret_value(), validate=True)
            self._key = Ed25519PrivateKey.from_private_bytes(seed)
        except ValueError:
            raise VenueError(
                f"{VENUE} crypto private key must be the base64 of a 32-byte ed25519 seed",
                Failure.AUTH,
                venue=VENUE,
            ) from None
        self._api_key = api_key

    def __repr__(self) -> str:
        return "Signer(***)"

    def headers(self, timestamp: int, path: str, method: str, body: str) -> dict[str, str]:
        key = self._api_key.get_secret_value()
        message = f"{key}{timestamp}{path}{method}{body}".encode()
        signature = base64.b64encode(self._key.sign(message)).decode()
        return {"x-api-key": key, "x-timestamp": str(timestamp), "x-signature": signature}


def translate_status(response: httpx.Response) -> VenueError:
    """An error reply as one of ours, with the venue's details (never a header)."""
    code: str | None = None
    message = response.text[:300]
    try:
        body = response.json()
    except ValueError:
        body = None  # e.g. a proxy's HTML page: the status still says what happened
    if isinstance(body, Mapping):
        code = None if body.get("type") is None else str(body["type"])
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            parts = [
                f"{e.get('attr')}: {e.get('detail')}" if e.get("attr") else str(e.get("detail"))
                for e in errors
                if isinstance(e, Mapping)
            ]
            message = "; ".join(parts) or message
        elif body.get("detail") is not None:
            message = str(body["detail"])
    failure = classify(ERRORS, response.status_code, code, message)
    return VenueError(
        f"{VENUE} crypto: {message}", failure, venue=VENUE, status=response.status_code, code=code
    )


def parse_order(data: Any, names: Callable[[str], str]) -> VenueOrder:
    """``names`` maps the venue's client UUID back to our client order id."""
    d = _mapping(data, "order")
    side = _SIDES.get(str(d.get("side")))
    kind = _TYPES.get(str(d.get("type")))
    if side is None or kind is None or not d.get("id") or "state" not in d:
        raise _malformed("order lacks id, state, a known side or type")
    config = d.get(f"{_CONFIGS[kind][1]}")
    config = _mapping(config, f"order {d['id']} {_CONFIGS[kind][1]}")
    if kind is OrderType.MARKET and config.get("asset_quantity") in (None, ""):
        raise _malformed(f"market order {d['id']} gives its size in quote currency only")
    qty = decimal_field(config, "asset_quantity", VENUE)
    filled = decimal_field(d, "filled_asset_quantity", VENUE, "0")
    cid = names(str(d.get("client_order_id") or ""))
    raw = str(d["state"])
    stamp = d.get("updated_at") or d.get("created_at")
    return VenueOrder(
        client_order_id=cid,
        venue_order_id=str(d["id"]),
        symbol=str(d.get("symbol", "")).replace("-", "/"),
        side=side,
        quantity=qty,
        filled_quantity=filled,
        status=STATUSES.map(raw, qty, filled, cid),
        venue_status=raw,
        order_type=kind,
        avg_price=optional_decimal(d, "average_price", VENUE),
        limit_price=optional_decimal(config, "limit_price", VENUE),
        stop_price=optional_decimal(config, "stop_price", VENUE),
        ts=iso_ns(stamp, VENUE) if stamp else 0,
        reason=raw if raw == "failed" else "",
    )


def parse_fills(data: Any, order: VenueOrder) -> list[VenueFill]:
    d = _mapping(data, "order")
    rows = d.get("executions") or []
    if not isinstance(rows, list):
        raise _malformed(f"order {order.venue_order_id} executions is not a list")
    parsed = []
    for row in rows:
        e = _mapping(row, "execution")
        price = decimal_field(e, "effective_price", VENUE)
        parsed.append(
            (iso_ns(e.get("timestamp"), VENUE), decimal_field(e, "quantity", VENUE), price)
        )
    return [
        VenueFill(
            fill_id=f"{order.venue_order_id}:{n}",
            venue_order_id=order.venue_order_id,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            quantity=qty,
            price=price,
            commission=Decimal(0),
            ts=ts,
        )
        for n, (ts, qty, price) in enumerate(sorted(parsed))
    ]


def _stamp(ns: int) -> str:
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CryptoClient:
    """The signed client; async over one ``httpx.AsyncClient`` it owns."""

    def __init__(
        self,
        api_key: SecretStr,
        private_key: SecretStr,
        base_url: str = BASE_URL,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._signer = Signer(api_key, private_key)
        self._base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._transport = transport
        self._clock = clock
        self._http: httpx.AsyncClient | None = None
        self._ours: dict[str, str] = {}  # venue client UUID -> our client order id
        self._venue_ids: dict[str, str] = {}  # our client order id -> venue order id
        self.bucket: TokenBucket | None = None

    def __repr__(self) -> str:
        return f"CryptoClient(base_url={self._base_url!r})"

    async def open(self) -> None:
        await self.close()
        self._http = httpx.AsyncClient(
            base_url=self._base_url, timeout=self._timeout_s, transport=self._transport
        )

    async def close(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    def _name(self, venue_cid: str) -> str:
        return self._ours.get(venue_cid, venue_cid)

    def _learn(self, client_order_id: str) -> str:
        venue_cid = venue_client_id(client_order_id)
        self._ours[venue_cid] = client_order_id
        return venue_cid

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """One signed call; the reply's JSON, or None for a reply with no body."""
        if self._http is None:
            raise VenueError(f"{VENUE} crypto is not connected", Failure.UNAVAILABLE, venue=VENUE)
        if params:
            path = f"{path}?{urlencode(params)}"
        text = "" if body is None else json.dumps(body, separators=(",", ":"))
        request = self._http.build_request(
            method, path, content=text.encode() if text else None,
            headers={"content-type": "application/json"} if text else None,
        )  # fmt: skip
        signed = request.url.raw_path.decode()
        request.headers.update(self._signer.headers(int(self._clock()), signed, method, text))
        if self.bucket is not None:
            await self.bucket.acquire()
        http = self._http
        response = await http_response(
            lambda: http.send(request), VENUE, self._timeout_s, f"{VENUE} crypto"
        )
        if response.status_code >= 400:
            raise translate_status(response)
        if not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            raise _malformed(f"reply to {method} {path} is not JSON") from None

    async def _pages(self, path: str, params: Mapping[str, str], limit: int | None) -> list[Any]:
        rows, nxt = _results(await self.request("GET", path, params), path)
        pages = 1
        while nxt is not None and (limit is None or pages < limit):
            split = urlsplit(nxt)  # the venue's own link, already encoded: sent as it is
            link = f"{split.path}?{split.query}" if split.query else split.path
            more, nxt = _results(await self.request("GET", link), path)
            rows += more
            pages += 1
        return rows

    # -- account -------------------------------------------------------------------------
    async def account(self) -> Account:
        d = _mapping(await self.request("GET", f"{API}/accounts/"), "account")
        power = decimal_field(d, "buying_power", VENUE)
        return Account(VENUE, str(d.get("buying_power_currency") or "USD"), power, power)

    async def positions(self) -> list[VenuePosition]:
        out = []
        for row in await self._pages(f"{API}/holdings/", {}, None):
            d = _mapping(row, "holding")
            if not d.get("asset_code"):
                raise _malformed("holding lacks asset_code")
            qty = decimal_field(d, "total_quantity", VENUE)
            if qty:
                out.append(VenuePosition(f"{d['asset_code']}/USD", qty))
        return out

    # -- orders --------------------------------------------------------------------------
    def order_body(self, order: Order) -> dict[str, Any]:
        symbol = venue_symbol(order.symbol)
        where = {"venue": VENUE, "order": order.client_order_id}
        if symbol is None:
            raise VenueError(f"{order.symbol!r} is not a crypto pair", Failure.INVALID, **where)
        if order.time_in_force is not TimeInForce.GTC and order.order_type is not OrderType.MARKET:
            raise VenueError(
                f"{VENUE} crypto takes gtc orders only, got {order.time_in_force.value}",
                Failure.UNSUPPORTED,
                **where,
            )
        kind, key = _CONFIGS[order.order_type]
        config: dict[str, str] = {"asset_quantity": str(order.quantity)}
        if order.limit_price is not None:
            config["limit_price"] = str(order.limit_price)
        if order.stop_price is not None:
            config["stop_price"] = str(order.stop_price)
        if order.order_type is not OrderType.MARKET:
            config["time_in_force"] = "gtc"
        return {
            "client_order_id": self._learn(order.client_order_id),
            "side": order.side.value,
            "type": kind,
            "symbol": symbol,
            key: config,
        }

    async def place_order(self, order: Order) -> VenueOrder:
        reply = await self.request("POST", f"{API}/orders/", body=self.order_body(order))
        placed = parse_order(reply, self._name)
        self._venue_ids[order.client_order_id] = placed.venue_order_id
        return placed

    async def _find(self, client_order_id: str) -> Any | None:
        """The raw order for our id: by the venue id seen before, else by a scan."""
        venue_cid = self._learn(client_order_id)
        known = self._venue_ids.get(client_order_id)
        if known is not None:
            return await self.request("GET", f"{API}/orders/{known}/")
        for row in await self._pages(f"{API}/orders/", {}, SCAN_PAGES):
            if _mapping(row, "order").get("client_order_id") == venue_cid:
                self._venue_ids[client_order_id] = str(row.get("id"))
                return row
        return None

    async def get_order(self, client_order_id: str) -> VenueOrder | None:
        try:
            raw = await self._find(client_order_id)
        except VenueError as exc:
            if exc.failure is Failure.NOT_FOUND:
                return None
            raise
        return None if raw is None else parse_order(raw, self._name)

    async def cancel_order(self, client_order_id: str) -> None:
        found = await self.get_order(client_order_id)
        if found is None:
            raise missing_order(VENUE, client_order_id, f"{VENUE} crypto")
        await self.request("POST", f"{API}/orders/{found.venue_order_id}/cancel/")

    async def open_orders(self) -> list[VenueOrder]:
        rows = await self._pages(f"{API}/orders/", {"state": "open"}, None)
        rows += await self._pages(f"{API}/orders/", {"state": "partially_filled"}, None)
        return [parse_order(row, self._name) for row in rows]

    async def fills(self, since_ns: int, symbols: Sequence[str] = ()) -> list[VenueFill]:
        """Executions at or after ``since_ns`` of the orders updated since then."""
        params = {"updated_at_start": _stamp(since_ns)}
        out: list[VenueFill] = []
        for row in await self._pages(f"{API}/orders/", params, None):
            order = parse_order(row, self._name)
            out += [f for f in parse_fills(row, order) if f.ts >= since_ns]
        return sorted(out, key=lambda f: (f.ts, f.fill_id))
