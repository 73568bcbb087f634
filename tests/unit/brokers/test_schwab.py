"""The Schwab adapter through the real schwab-py async client (authlib's OAuth2 client over
httpx), with httpx's transport replaced by ``respx`` serving payloads in the Trader API's
documented shapes (tests/unit/brokers/payloads/schwab). Each error shape must come back as a
VenueError the pool can act on; no app key, secret or token may ever appear in an error, a
repr or a log line; the token file is only ever written where the settings name it."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr
from schwab.client import AsyncClient
from structlog.testing import capture_logs

from neural_trader.brokers.base import Failure, VenueError
from neural_trader.brokers.resilience import TokenBucket
from neural_trader.brokers.schwab import (
    STATUSES,
    TD_AMERITRADE_NOTICE,
    SchwabBroker,
    build_schwab,
    td_ameritrade_notice,
)
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce
from neural_trader.errors import ConfigError

PAYLOADS = Path(__file__).parent / "payloads" / "schwab"
API = "https://api.schwabapi.com"
TOKEN_URL = f"{API}/v1/oauth/token"
KEY = "SCHWABAPPKEY0123456789abcdefABCD"
SECRET = "schwab-app-secret-never-shown"
ACCESS = "I0.access-token-value-never-shown"
REFRESH = "refresh-token-value-never-shown"
HASH = "E5B5DA8A1C2F0E7D4B3A96C1F0D2E3B4A5968778695A4B3C2D1E0F9A8B7C6D5E"
ACCOUNT = f"/trader/v1/accounts/{HASH}"
ORDERS = f"{ACCOUNT}/orders"
OID = 1000512345678
CID = "sma-1711722602000000000-1"


def text(name: str) -> str:
    return (PAYLOADS / name).read_text()


def payload(name: str) -> Any:
    return json.loads(text(name))


def reply(body: Any, status: int = 200) -> httpx.Response:
    raw = body if isinstance(body, str) else json.dumps(body)
    return httpx.Response(status, content=raw, headers={"Content-Type": "application/json"})


def placed(oid: int = OID) -> httpx.Response:
    return httpx.Response(201, headers={"Location": f"{API}{ORDERS}/{oid}"})


def write_token(path: Path, expires_at: float) -> None:
    token = {
        "access_token": ACCESS,
        "refresh_token": REFRESH,
        "token_type": "Bearer",
        "expires_in": 1800,
        "scope": "api",
        "id_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.e30.x",
        "expires_at": expires_at,
    }
    path.write_text(json.dumps({"creation_timestamp": int(time.time()), "token": token}))


@pytest.fixture
def token_path(tmp_path: Path) -> Path:
    path = tmp_path / "schwab-token.json"
    write_token(path, 4102444800)  # 2100: no refresh needed
    return path


@pytest.fixture
def http() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False) as mock:
        yield mock


def new_broker(token_path: Path, **kwargs: Any) -> SchwabBroker:
    kwargs.setdefault("account_number", "12345678")
    return SchwabBroker(SecretStr(KEY), SecretStr(SECRET), token_path, timeout_s=7.5, **kwargs)


@pytest.fixture
async def broker(http: respx.MockRouter, token_path: Path) -> AsyncIterator[SchwabBroker]:
    http.get("/trader/v1/accounts/accountNumbers").mock(reply(text("account_numbers.json")))
    http.get(ACCOUNT).mock(reply(text("account_margin.json")))
    b = new_broker(token_path)
    await b.connect()
    http.reset()
    http.routes.clear()
    yield b
    await b.close()


def limit_order(cid: str = CID, qty: str = "10", tif: TimeInForce = TimeInForce.DAY) -> Order:
    return Order(
        cid,
        "sma",
        "AAPL",
        OrderSide.BUY,
        Decimal(qty),
        OrderType.LIMIT,
        limit_price=Decimal("150.25"),
        time_in_force=tif,
    )


def sent_json(route: respx.Route, n: int = -1) -> Any:
    return json.loads(route.calls[n].request.content)


# -- account and positions -------------------------------------------------------------------
async def test_connect_maps_the_account_number_to_its_hash_and_reads_exact_balances(
    http: respx.MockRouter, token_path: Path
) -> None:
    numbers = http.get("/trader/v1/accounts/accountNumbers").mock(
        reply(text("account_numbers.json"))
    )
    account = http.get(ACCOUNT).mock(reply(text("account_margin.json")))
    b = new_broker(token_path)
    await b.connect()
    assert numbers.called and b.account_hash == HASH
    got = await b.account()
    assert got.cash == Decimal("38706.12") and got.buying_power == Decimal("73970.66")
    assert got.equity == Decimal("64122.62") and got.currency == "USD"
    sent = account.calls.last.request
    assert sent.headers["Authorization"] == f"Bearer {ACCESS}"  # the token, in the header only
    assert "fields" not in sent.url.params
    await b.close()


async def test_one_account_needs_no_number_and_an_unknown_number_is_refused(
    http: respx.MockRouter, token_path: Path
) -> None:
    one = payload("account_numbers.json")[:1]
    http.get("/trader/v1/accounts/accountNumbers").mock(reply(one))
    http.get(ACCOUNT).mock(reply(text("account_margin.json")))
    b = new_broker(token_path, account_number=None)
    await b.connect()
    assert b.account_hash == HASH
    await b.close()
    with pytest.raises(VenueError, match="ending 9999 is not among") as info:
        await new_broker(token_path, account_number="99999999").connect()
    assert info.value.failure is Failure.NOT_FOUND


async def test_several_accounts_and_none_named_is_a_clear_error(
    http: respx.MockRouter, token_path: Path
) -> None:
    http.get("/trader/v1/accounts/accountNumbers").mock(reply(text("account_numbers.json")))
    with pytest.raises(VenueError, match=r"reaches 2 accounts.*extra.account_number") as info:
        await new_broker(token_path, account_number=None).connect()
    assert info.value.failure is Failure.INVALID


async def test_cash_account_buying_power_is_cash_available_for_trading(
    broker: SchwabBroker, http: respx.MockRouter
) -> None:
    http.get(ACCOUNT).mock(reply(text("account_cash.json")))
    got = await broker.account()
    assert got.buying_power == Decimal("1010.55") and got.cash == Decimal("1210.55")
    assert got.equity == Decimal("4522.05")


async def test_positions_are_signed_and_asked_for_with_fields_positions(
    broker: SchwabBroker, http: respx.MockRouter
) -> None:
    route = http.get(ACCOUNT).mock(reply(text("account_positions.json")))
    held = {p.symbol: p for p in await broker.positions()}
    assert route.calls.last.request.url.params["fields"] == "positions"
    assert held["AAPL"].quantity == Decimal(100)
    assert held["AAPL"].avg_price == Decimal("170.0612")  # exact, never through float
    assert held["F"].quantity == Decimal(-25)
    assert held["SWVXX"].quantity == Decimal(8286)


# -- orders ----------------------------------------------------------------------------------
async def test_place_limit_sends_schwab_order_json_and_reads_the_location_header(
    broker: SchwabBroker, http: respx.MockRouter
) -> None:
    route = http.post(ORDERS).mock(placed())
    report = await broker.place_order(limit_order())
    assert sent_json(route) == {
        "session": "NORMAL",
        "duration": "DAY",
        "orderType": "LIMIT",
        "price": "150.25",
        "orderStrategyType": "SINGLE",
        "orderLegCollection": [
            {
                "instruction": "BUY",
                "instrument": {"symbol": "AAPL", "assetType": "EQUITY"},
                "quantity": 10,
            }
        ],
    }
    assert report.venue_order_id == str(OID) and report.client_order_id == CID
    assert report.status is OrderStatus.SUBMITTED and report.limit_price == Decimal("150.25")


@pytest.mark.parametrize(
    ("kind", "side", "limit", "stop", "expected"),
    [
        (OrderType.MARKET, OrderSide.SELL, None, None, {"orderType": "MARKET"}),
        (
            OrderType.STOP,
            OrderSide.SELL,
            None,
            "11.95",
            {"orderType": "STOP", "stopPrice": "11.95"},
        ),
        (
            OrderType.STOP_LIMIT,
            OrderSide.BUY,
            "0.1234",
            "0.12",
            {"orderType": "STOP_LIMIT", "stopPrice": "0.12", "price": "0.1234"},
        ),
    ],
)
async def test_other_order_types_good_till_cancel(
    broker: SchwabBroker,
    http: respx.MockRouter,
    kind: OrderType,
    side: OrderSide,
    limit: str | None,
    stop: str | None,
    expected: dict[str, str],
) -> None:
    route = http.post(ORDERS).mock(placed())
    order = Order(
        CID,
        "sma",
        "F",
        side,
        Decimal(7),
        kind,
        limit_price=None if limit is None else Decimal(limit),
        stop_price=None if stop is None else Decimal(stop),
        time_in_force=TimeInForce.GTC,
    )
    await broker.place_order(order)
    body = sent_json(route)
    assert {k: body[k] for k in expected} == expected
    assert ("price" in body) == (limit is not None) and ("stopPrice" in body) == (stop is not None)
    assert body["duration"] == "GOOD_TILL_CANCEL" and body["session"] == "NORMAL"
    leg = body["orderLegCollection"][0]
    assert (leg["instruction"], leg["quantity"]) == (side.value.upper(), 7)


async def test_a_second_place_of_a_known_id_is_duplicate_and_sends_nothing(
    broker: SchwabBroker, http: respx.MockRouter
) -> None:
    route = http.post(ORDERS).mock(placed())
    await broker.place_order(limit_order())
    with pytest.raises(VenueError) as info:
        await broker.place_order(limit_order())
    assert info.value.failure is Failure.DUPLICATE and route.call_count == 1


async def test_what_schwab_cannot_express_is_refused_before_sending(
    broker: SchwabBroker, http: respx.MockRouter
) -> None:
    route = http.post(ORDERS).mock(placed())
    for order in (limit_order(qty="1.5"), limit_order(tif=TimeInForce.IOC)):
        with pytest.raises(VenueError) as info:
            await broker.place_order(order)
        assert info.value.failure is Failure.UNSUPPORTED
    assert not route.called


async def test_get_order_states_partial_fills_and_not_found(
    broker: SchwabBroker, http: respx.MockRouter
) -> None:
    http.post(ORDERS).mock(placed())
    await broker.place_order(limit_order())
    route = http.get(f"{ORDERS}/{OID}").mock(reply(text("order_working.json")))
    got = await broker.get_order(CID)
    assert got is not None and got.status is OrderStatus.ACCEPTED and got.venue_status == "WORKING"
    assert got.ts == 1711722602 * 10**9 and got.limit_price == Decimal("150.25")
    route.mock(reply(text("order_partial.json")))
    got = await broker.get_order(CID)
    assert got is not None and got.status is OrderStatus.PARTIALLY_FILLED
    assert got.filled_quantity == 4 and got.avg_price == Decimal("150.2")
    route.mock(reply(text("order_filled.json")))
    got = await broker.get_order(CID)
    assert got is not None and got.status is OrderStatus.FILLED
    assert got.avg_price == Decimal("150.23")  # (4 * 150.2 + 6 * 150.25) / 10
    route.mock(reply({"message": "Order not found", "errors": []}, 404))
    assert await broker.get_order(CID) is None
    calls = route.call_count
    assert await broker.get_order("never-placed") is None and route.call_count == calls


async def test_cancel_deletes_by_schwab_order_id(
    broker: SchwabBroker, http: respx.MockRouter
) -> None:
    http.post(ORDERS).mock(placed())
    await broker.place_order(limit_order())
    route = http.delete(f"{ORDERS}/{OID}").mock(httpx.Response(200))
    await broker.cancel_order(CID)
    assert route.call_count == 1
    with pytest.raises(VenueError) as info:
        await broker.cancel_order("never-placed")
    assert info.value.failure is Failure.NOT_FOUND


async def test_replace_sends_the_whole_order_again_and_maps_the_new_id(
    broker: SchwabBroker, http: respx.MockRouter
) -> None:
    http.post(ORDERS).mock(placed())
    await broker.place_order(limit_order())
    http.get(f"{ORDERS}/{OID}").mock(reply(text("order_working.json")))
    put = http.put(f"{ORDERS}/{OID}").mock(placed(OID + 1))
    new = await broker.replace_order(CID, "sma-r1", limit_price=Decimal("149.5"))
    body = sent_json(put)
    assert (body["price"], body["duration"], body["orderType"]) == ("149.5", "DAY", "LIMIT")
    assert body["orderLegCollection"][0]["quantity"] == 10
    assert new.client_order_id == "sma-r1" and new.venue_order_id == str(OID + 1)
    assert broker.ids.venue_ids["sma-r1"] == str(OID + 1)


async def test_open_orders_filter_the_listing_and_foreign_orders_have_no_client_id(
    broker: SchwabBroker, http: respx.MockRouter
) -> None:
    http.post(ORDERS).mock(placed(1000498765432))
    stop = Order(
        "sma-stop", "sma", "F", OrderSide.SELL, Decimal(7), OrderType.STOP,
        stop_price=Decimal("11.95"), time_in_force=TimeInForce.GTC,
    )  # fmt: skip
    await broker.place_order(stop)
    route = http.get(ORDERS).mock(reply(text("orders.json")))
    listed = await broker.open_orders()
    assert [(o.client_order_id, o.venue_status) for o in listed] == [
        ("sma-stop", "AWAITING_STOP_CONDITION")
    ]
    assert listed[0].stop_price == Decimal("11.95") and listed[0].status is OrderStatus.ACCEPTED
    # the working option and trailing-stop orders placed elsewhere are left out, not failed
    assert len(payload("orders.json")) == 6
    params = route.calls.last.request.url.params
    assert params["fromEnteredTime"] < params["toEnteredTime"] and "status" not in params


async def test_fills_come_from_execution_legs_with_stable_ids(
    broker: SchwabBroker, http: respx.MockRouter
) -> None:
    http.post(ORDERS).mock(placed())
    await broker.place_order(limit_order())
    http.get(ORDERS).mock(reply(text("orders.json")))
    fills = await broker.fills(0, ["AAPL"])
    assert [(f.fill_id, f.quantity, f.price) for f in fills] == [
        ("1000387238791:a0:0", Decimal(18), Decimal("12.6999")),  # no activityId: position
        (f"{OID}:88812340001:0", Decimal(4), Decimal("150.2")),
        (f"{OID}:88812340077:0", Decimal(6), Decimal("150.25")),
    ]  # the CANCELED execution report (price 0) is not a fill
    assert [f.client_order_id for f in fills] == [None, CID, CID]
    assert fills[0].side is OrderSide.SELL and fills[1].ts == 1711722675 * 10**9
    later = await broker.fills(1711722675 * 10**9 + 1, [])
    assert [f.fill_id for f in later] == [f"{OID}:88812340077:0"]
    again = await broker.fills(0, [])
    assert [f.fill_id for f in again] == [f.fill_id for f in fills]


async def test_every_request_takes_a_token_from_the_pools_bucket(
    broker: SchwabBroker, http: respx.MockRouter
) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    broker.limit_rate(TokenBucket(2.0, 1, clock=lambda: 0.0, sleep=sleep))
    http.get(ACCOUNT).mock(reply(text("account_margin.json")))
    await broker.account()
    await broker.account()
    assert waits == [0.5]  # the second request waited for its token


def test_every_documented_state_but_unknown_is_in_the_table() -> None:
    documented = {s.value for s in AsyncClient.Order.Status}
    assert documented - set(STATUSES.table) == {"UNKNOWN"}
    assert set(STATUSES.table) <= documented


@pytest.mark.parametrize("state", ["UNKNOWN", "PENDING_SPLIT"])
async def test_unknown_states_are_surfaced_with_the_raw_state(
    broker: SchwabBroker, http: respx.MockRouter, state: str
) -> None:
    http.post(ORDERS).mock(placed())
    await broker.place_order(limit_order())
    http.get(f"{ORDERS}/{OID}").mock(reply(payload("order_working.json") | {"status": state}))
    with pytest.raises(VenueError) as info:
        await broker.get_order(CID)
    assert info.value.failure is Failure.UNKNOWN_STATE
    assert info.value.context["state"] == state and info.value.context["order"] == CID


# -- errors ----------------------------------------------------------------------------------
ERROR_CASES = [
    (400, text("error_400_reject.json"), Failure.REJECTED, "increments of 0.01"),
    (400, text("error_400_funds.json"), Failure.INSUFFICIENT_FUNDS, "buying power"),
    (401, '{"message": "Unauthorized"}', Failure.AUTH, "login flow"),
    (
        403,
        '{"message": "Forbidden", "errors": ["Client not authorized"]}',
        Failure.AUTH,
        "not authorized",
    ),
    (404, '{"message": "Account not found"}', Failure.NOT_FOUND, "Account not found"),
    (429, '{"message": "Too many requests"}', Failure.RATE_LIMITED, "Too many"),
    (500, '{"message": "Internal server error"}', Failure.UNAVAILABLE, "Internal server"),
    (502, "<html><body>502 Bad Gateway</body></html>", Failure.UNAVAILABLE, "Bad Gateway"),
]


@pytest.mark.parametrize(("status", "body", "failure", "says"), ERROR_CASES)
async def test_error_shapes(
    broker: SchwabBroker,
    http: respx.MockRouter,
    status: int,
    body: str,
    failure: Failure,
    says: str,
) -> None:
    route = http.post(ORDERS).mock(reply(body, status))
    with pytest.raises(VenueError, match=says) as info:
        await broker.place_order(limit_order())
    assert info.value.failure is failure
    assert info.value.context["status"] == status and route.call_count == 1
    assert info.value.transient == (status in (429, 500, 502))


async def test_a_refused_order_can_be_sent_again_a_transient_failure_keeps_it_unknown(
    broker: SchwabBroker, http: respx.MockRouter
) -> None:
    http.post(ORDERS).mock(reply(text("error_400_reject.json"), 400))
    with pytest.raises(VenueError):
        await broker.place_order(limit_order())
    assert CID not in broker.ids.pending  # the venue said no: nothing to look for
    http.post(ORDERS).mock(reply('{"message": "busy"}', 503))
    with pytest.raises(VenueError):
        await broker.place_order(limit_order())
    assert CID in broker.ids.pending


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (httpx.ReadTimeout("read timed out"), Failure.TIMEOUT),
        (httpx.ConnectTimeout("connect timed out"), Failure.TIMEOUT),
        (httpx.ConnectError("connection refused"), Failure.UNAVAILABLE),
        (httpx.RemoteProtocolError("peer closed connection"), Failure.UNAVAILABLE),
    ],
)
async def test_transport_failures_are_transient(
    broker: SchwabBroker, http: respx.MockRouter, exc: Exception, failure: Failure
) -> None:
    http.get(ACCOUNT).mock(side_effect=exc)
    with pytest.raises(VenueError) as info:
        await broker.account()
    assert info.value.failure is failure and info.value.transient


async def test_a_timed_out_place_is_found_by_what_it_said_and_not_sent_twice(
    broker: SchwabBroker, http: respx.MockRouter
) -> None:
    post = http.post(ORDERS).mock(side_effect=httpx.ReadTimeout("read timed out"))
    with pytest.raises(VenueError) as info:
        await broker.place_order(limit_order())
    assert info.value.failure is Failure.TIMEOUT
    listing = http.get(ORDERS).mock(reply([]))
    assert await broker.get_order(CID) is None  # not there (yet): the pool may send again
    entered = time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime())
    ours = payload("order_working.json") | {"enteredTime": entered}
    other = ours | {"orderId": OID + 5, "price": 150.3}  # not what we said
    listing.mock(reply([other, ours]))
    found = await broker.get_order(CID)
    assert found is not None and found.venue_order_id == str(OID)
    since = listing.calls.last.request.url.params["fromEnteredTime"]
    assert since[:10] == entered[:10]  # the window starts at the send, not 60 days back
    with pytest.raises(VenueError) as dup:
        await broker.place_order(limit_order())
    assert dup.value.failure is Failure.DUPLICATE and post.call_count == 1


async def test_a_201_without_location_is_matched_in_the_listing(
    broker: SchwabBroker, http: respx.MockRouter
) -> None:
    http.post(ORDERS).mock(httpx.Response(201))
    entered = time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime())
    filled = payload("order_filled.json") | {"enteredTime": entered}
    http.get(ORDERS).mock(reply([filled]))
    report = await broker.place_order(limit_order())
    assert report.venue_order_id == str(OID) and report.status is OrderStatus.FILLED


async def test_malformed_json_and_missing_fields(
    broker: SchwabBroker, http: respx.MockRouter
) -> None:
    route = http.get(ACCOUNT).mock(reply('{"securitiesAccount": {"currentBal'))
    with pytest.raises(VenueError, match="not JSON") as info:
        await broker.account()
    assert info.value.failure is Failure.MALFORMED
    route.mock(reply({"securitiesAccount": {"type": "MARGIN", "currentBalances": {}}}))
    with pytest.raises(VenueError, match="cashAvailableForTrading") as info:
        await broker.account()
    assert info.value.failure is Failure.MALFORMED
    http.get(ORDERS).mock(reply({"orders": []}))
    with pytest.raises(VenueError, match="not a list"):
        await broker.open_orders()
    http.get(ORDERS).mock(reply([payload("order_working.json") | {"enteredTime": "yesterday"}]))
    with pytest.raises(VenueError, match="bad timestamp") as info:
        await broker.open_orders()
    assert info.value.failure is Failure.MALFORMED


# -- the token file --------------------------------------------------------------------------
async def test_a_missing_token_file_says_how_to_create_it(tmp_path: Path) -> None:
    b = new_broker(tmp_path / "nowhere.json")
    with pytest.raises(VenueError, match=r"does not exist.*client_from_login_flow") as info:
        await b.connect()
    assert info.value.failure is Failure.AUTH and not (tmp_path / "nowhere.json").exists()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "cannot be read"),
        ('{"access_token": "x"}', "not a schwab-py token file"),
        ('{"token": {"access_token": "x"}}', "token format has changed"),
    ],
)
async def test_an_unreadable_token_file_is_a_clear_error(
    tmp_path: Path, content: str, says: str
) -> None:
    path = tmp_path / "token.json"
    path.write_text(content)
    with pytest.raises(VenueError, match=says) as info:
        await new_broker(path).connect()
    assert info.value.failure is Failure.AUTH and "client_from_login_flow" in str(info.value)


async def test_an_expired_access_token_is_refreshed_into_the_same_file_only(
    http: respx.MockRouter, tmp_path: Path
) -> None:
    path = tmp_path / "token.json"
    write_token(path, time.time() - 60)
    refreshed = {
        "access_token": "I0.new-access",
        "refresh_token": REFRESH,
        "token_type": "Bearer",
        "expires_in": 1800,
        "scope": "api",
    }
    token = http.post(TOKEN_URL).mock(reply(refreshed))
    http.get("/trader/v1/accounts/accountNumbers").mock(reply(text("account_numbers.json")))
    account = http.get(ACCOUNT).mock(reply(text("account_margin.json")))
    b = new_broker(path)
    await b.connect()
    assert token.call_count == 1
    assert account.calls.last.request.headers["Authorization"] == "Bearer I0.new-access"
    saved = json.loads(path.read_text())
    assert saved["token"]["access_token"] == "I0.new-access" and "creation_timestamp" in saved
    assert [p.name for p in tmp_path.iterdir()] == ["token.json"]  # nothing written elsewhere
    await b.close()


async def test_a_refused_refresh_says_to_run_the_login_flow_again(
    http: respx.MockRouter, tmp_path: Path
) -> None:
    path = tmp_path / "token.json"
    write_token(path, time.time() - 60)
    http.post(TOKEN_URL).mock(
        reply({"error": "invalid_grant", "error_description": "refresh token expired"}, 400)
    )
    with pytest.raises(VenueError, match=r"could not be refreshed.*login_flow") as info:
        await new_broker(path).connect()
    assert info.value.failure is Failure.AUTH and not info.value.transient


async def test_the_order_id_file_lets_a_restarted_adapter_know_its_orders(
    http: respx.MockRouter, token_path: Path, tmp_path: Path
) -> None:
    ids = tmp_path / "schwab-orders.json"
    http.get("/trader/v1/accounts/accountNumbers").mock(reply(text("account_numbers.json")))
    http.get(ACCOUNT).mock(reply(text("account_margin.json")))
    post = http.post(ORDERS).mock(placed())
    first = new_broker(token_path, order_ids_path=ids)
    await first.connect()
    await first.place_order(limit_order())
    await first.close()
    assert json.loads(ids.read_text()) == {CID: str(OID)}
    again = new_broker(token_path, order_ids_path=ids)
    await again.connect()
    http.get(f"{ORDERS}/{OID}").mock(reply(text("order_working.json")))
    found = await again.get_order(CID)
    assert found is not None and found.client_order_id == CID
    with pytest.raises(VenueError) as info:
        await again.place_order(limit_order())
    assert info.value.failure is Failure.DUPLICATE and post.call_count == 1
    await again.close()
    ids.write_text("[1, 2]")
    with pytest.raises(VenueError, match="not a JSON object of ids"):
        await new_broker(token_path, order_ids_path=ids).connect()
    nowhere = tmp_path / "missing-folder" / "ids.json"
    with pytest.raises(VenueError, match="cannot be written") as info:
        await new_broker(token_path, order_ids_path=nowhere).connect()
    assert info.value.failure is Failure.INVALID  # at connect, before any order is placed


# -- settings, notices, secrets --------------------------------------------------------------
def test_paper_trading_is_refused(token_path: Path) -> None:
    with pytest.raises(VenueError, match="no paper-trading API") as info:
        new_broker(token_path, paper=True)
    assert info.value.failure is Failure.UNSUPPORTED


def test_build_checks_the_extra_keys(token_path: Path) -> None:
    def build(extra: dict[str, str], base_url: str | None = None) -> SchwabBroker:
        return build_schwab(
            "schwab", SecretStr(KEY), SecretStr(SECRET), False, base_url, extra, 10.0
        )

    with pytest.raises(ConfigError, match=r"token_path is not set.*client_from_login_flow"):
        build({})
    with pytest.raises(ConfigError, match=r"unknown keys \['acount_number'\]"):
        build({"token_path": str(token_path), "acount_number": "1"})
    with pytest.raises(ConfigError, match="base_url is not used"):
        build({"token_path": str(token_path)}, "https://example.com")
    b = build({"token_path": str(token_path), "account_hash": HASH, "order_ids_path": "x.json"})
    assert b.token_path == token_path and b.ids.path == Path("x.json")


def test_td_ameritrade_notice_says_the_api_was_retired_into_schwabs() -> None:
    with capture_logs() as logs:
        td_ameritrade_notice("td_ameritrade")
    assert logs[0]["log_level"] == "warning"
    assert logs[0]["event"] == TD_AMERITRADE_NOTICE.format(name="td_ameritrade")
    assert "retired into Schwab" in logs[0]["event"] and "schwab adapter" in logs[0]["event"]


async def test_secrets_never_in_errors_reprs_or_logs(
    broker: SchwabBroker, http: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    http.post(ORDERS).mock(reply('{"message": "Unauthorized"}', 401))
    http.get(ACCOUNT).mock(side_effect=httpx.ReadTimeout("read timed out"))
    messages = [repr(broker), str(broker.__dict__.get("name"))]
    for call in (broker.place_order(limit_order()), broker.account()):
        with pytest.raises(VenueError) as info:
            await call
        messages += [str(info.value), repr(info.value.context)]
    joined = "\n".join(messages) + caplog.text
    for secret in (KEY, SECRET, ACCESS, REFRESH):
        assert secret not in joined
