"""Robinhood equities through the real robin-stocks library, with ``requests``' transport
replaced by ``responses`` serving payloads in the shapes robin-stocks parses (its source names
the URLs and fields; files in payloads/robinhood/stocks_*.json). robin-stocks swallows HTTP
errors; each one must still come back as a VenueError the pool can act on, and the login must
leave nothing on disk and no secret in an error or a log line."""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pyotp
import pytest
import requests
import responses
import respx
import robin_stocks.robinhood.globals as rh_globals
from pydantic import SecretStr

from neural_trader.brokers.base import Failure, VenueError
from neural_trader.brokers.robinhood import RobinhoodBroker
from neural_trader.brokers.robinhood_crypto import CryptoClient
from neural_trader.brokers.robinhood_stocks import STATUSES, StocksClient
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce

PAYLOADS = Path(__file__).parent / "payloads" / "robinhood"
API = "https://api.robinhood.com"
LOGIN = f"{API}/oauth2/token/"
ACCOUNTS = f"{API}/accounts/?default_to_all_accounts=true"
ORDERS = f"{API}/orders/"
USER = "trader@example.com"
PASSWORD = "pw-never-shown-9d3f"
MFA = "JBSWY3DPEHPK3PXPKRUGS4ZANFZSAYLT"
AAPL_URL = f"{API}/instruments/450dfc6d-5510-4d40-abfb-f633b7d9be3e/"
ORDER_ID = "8c3e6f2a-91b4-4d7e-a5c2-3f0e1b2d4c6a"
CID = "sma-1710426601000000000-1"


def payload(name: str, **changes: Any) -> Any:
    return json.loads((PAYLOADS / name).read_text()) | changes


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """robin-stocks puts its pickle under ~/.tokens: home is a scratch folder here."""
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def http(home: Path) -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def login_routes(http: responses.RequestsMock) -> None:
    http.post(LOGIN, json=payload("stocks_login.json"))
    http.get(ACCOUNTS, json=payload("stocks_accounts.json"))


@pytest.fixture
async def client(http: responses.RequestsMock) -> AsyncIterator[StocksClient]:
    login_routes(http)
    c = StocksClient(USER, SecretStr(PASSWORD), SecretStr(MFA), timeout_s=6.5)
    await c.connect()
    http.reset()
    yield c
    await c.close()


def order(
    cid: str = CID,
    kind: OrderType = OrderType.LIMIT,
    side: OrderSide = OrderSide.BUY,
    tif: TimeInForce = TimeInForce.DAY,
) -> Order:
    limit = Decimal("150.25") if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
    stop = Decimal("148.5") if kind in (OrderType.STOP, OrderType.STOP_LIMIT) else None
    return Order(cid, "sma", "AAPL", side, Decimal(10), kind, limit, stop, tif)


def order_routes(http: responses.RequestsMock, reply: Any = None, status: int = 201) -> None:
    http.get(f"{API}/instruments/?symbol=AAPL", json=payload("stocks_instruments_aapl.json"))
    http.get(f"{API}/quotes/?symbols=AAPL", json=payload("stocks_quotes_aapl.json"))
    if reply is None:
        reply = payload("stocks_order_unconfirmed.json")

    def echo(request: Any) -> tuple[int, dict[str, str], str]:
        """The venue's reply to this post: an order carries the ref_id it was sent with."""
        body = dict(reply)
        if "ref_id" in body:
            body["ref_id"] = json.loads(request.body)["ref_id"]
        return status, {}, json.dumps(body)

    http.add_callback(responses.POST, ORDERS, callback=echo, content_type="application/json")


def posted(http: responses.RequestsMock) -> dict[str, Any]:
    body = [c.request.body for c in http.calls if c.request.method == "POST"][-1]
    assert isinstance(body, bytes | str)
    return dict(json.loads(body))


