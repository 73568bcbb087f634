"""E*TRADE (US equities) on its v1 REST API over ``httpx``, signed with OAuth 1.0a; sandbox
(``apisb.etrade.com``) unless ``paper_trading = false``.

Credentials are the application's consumer key and secret plus an access token and token
secret from E*TRADE's three-legged OAuth flow (:func:`request_token`, :func:`authorize_url`,
:func:`access_token`; the token endpoints are on ``api.etrade.com`` for sandbox and live alike).
An access token goes idle after two hours without requests and expires at midnight US
Eastern: on a 401 the adapter renews it once (``/oauth/renew_access_token``) and repeats the
request; when renewing fails too, the error says that the token expired and the OAuth flow
must be run again.

Requests are signed by authlib's RFC 5849 signer (HMAC-SHA1, Authorization header). authlib's
own httpx ``OAuth1Auth`` is not used: for a request whose body is not form-encoded it signs
without the body, as the RFC says, but then also sends the body empty, which would drop every
order's JSON. Orders go through E*TRADE's required preview (``orders/preview.json`` ->
``previewId``) and then place (``orders/place.json``); see :mod:`etrade_orders` for the JSON,
the client order id mapping and how fills are derived. Prices arrive as JSON numbers and are
read straight into Decimals (``parse_float=Decimal``), never through float.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Generator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
from authlib.oauth1 import ClientAuth
from pydantic import SecretStr

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
    classify,
    http_response,
)
from neural_trader.brokers.etrade_orders import (
    ERRORS,
    VENUE,
    fills_of,
    first,
    items,
    malformed,
    mapping,
    order_json,
    order_parts,
    parse_account,
    parse_order,
    parse_positions,
    placed_order,
    preview_id,
    venue_client_id,
)
from neural_trader.brokers.resilience import TokenBucket
from neural_trader.core.instruments import AssetClass
from neural_trader.core.orders import Order, OrderType, TimeInForce

LIVE_URL = "https://api.etrade.com"
SANDBOX_URL = "https://apisb.etrade.com"
OAUTH_URL = "https://api.etrade.com/oauth"  # the same for sandbox and live keys
AUTHORIZE_URL = "https://us.etrade.com/e/t/etws/authorize"
CAPABILITIES = Capabilities(
    order_types=frozenset(OrderType),
    time_in_force=frozenset(TimeInForce),  # IOC and FOK for limit orders only (checked)
    asset_classes=frozenset({AssetClass.EQUITY}),
    fractional=False,
    shorting=False,  # a short needs SELL_SHORT, which this adapter does not send
    extended_hours=False,
    replace=False,
    market_data=False,
    sandbox=True,
    requests_per_s=2.0,  # E*TRADE's published budget for the order and account modules
    burst=4,
    # The id maps (our id -> orderId) live in the client, so one connection sees them all.
    max_connections=1,
)
_PROBLEM = re.compile(r"oauth_problem=([A-Za-z_]+)")
_MAX_PAGES = 50
_HISTORY_DAYS = 730  # E*TRADE keeps two years of order history
AUTH_HINT = (
    "E*TRADE access tokens go idle after 2 h without requests and expire at midnight US "
    "Eastern; renewing failed, so run the OAuth flow again (request_token, authorize_url, "
    "access_token) and set the new access token and secret"
)


class OAuth1Signer(httpx.Auth):
    """Signs every request (HMAC-SHA1, Authorization header) and sends its body unchanged;
    a JSON body is not part of the signature (RFC 5849 section 3.4.1.3)."""

    def __init__(
        self,
        consumer_key: SecretStr,
        consumer_secret: SecretStr,
        token: SecretStr | None = None,
        token_secret: SecretStr | None = None,
        callback: str | None = None,
        verifier: str | None = None,
    ) -> None:
        self._auth = ClientAuth(
            consumer_key.get_secret_value(),
            consumer_secret.get_secret_value(),
            token=None if token is None else token.get_secret_value(),
            token_secret=None if token_secret is None else token_secret.get_secret_value(),
            redirect_uri=callback,
            verifier=verifier,
        )

    def __repr__(self) -> str:
        return "OAuth1Signer()"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        _, headers, _ = self._auth.sign(request.method, str(request.url), {}, b"")
        request.headers["Authorization"] = headers["Authorization"]
        yield request


# -- replies and errors -----------------------------------------------------------------------
def venue_error(response: httpx.Response) -> VenueError:
    """An error reply as one of ours. E*TRADE's JSON errors are ``{"Error": {"code",
    "message"}}``; OAuth failures come as ``oauth_problem=...`` text, of which only the
    problem's name is kept (the text may echo the token)."""
    status = response.status_code
    code: str | None = None
    message = f"HTTP {status}"
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    error = body.get("Error") if isinstance(body, Mapping) else None
    if isinstance(error, Mapping):
        code = None if error.get("code") is None else str(error["code"])
        message = str(error.get("message") or message)
    else:
        problem = _PROBLEM.search(response.text)
        if problem:
            message = f"{message}: oauth_problem={problem.group(1)}"
    failure = classify(ERRORS, status, code, message)
    return VenueError(f"{VENUE}: {message[:300]}", failure, venue=VENUE, status=status, code=code)


