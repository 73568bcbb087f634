"""The E*TRADE adapter through its real HTTP client (httpx, signed by authlib's OAuth 1.0a
signer) with only the transport replaced by respx, serving payloads in E*TRADE's documented
v1 JSON (tests/unit/brokers/payloads/etrade). The signature is checked against RFC 5849
HMAC-SHA1 computed here independently; every error shape must come back as a VenueError the
pool can act on, and no key, secret or token may appear in a repr, an error or a log line."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import httpx
import pytest
import respx
from pydantic import SecretStr

from neural_trader.brokers.base import Failure, VenueError
from neural_trader.brokers.etrade import (
    OAUTH_URL,
    SANDBOX_URL,
    EtradeBroker,
    access_token,
    authorize_url,
    request_token,
)
from neural_trader.brokers.etrade_orders import STATUSES, venue_client_id
from neural_trader.brokers.resilience import TokenBucket
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce

PAYLOADS = Path(__file__).parent / "payloads" / "etrade"
KEY = "ck0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5"
SECRET = "cs-etrade-consumer-secret-never-shown"
TOKEN = "at+etrade/access=token"
TOKEN_SECRET = "ts-etrade-token-secret-never-shown"
SECRETS = (KEY, SECRET, TOKEN, TOKEN_SECRET)
ACCOUNT = "dBZOKt9xDrtRSAOl4MSiiA"
ORDERS = f"/v1/accounts/{ACCOUNT}/orders"
CID = "sma-1700000000000000000-1"
S = OrderStatus


def serve(name: str, status: int = 200) -> httpx.Response:
    """A recorded payload as the venue sends it: raw JSON bytes, numbers as written."""
    body = (PAYLOADS / name).read_bytes()
    return httpx.Response(status, content=body, headers={"Content-Type": "application/json"})


def error(status: int, code: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"Error": {"code": code, "message": message}})


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


@pytest.fixture
def venue() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=SANDBOX_URL, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def broker(venue: respx.MockRouter) -> EtradeBroker:
    venue.get("/v1/accounts/list.json").mock(return_value=serve("accounts_list.json"))
    b = make_broker()
    await b.connect()
    venue.calls.clear()
    return b


def make_broker(**kwargs: Any) -> EtradeBroker:
    return EtradeBroker(
        SecretStr(KEY),
        SecretStr(SECRET),
        SecretStr(TOKEN),
        SecretStr(TOKEN_SECRET),
        paper=True,
        timeout_s=5.0,
        **kwargs,
    )


def limit_order(cid: str = CID, tif: TimeInForce = TimeInForce.DAY) -> Order:
    return Order(
        cid,
        "sma",
        "AAPL",
        OrderSide.BUY,
        Decimal(10),
        OrderType.LIMIT,
        limit_price=Decimal("150.25"),
        time_in_force=tif,
    )


def sent_json(route: respx.Route, n: int = 0) -> Any:
    return json.loads(route.calls[n].request.content)


# -- OAuth 1.0a, computed independently (RFC 5849 sections 3.4.1 and 3.4.2) -------------------
def oauth_params(request: httpx.Request) -> dict[str, str]:
    header = request.headers["Authorization"]
    assert header.startswith("OAuth ")
    return {k: unquote(v) for k, v in re.findall(r'(\w+)="([^"]*)"', header)}


def rfc5849_hmac_sha1(request: httpx.Request, consumer_secret: str, token_secret: str) -> str:
    def enc(text: str) -> str:
        return quote(text, safe="~")  # RFC 3986 unreserved characters stay as they are

    url = urlsplit(str(request.url))
    base_uri = f"{url.scheme.lower()}://{(url.hostname or '').lower()}{url.path}"
    pairs = parse_qsl(url.query, keep_blank_values=True)
    pairs += [(k, v) for k, v in oauth_params(request).items() if k not in ("oauth_signature",)]
    normalized = "&".join(f"{k}={v}" for k, v in sorted((enc(k), enc(v)) for k, v in pairs))
    base = "&".join([request.method.upper(), enc(base_uri), enc(normalized)])
    key = f"{enc(consumer_secret)}&{enc(token_secret)}"
    digest = hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


async def test_signature_matches_an_independent_rfc5849_computation(
    broker: EtradeBroker, venue: respx.MockRouter
) -> None:
    route = venue.get(f"/v1/accounts/{ACCOUNT}/balance.json").mock(
        return_value=serve("balance.json")
    )
    await broker.account()
    request = route.calls[0].request
    params = oauth_params(request)
    assert params["oauth_consumer_key"] == KEY and params["oauth_token"] == TOKEN
    assert params["oauth_signature_method"] == "HMAC-SHA1" and params["oauth_version"] == "1.0"
    assert dict(parse_qsl(urlsplit(str(request.url)).query)) == {
        "instType": "BROKERAGE",
        "realTimeNAV": "true",
    }
    assert params["oauth_signature"] == rfc5849_hmac_sha1(request, SECRET, TOKEN_SECRET)
    # and a signature made with another secret does not match (the check can fail)
    assert params["oauth_signature"] != rfc5849_hmac_sha1(request, SECRET, "other")


async def test_a_json_body_is_sent_whole_and_left_out_of_the_signature(
    broker: EtradeBroker, venue: respx.MockRouter
) -> None:
    preview = venue.post(f"{ORDERS}/preview.json").mock(return_value=serve("preview_order.json"))
    venue.post(f"{ORDERS}/place.json").mock(return_value=serve("place_order.json"))
    await broker.place_order(limit_order())
    request = preview.calls[0].request
    assert sent_json(preview)["PreviewOrderRequest"]["orderType"] == "EQ"
    assert "oauth_body_hash" not in oauth_params(request)
    assert oauth_params(request)["oauth_signature"] == rfc5849_hmac_sha1(
        request, SECRET, TOKEN_SECRET
    )


# -- accounts ---------------------------------------------------------------------------------
async def test_connect_picks_the_one_active_brokerage_account(
    broker: EtradeBroker,
) -> None:
    assert broker.account_id_key == ACCOUNT  # the CLOSED one is not a candidate


async def test_several_accounts_need_an_account_id_key(venue: respx.MockRouter) -> None:
    listing = payload("accounts_list.json")
    listing["AccountListResponse"]["Accounts"]["Account"][1]["accountStatus"] = "ACTIVE"
    venue.get("/v1/accounts/list.json").respond(json=listing)
    with pytest.raises(VenueError) as info:
        await make_broker().connect()
    assert info.value.failure is Failure.INVALID
    assert "extra.account_id_key" in info.value.message and ACCOUNT in info.value.message
    chosen = make_broker(account_id_key="Wfrx3sHt6u0x3BBq1r8PzQ")
    await chosen.connect()
    assert chosen.account_id_key == "Wfrx3sHt6u0x3BBq1r8PzQ"
    with pytest.raises(VenueError) as wrong:
        await make_broker(account_id_key="nope").connect()
    assert wrong.value.failure is Failure.INVALID and "'nope'" in wrong.value.message


async def test_account_reads_exact_decimals(broker: EtradeBroker, venue: respx.MockRouter) -> None:
    venue.get(f"/v1/accounts/{ACCOUNT}/balance.json").mock(return_value=serve("balance.json"))
    account = await broker.account()
    assert account.cash == Decimal("4426.37") and account.buying_power == Decimal("4426.37")
    assert account.equity == Decimal("4500.4852") and account.currency == "USD"


async def test_positions_signed_options_left_out(
    broker: EtradeBroker, venue: respx.MockRouter
) -> None:
    route = venue.get(f"/v1/accounts/{ACCOUNT}/portfolio.json").mock(
        return_value=serve("portfolio.json")
    )
    held = {p.symbol: p for p in await broker.positions()}
    assert set(held) == {"COCP", "TBLT"}  # the AAPL call option is not the AAPL stock
    assert held["COCP"].quantity == Decimal(53) and held["COCP"].avg_price == Decimal("1.405")
    assert held["TBLT"].quantity == Decimal(-1426)
    assert route.calls[0].request.url.params["pageNumber"] == "1"


async def test_no_positions_is_an_empty_list(broker: EtradeBroker, venue: respx.MockRouter) -> None:
    venue.get(f"/v1/accounts/{ACCOUNT}/portfolio.json").respond(204)
    assert await broker.positions() == []


# -- orders -----------------------------------------------------------------------------------
async def test_place_previews_then_places_with_the_preview_id(
    broker: EtradeBroker, venue: respx.MockRouter
) -> None:
    preview = venue.post(f"{ORDERS}/preview.json").mock(return_value=serve("preview_order.json"))
    place = venue.post(f"{ORDERS}/place.json").mock(return_value=serve("place_order.json"))
    placed = await broker.place_order(limit_order())
    previewed = sent_json(preview)["PreviewOrderRequest"]
    placing = sent_json(place)["PlaceOrderRequest"]
    assert placing["PreviewIds"] == [{"previewId": 266606056106}]
    assert placing["Order"] == previewed["Order"]  # E*TRADE refuses a place unlike its preview
    assert placing["clientOrderId"] == previewed["clientOrderId"] == venue_client_id(CID)
    detail = previewed["Order"][0]
    assert (detail["priceType"], detail["orderTerm"]) == ("LIMIT", "GOOD_FOR_DAY")
    assert b'"limitPrice":150.25,' in preview.calls[0].request.content  # the exact number
    assert "stopPrice" not in detail
    instrument = detail["Instrument"][0]
    assert instrument["Product"] == {"securityType": "EQ", "symbol": "AAPL"}
    assert (instrument["orderAction"], instrument["quantity"]) == ("BUY", 10)
    assert placed.venue_order_id == "673" and placed.client_order_id == CID
    assert placed.status is OrderStatus.SUBMITTED and placed.ts == 1582555141165 * 1_000_000


def test_client_ids_map_onto_e_trade_s_20_alphanumerics() -> None:
    assert venue_client_id("abc123") == "abc123"  # fits: sent unchanged
    long = venue_client_id(CID)
    assert re.fullmatch(r"[0-9a-f]{20}", long)
    assert long == hashlib.sha256(CID.encode()).hexdigest()[:20]  # stable across processes
    assert venue_client_id(CID + "x") != long


async def test_a_second_place_of_the_same_id_is_a_duplicate(
    broker: EtradeBroker, venue: respx.MockRouter
) -> None:
    preview = venue.post(f"{ORDERS}/preview.json").mock(return_value=serve("preview_order.json"))
    venue.post(f"{ORDERS}/place.json").mock(return_value=serve("place_order.json"))
    await broker.place_order(limit_order())
    with pytest.raises(VenueError) as info:
        await broker.place_order(limit_order())
    assert info.value.failure is Failure.DUPLICATE and preview.call_count == 1
    # A client that did not place it learns it from E*TRADE's refusal.
    fresh = make_broker(account_id_key=ACCOUNT)
    venue.get("/v1/accounts/list.json").mock(return_value=serve("accounts_list.json"))
    await fresh.connect()
    venue.post(f"{ORDERS}/place.json").mock(
        return_value=error(400, 1044, "Duplicate order: this client order ID was already used.")
    )
    with pytest.raises(VenueError) as again:
        await fresh.place_order(limit_order())
    assert again.value.failure is Failure.DUPLICATE and not again.value.transient


async def test_an_order_of_another_client_is_adopted_by_its_client_order_id(
    broker: EtradeBroker, venue: respx.MockRouter
) -> None:
    # The pool's path after a place whose reply was lost: the resend is refused as a
    # duplicate, and get_order finds the order by the clientOrderId the listing carries.
    venue.post(f"{ORDERS}/preview.json").mock(
        return_value=error(400, 1044, "Duplicate client order id.")
    )
    listing = payload("orders_open.json")
    listing["OrdersResponse"]["Order"][0]["clientOrderId"] = venue_client_id(CID)
    venue.get(f"{ORDERS}.json").respond(json=listing)
    venue.put(f"{ORDERS}/cancel.json").mock(return_value=serve("cancel_order.json"))
    with pytest.raises(VenueError) as info:
        await broker.place_order(limit_order())
    assert info.value.failure is Failure.DUPLICATE
    found = await broker.get_order(CID, "AAPL")
    assert found is not None and (found.venue_order_id, found.client_order_id) == ("673", CID)
    assert [o.client_order_id for o in await broker.open_orders()] == [CID, ""]
    await broker.cancel_order(CID, "AAPL")  # now known by its orderId


async def test_ioc_market_orders_are_refused_before_sending(broker: EtradeBroker) -> None:
    order = Order(CID, "s", "AAPL", OrderSide.BUY, Decimal(1), time_in_force=TimeInForce.IOC)
    with pytest.raises(VenueError) as info:
        await broker.place_order(order)
    assert info.value.failure is Failure.UNSUPPORTED


async def test_cancel_sends_the_venue_order_id(
    broker: EtradeBroker, venue: respx.MockRouter
) -> None:
    venue.post(f"{ORDERS}/preview.json").mock(return_value=serve("preview_order.json"))
    venue.post(f"{ORDERS}/place.json").mock(return_value=serve("place_order.json"))
    cancel = venue.put(f"{ORDERS}/cancel.json").mock(return_value=serve("cancel_order.json"))
    await broker.place_order(limit_order())
    await broker.cancel_order(CID, "AAPL")
    assert sent_json(cancel) == {"CancelOrderRequest": {"orderId": 673}}


async def test_cancel_of_an_unknown_order_is_not_found(
    broker: EtradeBroker, venue: respx.MockRouter
) -> None:
    venue.get(f"{ORDERS}.json").respond(204)  # E*TRADE's empty listing
    with pytest.raises(VenueError) as info:
        await broker.cancel_order("never-placed", "AAPL")
    assert info.value.failure is Failure.NOT_FOUND


async def test_get_order_by_our_id(broker: EtradeBroker, venue: respx.MockRouter) -> None:
    venue.post(f"{ORDERS}/preview.json").mock(return_value=serve("preview_order.json"))
    venue.post(f"{ORDERS}/place.json").mock(return_value=serve("place_order.json"))
    venue.get(f"{ORDERS}/673.json").mock(return_value=serve("order_executed.json"))
    await broker.place_order(limit_order())
    found = await broker.get_order(CID, "AAPL")
    assert found is not None and found.status is OrderStatus.FILLED
    assert found.venue_status == "EXECUTED" and found.client_order_id == CID
    assert found.avg_price == Decimal("150.22") and found.filled_quantity == Decimal(10)
    assert found.stop_price is None and found.limit_price == Decimal("150.25")
    assert found.ts == 1582555152157 * 1_000_000


async def test_get_order_of_an_unknown_id_is_none(
    broker: EtradeBroker, venue: respx.MockRouter
) -> None:
    listing = venue.get(f"{ORDERS}.json").mock(return_value=serve("orders_open.json"))
    assert await broker.get_order("elsewhere-1", "AAPL") is None
    assert {"fromDate", "toDate"} <= set(listing.calls[0].request.url.params)
    # an order that vanished from E*TRADE's books
    venue.post(f"{ORDERS}/preview.json").mock(return_value=serve("preview_order.json"))
    venue.post(f"{ORDERS}/place.json").mock(return_value=serve("place_order.json"))
    venue.get(f"{ORDERS}/673.json").mock(return_value=error(404, 2, "Order not found"))
    await broker.place_order(limit_order())
    assert await broker.get_order(CID, "AAPL") is None


async def test_open_orders_map_states(broker: EtradeBroker, venue: respx.MockRouter) -> None:
    route = venue.get(f"{ORDERS}.json").mock(return_value=serve("orders_open.json"))
    venue.post(f"{ORDERS}/preview.json").mock(return_value=serve("preview_order.json"))
    venue.post(f"{ORDERS}/place.json").mock(return_value=serve("place_order.json"))
    await broker.place_order(limit_order())
    listed = {o.venue_order_id: o for o in await broker.open_orders()}
    assert route.calls[0].request.url.params["status"] == "OPEN"
    assert listed["673"].status is OrderStatus.ACCEPTED and listed["673"].client_order_id == CID
    partial = listed["676"]
    assert partial.status is OrderStatus.PARTIALLY_FILLED and partial.client_order_id == ""
    assert (partial.side, partial.order_type) == (OrderSide.SELL, OrderType.STOP_LIMIT)
    assert (partial.limit_price, partial.stop_price) == (Decimal("1.34"), Decimal("1.36"))
    assert partial.filled_quantity == Decimal(20) and partial.avg_price == Decimal("1.3412")


async def test_option_orders_of_the_account_are_left_out(
    broker: EtradeBroker, venue: respx.MockRouter
) -> None:
    listing = payload("orders_open.json")
    option = json.loads(json.dumps(listing["OrdersResponse"]["Order"][1]))
    option["orderId"], option["orderType"] = 677, "OPTN"
    leg = option["OrderDetail"][0]["Instrument"][0]
    leg["orderAction"], leg["Product"] = "BUY_OPEN", {"symbol": "COCP", "securityType": "OPTN"}
    listing["OrdersResponse"]["Order"].append(option)
    venue.get(f"{ORDERS}.json").respond(json=listing)
    assert {o.venue_order_id for o in await broker.open_orders()} == {"673", "676"}
    assert {f.venue_order_id for f in await broker.fills(0, [])} == {"676"}


def test_every_documented_state_is_in_the_table() -> None:
    one, none = Decimal(1), Decimal(0)
    expected = {
        "OPEN": S.ACCEPTED,
        "CANCEL_REQUESTED": S.ACCEPTED,
        "PARTIAL": S.PARTIALLY_FILLED,
        "INDIVIDUAL_FILLS": S.PARTIALLY_FILLED,
        "EXECUTED": S.FILLED,
        "DONE_TRADE_EXECUTED": S.FILLED,
        "CANCELLED": S.CANCELED,
        "EXPIRED": S.EXPIRED,
        "REJECTED": S.REJECTED,
    }
    assert {state: STATUSES.map(state, one, none) for state in expected} == expected
    # a cancel that is still pending on a part-filled order: partially filled
    assert STATUSES.map("CANCEL_REQUESTED", Decimal(5), Decimal(2)) is S.PARTIALLY_FILLED


async def test_prices_that_cannot_be_sent_exactly_are_refused(broker: EtradeBroker) -> None:
    order = Order(
        CID, "s", "AAPL", OrderSide.BUY, Decimal(1), OrderType.LIMIT, Decimal("1.0000000000000001")
    )
    with pytest.raises(VenueError) as info:
        await broker.place_order(order)
    assert info.value.failure is Failure.INVALID and "limit price" in info.value.message


async def test_unknown_state_is_surfaced_with_the_raw_state(
    broker: EtradeBroker, venue: respx.MockRouter
) -> None:
    listing = payload("orders_open.json")
    listing["OrdersResponse"]["Order"][0]["OrderDetail"][0]["status"] = "OPTION_EXERCISE"
    venue.get(f"{ORDERS}.json").respond(json=listing)
    with pytest.raises(VenueError) as info:
        await broker.open_orders()
    assert info.value.failure is Failure.UNKNOWN_STATE
    assert info.value.context["state"] == "OPTION_EXERCISE"


# -- fills ------------------------------------------------------------------------------------
async def test_fills_follow_markers_and_report_each_range_once(
    broker: EtradeBroker, venue: respx.MockRouter
) -> None:
    route = venue.get(f"{ORDERS}.json")
    route.side_effect = [serve("orders_day_page1.json"), serve("orders_day_page2.json")]
    since = 1582500000 * 10**9
    fills = {f.fill_id: f for f in await broker.fills(since, ["AAPL"])}
    assert set(fills) == {"673:0-4", "670:0-1406"}  # 675 was cancelled unfilled
    assert route.calls[1].request.url.params["marker"] == "MTU4MjU1NTAzNjM1OSwxNjczNjQ4MQ"
    # E*TRADE keeps two years of history: an older start is asked from two years back
    oldest = datetime.now(UTC).date() - timedelta(days=730)
    assert route.calls[0].request.url.params["fromDate"] == oldest.strftime("%m%d%Y")
    partial = fills["673:0-4"]
    assert (partial.quantity, partial.price, partial.commission) == (
        Decimal(4),
        Decimal("150.2"),
        Decimal(0),
    )
    done = fills["670:0-1406"]
    assert (done.side, done.price, done.commission) == (
        OrderSide.SELL,
        Decimal("0.206"),
        Decimal("0.1673"),  # the estimated commission, with the fill that completes it
    )
    assert done.ts == 1582555041400 * 1_000_000 and done.venue_order_id == "670"
    # Later 673 completes at an average of 150.23: the new 6 shares cost 150.25 each.
    later = payload("order_executed.json")
    later["OrdersResponse"]["Order"][0]["OrderDetail"][0]["Instrument"][0][
        "averageExecutionPrice"
    ] = "150.23"
    route.side_effect = None
    route.respond(json=later)
    rest = await broker.fills(since, [])
    assert [(f.fill_id, f.quantity, f.price) for f in rest] == [
        ("673:4-10", Decimal(6), Decimal("150.25"))
    ]
    assert rest[0].commission == Decimal("0.173")
    assert await broker.fills(since, []) == []  # nothing new: nothing again


# -- error shapes -----------------------------------------------------------------------------
ERROR_SHAPES = [
    (
        error(
            400, 1037, "This order cannot be accepted due to insufficient funds in your account."
        ),
        Failure.INSUFFICIENT_FUNDS,
    ),
    (error(400, 1527, "The order exceeds your buying power."), Failure.INSUFFICIENT_FUNDS),
    (error(400, 8102, "The symbol you entered is not a valid symbol."), Failure.REJECTED),
    (
        error(400, 101, "For your protection, we have timed out your original order request."),
        Failure.REJECTED,
    ),
    (error(400, 100, "Account key does not belong to user."), Failure.INVALID),
    (error(400, 102, "Please enter valid account key."), Failure.INVALID),
    (httpx.Response(429, text="Too Many Requests"), Failure.RATE_LIMITED),
    (error(500, 500, "An unexpected error has occurred."), Failure.UNAVAILABLE),
    (httpx.Response(503, text="<html>Service Unavailable</html>"), Failure.UNAVAILABLE),
    (httpx.Response(502, text=""), Failure.UNAVAILABLE),
]


@pytest.mark.parametrize(("reply", "failure"), ERROR_SHAPES)
async def test_error_shapes(
    broker: EtradeBroker, venue: respx.MockRouter, reply: httpx.Response, failure: Failure
) -> None:
    venue.post(f"{ORDERS}/preview.json").mock(return_value=reply)
    with pytest.raises(VenueError) as info:
        await broker.place_order(limit_order())
    assert info.value.failure is failure
    assert info.value.context["status"] == reply.status_code
    assert info.value.transient is (failure in (Failure.RATE_LIMITED, Failure.UNAVAILABLE))


async def test_rejection_message_reaches_the_error(
    broker: EtradeBroker, venue: respx.MockRouter
) -> None:
    venue.post(f"{ORDERS}/preview.json").mock(return_value=serve("preview_order.json"))
    venue.post(f"{ORDERS}/place.json").mock(
        return_value=error(400, 8102, "The symbol you entered is not a valid symbol.")
    )
    with pytest.raises(VenueError) as info:
        await broker.place_order(limit_order())
    assert info.value.failure is Failure.REJECTED and info.value.context["code"] == "8102"
    assert "not a valid symbol" in info.value.message


async def test_an_idle_token_is_renewed_and_the_call_repeated(
    broker: EtradeBroker, venue: respx.MockRouter
) -> None:
    balance = venue.get(f"/v1/accounts/{ACCOUNT}/balance.json")
    balance.side_effect = [
        httpx.Response(401, text="oauth_problem=token_expired"),
        serve("balance.json"),
    ]
    renew = venue.get(f"{OAUTH_URL}/renew_access_token").respond(
        200, text="Access Token has been renewed"
    )
    account = await broker.account()
    assert account.cash == Decimal("4426.37")
    assert (balance.call_count, renew.call_count) == (2, 1)
    assert oauth_params(renew.calls[0].request)["oauth_token"] == TOKEN


async def test_an_expired_token_is_a_clear_auth_error(
    broker: EtradeBroker, venue: respx.MockRouter
) -> None:
    venue.get(f"/v1/accounts/{ACCOUNT}/balance.json").respond(
        401, text=f"oauth_problem=token_rejected&oauth_token={TOKEN}"
    )
    venue.get(f"{OAUTH_URL}/renew_access_token").respond(401, text="oauth_problem=token_expired")
    with pytest.raises(VenueError) as info:
        await broker.account()
    assert info.value.failure is Failure.AUTH and not info.value.transient
    assert "midnight US Eastern" in info.value.message
    assert "token_expired" in info.value.message


async def test_refused_after_a_renewal_is_auth(
    broker: EtradeBroker, venue: respx.MockRouter
) -> None:
    venue.get(f"/v1/accounts/{ACCOUNT}/balance.json").respond(
        401, text="oauth_problem=token_rejected"
    )
    venue.get(f"{OAUTH_URL}/renew_access_token").respond(200, text="renewed")
    with pytest.raises(VenueError) as info:
        await broker.account()
    assert info.value.failure is Failure.AUTH and "token_rejected" in info.value.message


@pytest.mark.parametrize(
    ("raised", "failure"),
    [
        (httpx.ReadTimeout("read timed out"), Failure.TIMEOUT),
        (httpx.ConnectTimeout("connect timed out"), Failure.TIMEOUT),
        (httpx.ConnectError("connection refused"), Failure.UNAVAILABLE),
        (httpx.RemoteProtocolError("peer closed connection"), Failure.UNAVAILABLE),
    ],
)
async def test_transport_failures_are_transient(
    broker: EtradeBroker, venue: respx.MockRouter, raised: Exception, failure: Failure
) -> None:
    venue.post(f"{ORDERS}/preview.json").mock(return_value=serve("preview_order.json"))
    venue.post(f"{ORDERS}/place.json").mock(side_effect=raised)
    with pytest.raises(VenueError) as info:
        await broker.place_order(limit_order())
    assert info.value.failure is failure and info.value.transient


@pytest.mark.parametrize(
    ("path", "reply"),
    [
        ("balance.json", httpx.Response(200, text="<html>maintenance</html>")),
        ("balance.json", httpx.Response(200, json={"BalanceResponse": {"Computed": {}}})),
        ("balance.json", httpx.Response(200, json={"Unexpected": {}})),
        (
            "portfolio.json",
            httpx.Response(200, json={"PortfolioResponse": {"AccountPortfolio": 7}}),
        ),
        (
            "portfolio.json",
            httpx.Response(
                200,
                json={
                    "PortfolioResponse": {
                        "AccountPortfolio": [
                            {"Position": [{"quantity": "lots", "Product": {"securityType": "EQ"}}]}
                        ]
                    }
                },
            ),
        ),
    ],
)
async def test_malformed_account_replies(
    broker: EtradeBroker, venue: respx.MockRouter, path: str, reply: httpx.Response
) -> None:
    venue.get(f"/v1/accounts/{ACCOUNT}/{path}").mock(return_value=reply)
    with pytest.raises(VenueError) as info:
        await (broker.account() if path == "balance.json" else broker.positions())
    assert info.value.failure is Failure.MALFORMED


async def test_malformed_order_replies(broker: EtradeBroker, venue: respx.MockRouter) -> None:
    preview = venue.post(f"{ORDERS}/preview.json")
    place = venue.post(f"{ORDERS}/place.json")
    no_id = payload("preview_order.json")
    del no_id["PreviewOrderResponse"]["PreviewIds"]
    preview.respond(json=no_id)
    with pytest.raises(VenueError) as info:
        await broker.place_order(limit_order("a1"))
    assert info.value.failure is Failure.MALFORMED and place.call_count == 0
    preview.mock(return_value=serve("preview_order.json"))
    place.respond(json={"PlaceOrderResponse": {"OrderIds": []}})
    with pytest.raises(VenueError) as empty:
        await broker.place_order(limit_order("a2"))
    assert empty.value.failure is Failure.MALFORMED
    listing = payload("orders_open.json")
    del listing["OrdersResponse"]["Order"][0]["OrderDetail"][0]["Instrument"][0]["orderedQuantity"]
    venue.get(f"{ORDERS}.json").respond(json=listing)
    with pytest.raises(VenueError) as missing:
        await broker.open_orders()
    assert missing.value.failure is Failure.MALFORMED and "orderedQuantity" in missing.value.message


async def test_health_and_the_shared_request_budget(
    broker: EtradeBroker, venue: respx.MockRouter
) -> None:
    venue.get("/v1/accounts/list.json").mock(return_value=serve("accounts_list.json"))
    venue.get(f"/v1/accounts/{ACCOUNT}/balance.json").mock(return_value=serve("balance.json"))
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    broker.limit_rate(TokenBucket(2.0, burst=1, clock=lambda: 0.0, sleep=sleep))
    health = await broker.health()
    assert health.ok and health.detail == "2 accounts"
    await broker.account()  # the bucket is empty on a frozen clock: this request waited
    assert slept == [0.5]


async def test_not_connected_is_unavailable() -> None:
    with pytest.raises(VenueError) as info:
        await make_broker().account()
    assert info.value.failure is Failure.UNAVAILABLE


# -- the OAuth flow ---------------------------------------------------------------------------
async def test_oauth_flow_request_authorize_access(venue: respx.MockRouter) -> None:
    asked = venue.get(f"{OAUTH_URL}/request_token").respond(
        200,
        text="oauth_token=rq%2Btok%3D&oauth_token_secret=rq%2Fsec&oauth_callback_confirmed=true",
    )
    token, secret = await request_token(SecretStr(KEY), SecretStr(SECRET))
    assert (token, secret.get_secret_value()) == ("rq+tok=", "rq/sec")  # URL-decoded
    first_leg = oauth_params(asked.calls[0].request)
    assert first_leg["oauth_callback"] == "oob" and "oauth_token" not in first_leg
    assert first_leg["oauth_signature"] == rfc5849_hmac_sha1(asked.calls[0].request, SECRET, "")
    url = httpx.URL(authorize_url(SecretStr(KEY), token))
    assert (url.host, url.params["key"], url.params["token"]) == (
        "us.etrade.com",
        KEY,
        "rq+tok=",
    )
    exchanged = venue.get(f"{OAUTH_URL}/access_token").respond(
        200, text="oauth_token=ac%2Btok&oauth_token_secret=ac%3Dsec"
    )
    new_token, new_secret = await access_token(
        SecretStr(KEY), SecretStr(SECRET), token, secret, " 8G4K2 "
    )
    assert (new_token.get_secret_value(), new_secret.get_secret_value()) == ("ac+tok", "ac=sec")
    last_leg = oauth_params(exchanged.calls[0].request)
    assert (last_leg["oauth_verifier"], last_leg["oauth_token"]) == ("8G4K2", "rq+tok=")
    assert last_leg["oauth_signature"] == rfc5849_hmac_sha1(
        exchanged.calls[0].request, SECRET, "rq/sec"
    )


async def test_oauth_flow_failures(venue: respx.MockRouter) -> None:
    venue.get(f"{OAUTH_URL}/request_token").respond(401, text="oauth_problem=consumer_key_rejected")
    with pytest.raises(VenueError) as info:
        await request_token(SecretStr(KEY), SecretStr(SECRET))
    assert info.value.failure is Failure.AUTH and "consumer_key_rejected" in info.value.message
    venue.get(f"{OAUTH_URL}/access_token").respond(200, text="oauth_token=only-half")
    with pytest.raises(VenueError) as half:
        await access_token(SecretStr(KEY), SecretStr(SECRET), "t", SecretStr("s"), "v")
    assert half.value.failure is Failure.MALFORMED


# -- secrets ----------------------------------------------------------------------------------
async def test_secrets_never_in_errors_reprs_or_logs(
    broker: EtradeBroker, venue: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen = [repr(broker), repr(broker._signer)]
    venue.get(f"/v1/accounts/{ACCOUNT}/balance.json").respond(
        401, text=f"oauth_problem=token_rejected&oauth_token={quote(TOKEN)}&token={TOKEN}"
    )
    venue.get(f"{OAUTH_URL}/renew_access_token").respond(401, text=f"bad token {TOKEN}")
    venue.post(f"{ORDERS}/preview.json").mock(side_effect=httpx.ConnectError(f"failed {KEY}"))
    for call in (broker.account(), broker.place_order(limit_order())):
        with pytest.raises(VenueError) as info:
            await call
        seen += [str(info.value), repr(info.value), json.dumps(info.value.context, default=str)]
    seen.append(caplog.text)
    for text in seen:
        for secret in (*SECRETS, quote(TOKEN)):
            assert secret not in text