# -- login -------------------------------------------------------------------------------------
async def test_login_sends_a_totp_code_and_writes_nothing_to_disk(
    http: responses.RequestsMock, home: Path
) -> None:
    stale = home / ".tokens" / "robinhood.pickle"
    stale.parent.mkdir()
    stale.write_bytes(b"someone else's session")
    login_routes(http)
    c = StocksClient(USER, SecretStr(PASSWORD), SecretStr(MFA))
    before = time.time()
    await c.connect()
    after = time.time()
    try:
        form = parse_qs(str(http.calls[0].request.body))
        totp = pyotp.TOTP(MFA)
        assert form["mfa_code"][0] in {totp.at(before), totp.at(after)}
        assert form["username"] == [USER] and form["grant_type"] == ["password"]
        # the bearer token from the reply authorises the next call
        assert http.calls[1].request.headers["Authorization"].startswith("Bearer eyJ")
        assert stale.read_bytes() == b"someone else's session"  # not deleted, not replaced
        assert sorted(p.name for p in home.rglob("*")) == [".tokens", "robinhood.pickle"]
    finally:
        await c.close()


async def test_a_session_is_pickled_only_where_the_user_asked(
    http: responses.RequestsMock, home: Path
) -> None:
    login_routes(http)
    where = home / "sessions"
    c = StocksClient(USER, SecretStr(PASSWORD), SecretStr(MFA), session_path=str(where))
    await c.connect()
    await c.close()
    assert [p.name for p in where.iterdir()] == ["robinhood.pickle"]
    assert not (home / ".tokens").exists()


async def test_device_verification_is_refused_instead_of_waiting_on_input(
    http: responses.RequestsMock,
) -> None:
    http.post(
        LOGIN,
        json={"verification_workflow": {"id": "4a5b6c7d-0000-4000-8000-0123456789ab"}},
    )
    c = StocksClient(USER, SecretStr(PASSWORD), SecretStr(MFA))
    with pytest.raises(VenueError, match="verify this device") as info:
        await c.connect()
    assert info.value.failure is Failure.AUTH
    assert len(http.calls) == 1  # no pathfinder polling, no prompt


async def test_wrong_credentials_and_a_missing_token_are_auth_failures(
    http: responses.RequestsMock,
) -> None:
    http.post(LOGIN, json={"detail": "Unable to log in with provided credentials."}, status=400)
    c = StocksClient(USER, SecretStr(PASSWORD), SecretStr(MFA))
    with pytest.raises(VenueError, match="Unable to log in") as info:
        await c.connect()
    assert info.value.failure is Failure.AUTH
    http.replace(responses.POST, LOGIN, json={"mfa_required": True, "mfa_type": "app"})
    with pytest.raises(VenueError, match="no access token") as info:
        await c.connect()
    assert info.value.failure is Failure.AUTH


def test_a_bad_mfa_secret_is_refused_without_echoing_it() -> None:
    for bad in ("JBSWY3DP", "not base32 at all!"):
        with pytest.raises(VenueError, match="base32 TOTP key") as info:
            StocksClient(USER, SecretStr(PASSWORD), SecretStr(bad))
        assert info.value.failure is Failure.AUTH and bad not in str(info.value)


async def test_one_client_per_process(client: StocksClient, http: responses.RequestsMock) -> None:
    other = StocksClient("someone", SecretStr("pw"))
    with pytest.raises(VenueError, match="one global session") as info:
        await other.connect()
    assert info.value.failure is Failure.UNSUPPORTED
    assert len(http.calls) == 0


# -- account and positions ---------------------------------------------------------------------
async def test_account_and_positions_are_exact(
    client: StocksClient, http: responses.RequestsMock
) -> None:
    http.get(ACCOUNTS, json=payload("stocks_accounts.json"))
    http.get("https://phoenix.robinhood.com/accounts/unified", json=payload("stocks_phoenix.json"))
    account = await client.account()
    assert (account.cash, account.buying_power) == (Decimal("1523.45"), Decimal("3046.9"))
    assert account.equity == Decimal("10234.56") and account.currency == "USD"
    http.get(
        f"{API}/positions/?account_number=5RY82436&nonzero=true",
        json=payload("stocks_positions.json"),
    )
    http.get(AAPL_URL, json=payload("stocks_instruments_aapl.json")["results"][0])
    msft = payload("stocks_instrument_msft.json")
    http.get(msft["url"], json=msft)
    held = {p.symbol: p for p in await client.positions()}
    assert held["AAPL"].quantity == 10 and held["AAPL"].avg_price == Decimal("172.315")
    assert held["MSFT"].quantity == Decimal("0.25")
    assert all(c.request.req_kwargs["timeout"] == 6.5 for c in http.calls)  # type: ignore[attr-defined]