def read_json(response: httpx.Response) -> Any:
    """A 2xx reply's JSON (None for an empty one: E*TRADE answers 204 for an empty list)."""
    if response.status_code == 204 or not response.content.strip():
        return None
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        raise malformed("sent a reply that is not JSON", status=response.status_code) from None


async def _send(
    client: httpx.AsyncClient, request: httpx.Request, timeout_s: float
) -> httpx.Response:
    return await http_response(lambda: client.send(request), VENUE, timeout_s)


# -- the OAuth flow -----------------------------------------------------------------------------
def _token_pair(response: httpx.Response, what: str) -> tuple[str, str]:
    if response.status_code >= 400:
        raise venue_error(response)
    fields = dict(parse_qsl(response.text))  # also undoes E*TRADE's URL-encoded tokens
    token, secret = fields.get("oauth_token"), fields.get("oauth_token_secret")
    if not token or not secret:
        raise malformed(f"{what} reply lacks oauth_token or oauth_token_secret")
    return token, secret


async def _oauth_get(path: str, auth: OAuth1Signer, oauth_url: str, timeout_s: float) -> Any:
    async with httpx.AsyncClient(auth=auth, timeout=timeout_s) as client:
        return await _send(client, client.build_request("GET", f"{oauth_url}/{path}"), timeout_s)


async def request_token(
    consumer_key: SecretStr,
    consumer_secret: SecretStr,
    oauth_url: str = OAUTH_URL,
    timeout_s: float = 10.0,
) -> tuple[str, SecretStr]:
    """Step 1: a request token (valid 5 minutes) and its secret, for the out-of-band flow."""
    auth = OAuth1Signer(consumer_key, consumer_secret, callback="oob")
    response = await _oauth_get("request_token", auth, oauth_url, timeout_s)
    token, secret = _token_pair(response, "request_token")
    return token, SecretStr(secret)


def authorize_url(consumer_key: SecretStr, token: str) -> str:
    """Step 2: the page where the account holder logs in and is shown a verifier code."""
    return str(
        httpx.URL(AUTHORIZE_URL, params={"key": consumer_key.get_secret_value(), "token": token})
    )


async def access_token(
    consumer_key: SecretStr,
    consumer_secret: SecretStr,
    token: str,
    token_secret: SecretStr,
    verifier: str,
    oauth_url: str = OAUTH_URL,
    timeout_s: float = 10.0,
) -> tuple[SecretStr, SecretStr]:
    """Step 3: the request token and the verifier code exchanged for an access token and
    secret (valid until midnight US Eastern)."""
    auth = OAuth1Signer(
        consumer_key, consumer_secret, SecretStr(token), token_secret, verifier=verifier.strip()
    )
    response = await _oauth_get("access_token", auth, oauth_url, timeout_s)
    pair = _token_pair(response, "access_token")
    return SecretStr(pair[0]), SecretStr(pair[1])