# -- orders ------------------------------------------------------------------------------------
async def test_limit_order_goes_with_a_ref_id_from_our_id_and_exact_prices(
    client: StocksClient, http: responses.RequestsMock
) -> None:
    order_routes(http)
    placed = await client.place_order(order())
    body = posted(http)
    assert uuid.UUID(body["ref_id"]).version == 5
    assert body["price"] == "150.25" and body["quantity"] == "10"
    assert (body["type"], body["trigger"], body["side"]) == ("limit", "immediate", "buy")
    assert body["time_in_force"] == "gfd" and body["market_hours"] == "regular_hours"
    assert body["account"] == f"{API}/accounts/5RY82436/" and body["instrument"] == AAPL_URL
    assert body["order_form_version"] == 4 and "stop_price" not in body
    assert placed.status is OrderStatus.SUBMITTED and placed.venue_status == "unconfirmed"
    assert placed.symbol == "AAPL" and placed.venue_order_id == ORDER_ID
    assert placed.limit_price == Decimal("150.25") and placed.ts == 1710426601234567000
    # the same id is sent under the same ref_id (a retry), another id under another
    http.reset()
    order_routes(http)
    await client.place_order(order())
    again = posted(http)["ref_id"]
    order_routes(http)
    await client.place_order(order(cid="sma-other"))
    assert again == body["ref_id"] != posted(http)["ref_id"]


@pytest.mark.parametrize(
    ("kind", "side", "fields"),
    [
        # a market buy goes as robin-stocks sends it: a limit collared 5 % over the ask
        (OrderType.MARKET, OrderSide.BUY,
         {"type": "limit", "trigger": "immediate", "price": "189.250000",
          "preset_percent_limit": "0.05"}),
        (OrderType.MARKET, OrderSide.SELL, {"type": "market", "trigger": "immediate"}),
        (OrderType.STOP, OrderSide.SELL,
         {"type": "market", "trigger": "stop", "stop_price": "148.5"}),
        (OrderType.STOP, OrderSide.BUY,
         {"type": "market", "trigger": "stop", "stop_price": "148.5", "price": "148.5"}),
        (OrderType.STOP_LIMIT, OrderSide.BUY,
         {"type": "limit", "trigger": "stop", "stop_price": "148.5", "price": "150.25"}),
    ],
)  # fmt: skip
async def test_payload_per_order_type(
    client: StocksClient,
    http: responses.RequestsMock,
    kind: OrderType,
    side: OrderSide,
    fields: dict[str, str],
) -> None:
    order_routes(http)
    body = await client.order_payload(order(kind=kind, side=side, tif=TimeInForce.GTC))
    assert {k: body.get(k) for k in fields} == fields
    if "price" not in fields:
        assert "price" not in body
    assert body["time_in_force"] == "gtc"


async def test_ioc_is_refused_and_an_unknown_symbol_is_rejected(
    client: StocksClient, http: responses.RequestsMock
) -> None:
    with pytest.raises(VenueError, match="gtc or day") as info:
        await client.place_order(order(tif=TimeInForce.IOC))
    assert info.value.failure is Failure.UNSUPPORTED
    http.get(f"{API}/instruments/?symbol=AAPL", json={"next": None, "results": []})
    with pytest.raises(VenueError, match="no instrument 'AAPL'") as info:
        await client.place_order(order())
    assert info.value.failure is Failure.REJECTED


async def test_get_order_scans_for_the_ref_id_then_reads_by_id(
    client: StocksClient, http: responses.RequestsMock
) -> None:
    order_routes(http)
    wire = (await client.order_payload(order()))["ref_id"]
    mine = payload("stocks_order_filled.json", ref_id=wire)
    theirs = payload(
        "stocks_order_unconfirmed.json", id=str(uuid.uuid4()), ref_id=str(uuid.uuid4())
    )
    http.get(f"{ORDERS}?cursor=p2", json={"next": None, "previous": None, "results": [mine]})
    http.get(ORDERS, json={"next": f"{ORDERS}?cursor=p2", "previous": None, "results": [theirs]})
    found = await client.get_order(CID)
    assert found is not None and found.client_order_id == CID
    assert found.status is OrderStatus.FILLED and found.avg_price == Decimal("150.23")
    assert found.filled_quantity == 10 and found.symbol == "AAPL"
    http.get(f"{ORDERS}{ORDER_ID}/", json=mine)
    assert await client.get_order(CID) == found
    assert http.calls[-1].request.url == f"{ORDERS}{ORDER_ID}/"
    http.replace(responses.GET, f"{ORDERS}{ORDER_ID}/", json={"detail": "Not found."}, status=404)
    assert await client.get_order(CID) is None


async def test_cancel_posts_to_the_cancel_url(
    client: StocksClient, http: responses.RequestsMock
) -> None:
    order_routes(http)
    await client.place_order(order())
    http.get(f"{ORDERS}{ORDER_ID}/", json=payload("stocks_order_unconfirmed.json"))
    http.post(f"{ORDERS}{ORDER_ID}/cancel/", json={})
    await client.cancel_order(CID)
    assert http.calls[-1].request.url == f"{ORDERS}{ORDER_ID}/cancel/"
    refusal = {"detail": "Order cannot be cancelled."}
    http.replace(responses.POST, f"{ORDERS}{ORDER_ID}/cancel/", json=refusal, status=400)
    with pytest.raises(VenueError, match="cannot be cancelled") as info:
        await client.cancel_order(CID)
    assert info.value.failure is Failure.REJECTED


async def test_open_orders_and_fills_from_recent_orders(
    client: StocksClient, http: responses.RequestsMock
) -> None:
    # robin-stocks writes updated_at[gte]=...; requests sends the brackets percent-encoded
    recent = re.compile(re.escape(f"{ORDERS}?account_numbers=5RY82436&updated_at%5Bgte%5D=") + ".*")
    http.get(
        recent,
        json={
            "next": None,
            "previous": None,
            "results": [
                payload("stocks_order_unconfirmed.json"),
                payload("stocks_order_filled.json"),
            ],
        },
    )
    http.get(AAPL_URL, json=payload("stocks_instruments_aapl.json")["results"][0])
    listed = await client.open_orders()
    assert [o.venue_status for o in listed] == ["unconfirmed"]  # the filled one has no cancel
    fills = await client.fills(1710426602600000000)
    assert str(http.calls[-1].request.url).endswith(
        "updated_at%5Bgte%5D=2024-03-14T14:30:02.600000Z"
    )
    assert [(f.fill_id, f.quantity, f.price) for f in fills] == [
        ("7d2a9c41-5e3b-4f1a-8b6d-0c9e2f4a1b3d", Decimal(6), Decimal("150.25"))
    ]
    every = await client.fills(0)
    assert [f.quantity for f in every] == [Decimal(4), Decimal(6)]  # time order
    assert every[0].venue_order_id == ORDER_ID and every[0].symbol == "AAPL"
    assert every[0].ts == 1710426602512000000


def test_the_state_table_covers_what_robin_stocks_documents() -> None:
    documented = {"queued", "confirmed", "filled", "failed", "canceled"}  # order()'s docstring
    assert documented <= set(STATUSES.table)