# -- the adapter --------------------------------------------------------------------------------
def _mmddyyyy(day: date) -> str:
    return day.strftime("%m%d%Y")


class EtradeBroker(Broker):
    capabilities = CAPABILITIES

    def __init__(
        self,
        api_key: SecretStr,
        api_secret: SecretStr,
        access_token: SecretStr,
        access_secret: SecretStr,
        paper: bool = True,
        base_url: str | None = None,
        timeout_s: float = 10.0,
        account_id_key: str | None = None,
        name: str = VENUE,
        oauth_url: str = OAUTH_URL,
    ) -> None:
        self.name = name
        self.paper = paper
        self.base_url = (base_url or (SANDBOX_URL if paper else LIVE_URL)).rstrip("/")
        self.account_id_key = account_id_key
        self._signer = OAuth1Signer(api_key, api_secret, access_token, access_secret)
        self._oauth_url = oauth_url
        self._timeout_s = timeout_s
        self._http: httpx.AsyncClient | None = None
        self._bucket: TokenBucket | None = None
        self._ids: dict[str, str] = {}  # our client order id -> E*TRADE orderId
        self._cids: dict[str, str] = {}  # E*TRADE orderId -> our client order id
        self._reported: dict[str, tuple[Decimal, Decimal]] = {}  # orderId -> (filled, avg)

    def __repr__(self) -> str:
        return f"EtradeBroker(name={self.name!r}, paper={self.paper}, base_url={self.base_url!r})"

    def limit_rate(self, bucket: TokenBucket) -> None:
        self._bucket = bucket

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            raise VenueError(f"{self.name} is not connected", Failure.UNAVAILABLE, venue=self.name)
        return self._http

    @property
    def _account_path(self) -> str:
        if self.account_id_key is None:
            raise VenueError(f"{self.name} is not connected", Failure.UNAVAILABLE, venue=self.name)
        return f"/v1/accounts/{self.account_id_key}"

    async def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        renew: bool = True,
    ) -> Any:
        if self._bucket is not None:
            await self._bucket.acquire()
        request = self.http.build_request(method, path, params=params, json=body)
        response = await _send(self.http, request, self._timeout_s)
        if response.status_code == 401 and renew:
            await self.renew_access_token()
            return await self._call(method, path, params, body, renew=False)
        if response.status_code >= 400:
            exc = venue_error(response)
            if response.status_code == 401:  # still refused after the renewal
                raise VenueError(f"{exc.message}; {AUTH_HINT}", Failure.AUTH, venue=self.name)
            raise exc
        return read_json(response)

    async def renew_access_token(self) -> None:
        """Reactivate an access token that went idle (two hours without requests)."""
        request = self.http.build_request("GET", f"{self._oauth_url}/renew_access_token")
        response = await _send(self.http, request, self._timeout_s)
        if response.status_code >= 400:
            exc = venue_error(response)
            if exc.failure is not Failure.AUTH:
                raise exc
            raise VenueError(
                f"{exc.message}; {AUTH_HINT}", Failure.AUTH, venue=self.name, status=401
            ) from None

    async def connect(self) -> None:
        await self.close()
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            auth=self._signer,
            timeout=self._timeout_s,
            headers={"Accept": "application/json"},
        )
        accounts = await self._accounts()
        if self.account_id_key is None:
            self.account_id_key = self._pick(accounts)
        elif self.account_id_key not in {str(a.get("accountIdKey")) for a in accounts}:
            raise VenueError(
                f"{self.name}: account_id_key {self.account_id_key!r} is not one of this "
                "login's accounts",
                Failure.INVALID,
                venue=self.name,
            )

    async def _accounts(self) -> list[Mapping[str, Any]]:
        reply = mapping(await self._call("GET", "/v1/accounts/list.json"), "account list")
        listing = mapping(reply.get("AccountListResponse"), "AccountListResponse")
        rows = items(mapping(listing.get("Accounts"), "Accounts").get("Account", []), "Account")
        return [mapping(row, "Account") for row in rows]

    def _pick(self, accounts: list[Mapping[str, Any]]) -> str:
        """The login's one open brokerage account; several need ``extra.account_id_key``."""
        open_ = [
            a
            for a in accounts
            if a.get("accountStatus", "ACTIVE") == "ACTIVE"
            and a.get("institutionType", "BROKERAGE") == "BROKERAGE"
        ]
        if len(open_) != 1:
            keys = sorted(f"{a.get('accountIdKey')} ({a.get('accountDesc', '')})" for a in open_)
            raise VenueError(
                f"{self.name}: {len(open_)} open brokerage accounts; set "
                f"brokers.{self.name}.extra.account_id_key to one of {keys}",
                Failure.INVALID,
                venue=self.name,
            )
        return str(open_[0]["accountIdKey"])

    async def close(self) -> None:
        client, self._http = self._http, None
        if client is not None:
            await client.aclose()

    async def health(self) -> Health:
        started = time.perf_counter()
        accounts = await self._accounts()
        return Health(self.name, True, time.perf_counter() - started, f"{len(accounts)} accounts")

    async def account(self) -> Account:
        params = {"instType": "BROKERAGE", "realTimeNAV": "true"}
        return parse_account(
            await self._call("GET", f"{self._account_path}/balance.json", params), self.name
        )

    async def positions(self) -> list[VenuePosition]:
        out: list[VenuePosition] = []
        page, pages = 1, 1
        while page <= min(pages, _MAX_PAGES):
            params = {"pageNumber": str(page)}
            reply = await self._call("GET", f"{self._account_path}/portfolio.json", params)
            if reply is None:  # 204: nothing held
                return out
            held, pages = parse_positions(reply)
            out += held
            page += 1
        return out

    # -- orders -----------------------------------------------------------------------------
    async def place_order(self, order: Order) -> VenueOrder:
        cid = order.client_order_id
        where = {"venue": self.name, "order": cid}
        if order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK) and (
            order.order_type is not OrderType.LIMIT
        ):
            raise VenueError(
                f"{self.name} takes {order.time_in_force.value} for limit orders only",
                Failure.UNSUPPORTED,
                **where,
            )
        if cid in self._ids:
            raise VenueError(
                f"{self.name} already has order {cid} (E*TRADE order {self._ids[cid]})",
                Failure.DUPLICATE,
                **where,
            )
        base = f"{self._account_path}/orders"
        preview = await self._call(
            "POST", f"{base}/preview.json", body=order_json(order, "PreviewOrderRequest")
        )
        body = order_json(order, "PlaceOrderRequest", preview_id(preview))
        placed = placed_order(await self._call("POST", f"{base}/place.json", body=body), order)
        self._remember(cid, placed.venue_order_id)
        return placed

    async def _order_id(self, client_order_id: str) -> str:
        known = self._ids.get(client_order_id)
        return known if known is not None else await self.venue_order_id(client_order_id)

    async def cancel_order(self, client_order_id: str, symbol: str = "") -> None:
        order_id = await self._order_id(client_order_id)
        body = {"CancelOrderRequest": {"orderId": int(order_id)}}
        reply = await self._call("PUT", f"{self._account_path}/orders/cancel.json", body=body)
        answer = mapping(mapping(reply, "cancel reply").get("CancelOrderResponse"), "cancel")
        if str(answer.get("orderId")) != order_id:
            raise malformed(f"cancel reply names order {answer.get('orderId')!r}, not {order_id}")

    def _cid_of(self, order: Any) -> str:
        o = mapping(order, "order")
        known = self._cids.get(str(o.get("orderId")))
        return known if known is not None else ""

    def _remember(self, client_order_id: str, order_id: str) -> None:
        self._ids[client_order_id] = order_id
        self._cids[order_id] = client_order_id

    async def _find(self, client_order_id: str) -> VenueOrder | None:
        """An order this client did not place, by our ``clientOrderId`` among the orders of
        the last day (present in a listing only where E*TRADE includes it)."""
        wanted = venue_client_id(client_order_id)
        since = self._since_params(time.time_ns() - 86_400 * 10**9)
        for row in await self._listing(since):
            if str(mapping(row, "order").get("clientOrderId")) == wanted:
                found = parse_order(row, client_order_id)
                self._remember(client_order_id, found.venue_order_id)
                return found
        return None

    async def get_order(self, client_order_id: str, symbol: str = "") -> VenueOrder | None:
        """By E*TRADE's orderId when this client placed the order, else by :meth:`_find`;
        an order of an earlier process whose listing lacks the client id is not found."""
        order_id = self._ids.get(client_order_id)
        if order_id is None:
            return await self._find(client_order_id)
        try:
            reply = await self._call("GET", f"{self._account_path}/orders/{order_id}.json")
        except VenueError as exc:
            if exc.failure is Failure.NOT_FOUND:
                return None
            raise
        if reply is None:
            return None
        listing = mapping(mapping(reply, "order reply").get("OrdersResponse"), "OrdersResponse")
        return parse_order(first(listing.get("Order"), "Order"), client_order_id)

    async def _listing(self, params: Mapping[str, str]) -> list[Any]:
        """Every equity order the listing returns for ``params``, following E*TRADE's
        markers. Option and spread orders (placed elsewhere: this adapter sends equity orders
        only) are left out, their legs are not ours to read."""
        out: list[Any] = []
        query = {"count": "100", **params}
        for _ in range(_MAX_PAGES):
            reply = await self._call("GET", f"{self._account_path}/orders.json", query)
            if reply is None:  # 204: no orders
                return out
            body = mapping(mapping(reply, "orders reply").get("OrdersResponse"), "OrdersResponse")
            rows = [mapping(row, "order") for row in items(body.get("Order", []), "Order")]
            out += [row for row in rows if row.get("orderType", "EQ") == "EQ"]
            marker = body.get("marker")
            if marker in (None, "") or str(marker) == query.get("marker"):
                return out
            query["marker"] = str(marker)
        raise malformed(f"order listing did not end within {_MAX_PAGES} pages")

    async def open_orders(self) -> list[VenueOrder]:
        rows = await self._listing({"status": "OPEN"})
        return [parse_order(row, self._cid_of(row)) for row in rows]

    @staticmethod
    def _since_params(since_ns: int) -> dict[str, str]:
        today = datetime.now(UTC).date()
        since = datetime.fromtimestamp(since_ns / 1e9, UTC).date() - timedelta(days=1)
        since = max(since, today - timedelta(days=_HISTORY_DAYS))
        return {"fromDate": _mmddyyyy(since), "toDate": _mmddyyyy(today)}

    async def fills(self, since_ns: int, symbols: Sequence[str]) -> list[VenueFill]:
        """Fills derived from the orders listed since the day before ``since_ns`` (E*TRADE
        lists by date): the growth of each order's filled quantity since it was last seen."""
        out: list[VenueFill] = []
        for row in await self._listing(self._since_params(since_ns)):
            o, _, instrument = order_parts(row)
            order_id = str(o.get("orderId"))
            seen = self._reported.get(order_id, (Decimal(0), Decimal(0)))
            cid = self._cids.get(order_id)
            new = fills_of(row, seen, cid)
            if new:
                self._reported[order_id] = (
                    seen[0] + new[0].quantity,
                    Decimal(str(instrument["averageExecutionPrice"])),
                )
            out += [f for f in new if f.ts >= since_ns]
        return out