# -- error shapes ------------------------------------------------------------------------------
ERROR_CASES = [
    (400, {"detail": "Order quantity has invalid increment."}, Failure.REJECTED),
    (400, {"non_field_errors": ["You do not have enough buying power to place this order."]},
     Failure.INSUFFICIENT_FUNDS),
    (400, {"ref_id": ["Order with this ref id already exists."]}, Failure.DUPLICATE),
    (401, {"detail": "Invalid token."}, Failure.AUTH),
    (403, {"detail": "Not enough shares to sell."}, Failure.INSUFFICIENT_FUNDS),
    (404, {"detail": "Not found."}, Failure.NOT_FOUND),
    (429, {"detail": "Request was throttled. Expected available in 12 seconds."},
     Failure.RATE_LIMITED),
    (500, {"detail": "A server error occurred."}, Failure.UNAVAILABLE),
    (502, "<html><body>502 Bad Gateway</body></html>", Failure.UNAVAILABLE),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "failure"), ERROR_CASES)
async def test_swallowed_errors_still_surface(
    client: StocksClient, http: responses.RequestsMock, status: int, body: Any, failure: Failure
) -> None:
    order_routes(http, reply=body if isinstance(body, dict) else None, status=status)
    if not isinstance(body, dict):
        http.replace(responses.POST, ORDERS, body=body, status=status)
    with pytest.raises(VenueError) as info:
        await client.place_order(order())
    assert info.value.failure is failure
    assert info.value.context["status"] == status and info.value.context["venue"] == "robinhood"
    assert [c.request.method for c in http.calls].count("POST") == 1


async def test_errors_on_reads_surface_too(
    client: StocksClient, http: responses.RequestsMock
) -> None:
    http.get(ACCOUNTS, json={"detail": "Invalid token."}, status=401)
    with pytest.raises(VenueError) as info:
        await client.account()
    assert info.value.failure is Failure.AUTH
    # a second page that fails is not a short list
    page2 = f"{API}/positions/?account_number=5RY82436&cursor=2"
    http.get(
        f"{API}/positions/?account_number=5RY82436&nonzero=true",
        json=payload("stocks_positions.json") | {"next": page2},
    )
    http.get(page2, body="upstream", status=503)
    with pytest.raises(VenueError) as info:
        await client.positions()
    assert info.value.failure is Failure.UNAVAILABLE and info.value.transient


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (requests.exceptions.ReadTimeout("read timed out"), Failure.TIMEOUT),
        (requests.exceptions.ConnectTimeout("connect timed out"), Failure.TIMEOUT),
        (requests.exceptions.ConnectionError("connection reset by peer"), Failure.UNAVAILABLE),
    ],
)
async def test_transport_failures_on_reads_and_writes(
    client: StocksClient, http: responses.RequestsMock, exc: Exception, failure: Failure
) -> None:
    http.get(f"{ORDERS}{ORDER_ID}/", body=exc)
    client._venue_ids[CID] = ORDER_ID  # a placed order, read by its venue id
    with pytest.raises(VenueError) as info:
        await client.get_order(CID)
    assert info.value.failure is failure and info.value.transient
    order_routes(http)
    http.replace(responses.POST, ORDERS, body=exc)  # robin-stocks' POST swallows it
    with pytest.raises(VenueError) as info:
        await client.place_order(order())
    assert info.value.failure is failure and info.value.transient


async def test_malformed_replies_and_unknown_states(
    client: StocksClient, http: responses.RequestsMock
) -> None:
    http.get(ACCOUNTS, body='{"results": [{"cash": "1', content_type="application/json")
    with pytest.raises(VenueError) as info:
        await client.account()
    assert info.value.failure is Failure.MALFORMED
    order_routes(http, reply=payload("stocks_order_unconfirmed.json", state="held_for_review"))
    with pytest.raises(VenueError) as info:
        await client.place_order(order())
    assert info.value.failure is Failure.UNKNOWN_STATE
    assert info.value.context["state"] == "held_for_review" and info.value.context["order"] == CID
    no_qty = payload("stocks_order_unconfirmed.json")
    del no_qty["quantity"]
    http.replace(responses.POST, ORDERS, json=no_qty, status=201)
    with pytest.raises(VenueError, match="lacks 'quantity'"):
        await client.place_order(order())
    http.replace(responses.POST, ORDERS, body="<html>oops</html>", status=201)
    with pytest.raises(VenueError, match="not an object") as info:
        await client.place_order(order())
    assert info.value.failure is Failure.MALFORMED


# -- through the broker ------------------------------------------------------------------------
async def test_broker_routes_equities_and_keeps_secrets_out(
    http: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    login_routes(http)
    broker = RobinhoodBroker(stocks=StocksClient(USER, SecretStr(PASSWORD), SecretStr(MFA)))
    await broker.connect()
    try:
        order_routes(http)
        placed = await broker.place_order(order())
        assert placed.venue_order_id == ORDER_ID
        with pytest.raises(VenueError, match="no crypto API key") as info:
            await broker.get_order("x", "BTC/USD")
        assert info.value.failure is Failure.UNSUPPORTED
        http.replace(responses.POST, ORDERS, json={"detail": "Invalid token."}, status=401)
        with pytest.raises(VenueError) as info:
            await broker.place_order(order(cid="sma-2"))
        token = payload("stocks_login.json")["access_token"]
        text = "\n".join([repr(broker), str(info.value), repr(info.value.context), caplog.text])
        for secret in (PASSWORD, MFA, token):
            assert secret not in text
    finally:
        await broker.close()


async def test_a_failed_relogin_does_not_keep_the_old_login(
    client: StocksClient, http: responses.RequestsMock
) -> None:
    http.post(LOGIN, json={"mfa_required": True, "mfa_type": "app"})
    with pytest.raises(VenueError, match="no access token"):
        await client.connect()
    assert rh_globals.SESSION.headers.get("Authorization") is None  # the old token is gone
    http.get(ACCOUNTS, json=payload("stocks_accounts.json"))
    with pytest.raises(VenueError) as info:
        await client.account()
    assert info.value.failure is Failure.AUTH  # robin-stocks: "can only be called when logged in"


async def test_broker_with_both_sides_merges_positions_orders_and_fills(
    http: responses.RequestsMock,
) -> None:
    login_routes(http)
    crypto_key = base64.b64encode(bytes(range(32))).decode()
    crypto = CryptoClient(SecretStr("rh-crypto-key"), SecretStr(crypto_key))
    broker = RobinhoodBroker(crypto, StocksClient(USER, SecretStr(PASSWORD), SecretStr(MFA)))
    trading = "https://trading.robinhood.com/api/v1/crypto/trading"
    with respx.mock(assert_all_called=False) as venue:
        venue.get(f"{trading}/accounts/").respond(json=payload("crypto_account.json"))
        venue.get(f"{trading}/holdings/").respond(json=payload("crypto_holdings.json"))
        filled = payload("crypto_order_filled.json")
        venue.get(f"{trading}/orders/").respond(json={"next": None, "results": [filled]})
        await broker.connect()
        try:
            http.get(
                f"{API}/positions/?account_number=5RY82436&nonzero=true",
                json=payload("stocks_positions.json"),
            )
            http.get(AAPL_URL, json=payload("stocks_instruments_aapl.json")["results"][0])
            msft = payload("stocks_instrument_msft.json")
            http.get(msft["url"], json=msft)
            held = [p.symbol for p in await broker.positions()]
            assert held == ["AAPL", "MSFT", "BTC/USD"]
            recent = re.compile(re.escape(f"{ORDERS}?account_numbers=5RY82436&") + ".*")
            http.get(recent, json={"next": None, "results": [payload("stocks_order_filled.json")]})
            fills = await broker.fills(0, [])
            assert [f.symbol for f in fills] == ["AAPL", "AAPL", "ETH/USD", "ETH/USD"]
            assert [f.ts for f in fills] == sorted(f.ts for f in fills)
            http.get(ACCOUNTS, json=payload("stocks_accounts.json"))
            http.get(
                "https://phoenix.robinhood.com/accounts/unified",
                json=payload("stocks_phoenix.json"),
            )
            assert (await broker.account()).cash == Decimal("1523.45")  # the equities account
        finally:
            await broker.close()
