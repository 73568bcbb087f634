"""Robinhood's Crypto Trading API through the real httpx client, with the transport replaced by
respx serving payloads in the documented format (docs.robinhood.com/crypto/trading; files in
payloads/robinhood/crypto_*.json). Signatures are checked with the public key through
``cryptography``'s own verify, not against the signer's output."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from pydantic import SecretStr

from neural_trader.brokers.base import Failure, VenueError
from neural_trader.brokers.robinhood import RobinhoodBroker
from neural_trader.brokers.robinhood_crypto import CryptoClient, Signer
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce

PAYLOADS = Path(__file__).parent / "payloads" / "robinhood"
BASE = "https://trading.robinhood.com"
API = "/api/v1/crypto/trading"
API_KEY = "rh-api-3b1f8c2e-key-never-shown"
NOW = 1710443366
PRIVATE = Ed25519PrivateKey.generate()
SEED_B64 = base64.b64encode(
    PRIVATE.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
).decode()
CID = "sma-1710443366000000000-1"


def payload(name: str, **changes: Any) -> Any:
    data = json.loads((PAYLOADS / name).read_text())
    return data | changes


@pytest.fixture
def http() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


def new_client() -> CryptoClient:
    return CryptoClient(SecretStr(API_KEY), SecretStr(SEED_B64), timeout_s=5, clock=lambda: NOW)


@pytest.fixture
async def client(http: respx.MockRouter) -> CryptoClient:
    c = new_client()
    await c.open()
    return c


def order(
    cid: str = CID,
    symbol: str = "BTC/USD",
    kind: OrderType = OrderType.LIMIT,
    tif: TimeInForce = TimeInForce.GTC,
) -> Order:
    limit = Decimal("61000.00") if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
    stop = Decimal("60000.5") if kind in (OrderType.STOP, OrderType.STOP_LIMIT) else None
    return Order(cid, "sma", symbol, OrderSide.BUY, Decimal("0.00100000"), kind, limit, stop, tif)


def sent(http: respx.MockRouter, n: int = -1) -> httpx.Request:
    return http.calls[n].request


def verify(request: httpx.Request) -> None:
    """The documented message, checked with the public key (raises if it does not match)."""
    body = request.content.decode()
    message = (
        f"{request.headers['x-api-key']}{request.headers['x-timestamp']}"
        f"{request.url.raw_path.decode()}{request.method}{body}"
    )
    signature = base64.b64decode(request.headers["x-signature"])
    PRIVATE.public_key().verify(signature, message.encode())


# -- signing -----------------------------------------------------------------------------------
async def test_get_is_signed_over_key_timestamp_path_and_method(
    client: CryptoClient, http: respx.MockRouter
) -> None:
    http.get(f"{API}/accounts/").respond(json=payload("crypto_account.json"))
    await client.account()
    request = sent(http)
    assert request.headers["x-api-key"] == API_KEY
    assert request.headers["x-timestamp"] == str(NOW)
    assert request.content == b""
    verify(request)
    # the check is real: another key or another path does not verify
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(InvalidSignature):
        other.verify(base64.b64decode(request.headers["x-signature"]), b"x")
    forged = f"{API_KEY}{NOW}{API}/holdings/GET".encode()
    with pytest.raises(InvalidSignature):
        PRIVATE.public_key().verify(base64.b64decode(request.headers["x-signature"]), forged)


async def test_post_signature_covers_the_exact_body_and_query_strings(
    client: CryptoClient, http: respx.MockRouter
) -> None:
    http.post(f"{API}/orders/").respond(201, json=payload("crypto_order_open.json"))
    http.get(f"{API}/orders/", params={"state": "open"}).respond(
        json={"next": None, "previous": None, "results": []}
    )
    http.get(f"{API}/orders/", params={"state": "partially_filled"}).respond(
        json={"next": None, "previous": None, "results": []}
    )
    await client.place_order(order())
    verify(sent(http, 0))
    assert json.loads(sent(http, 0).content)["symbol"] == "BTC-USD"
    await client.open_orders()
    assert sent(http, 1).url.raw_path == f"{API}/orders/?state=open".encode()
    verify(sent(http, 1))


def test_the_published_example_of_the_docs_signs_to_the_published_signature() -> None:
    """docs.robinhood.com/crypto/trading, "Headers and Signature": Robinhood's throwaway example
    key, request and signature. (Its body is the Python ``str`` of the example dict: that is
    the string the published signature was made over.)"""
    seed = "xQnTJVeQLmw1/Mg2YimEViSpw/SdJcgNXZ5kQkAXNPU="
    signer = Signer(SecretStr("rh-api-6148effc-c0b1-486c-8940-a1d099456be6"), SecretStr(seed))
    public = Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed)).public_key()
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert base64.b64encode(raw).decode() == "jPItx4TLjcnSUnmnXQQyAKL4eJj3+oWNNMmmm2vATqk="
    body = (
        "{'client_order_id': '131de903-5a9c-4260-abc1-28d562a5dcf0', 'side': 'buy', "
        "'symbol': 'BTC-USD', 'type': 'market', 'market_order_config': {'asset_quantity': '0.1'}}"
    )
    headers = signer.headers(1698708981, "/api/v1/crypto/trading/orders/", "POST", body)
    assert headers["x-signature"] == (
        "q/nEtxp/P2Or3hph3KejBqnw5o9qeuQ+hYRnB56FaHbjDsNUY9KhB1asMxohDnzdVFSD7StaTqjSd9U9HvaRAw=="
    )
    assert headers["x-timestamp"] == "1698708981"


def test_a_key_that_is_not_a_base64_seed_is_refused_without_echoing_it() -> None:
    bad = "not-base64-and-secret!"
    with pytest.raises(VenueError, match="base64 of a 32-byte ed25519 seed") as info:
        CryptoClient(SecretStr(API_KEY), SecretStr(bad))
    assert info.value.failure is Failure.AUTH and bad not in str(info.value)
    with pytest.raises(VenueError):
        CryptoClient(SecretStr(API_KEY), SecretStr(base64.b64encode(b"short").decode()))


# -- account and holdings ------------------------------------------------------------------------
async def test_account_and_holdings_are_exact(client: CryptoClient, http: respx.MockRouter) -> None:
    http.get(f"{API}/accounts/").respond(json=payload("crypto_account.json"))
    http.get(f"{API}/holdings/").respond(json=payload("crypto_holdings.json"))
    account = await client.account()
    assert account.buying_power == Decimal("4553.42") and account.currency == "USD"
    held = await client.positions()
    assert [(p.symbol, p.quantity) for p in held] == [("BTC/USD", Decimal("0.01250000"))]


# -- orders ------------------------------------------------------------------------------------
async def test_limit_order_body_and_reply(client: CryptoClient, http: respx.MockRouter) -> None:
    http.post(f"{API}/orders/").mock(
        side_effect=lambda request: httpx.Response(
            201,
            json=payload(
                "crypto_order_open.json",
                client_order_id=json.loads(request.content)["client_order_id"],
            ),
        )
    )
    placed = await client.place_order(order())
    body = json.loads(sent(http).content)
    assert uuid.UUID(body["client_order_id"]).version == 5
    assert body["side"] == "buy" and body["type"] == "limit"
    assert body["limit_order_config"] == {
        "asset_quantity": "0.00100000",
        "limit_price": "61000.00",
        "time_in_force": "gtc",
    }
    assert placed.client_order_id == CID  # mapped back from the UUID to ours
    assert placed.status is OrderStatus.ACCEPTED and placed.venue_status == "open"
    assert placed.symbol == "BTC/USD" and placed.limit_price == Decimal("61000.00")
    assert placed.quantity == Decimal("0.001") and placed.filled_quantity == 0
    assert placed.ts == 1710443366644271000  # -04:00 offset honoured


async def test_a_retry_is_sent_under_the_same_uuid_and_the_refusal_is_duplicate(
    http: respx.MockRouter,
) -> None:
    http.post(f"{API}/orders/").mock(
        side_effect=[
            httpx.Response(201, json=payload("crypto_order_open.json")),
            httpx.Response(
                400,
                json={
                    "type": "validation_error",
                    "errors": [
                        {
                            "detail": "Order with this client_order_id already exists.",
                            "attr": "client_order_id",
                        }
                    ],
                },
            ),
        ]
    )
    first, restarted = new_client(), new_client()  # a restart between the two sends
    await first.open()
    await restarted.open()
    await first.place_order(order())
    with pytest.raises(VenueError) as info:
        await restarted.place_order(order())
    assert info.value.failure is Failure.DUPLICATE
    ids = [json.loads(call.request.content)["client_order_id"] for call in http.calls]
    assert ids[0] == ids[1]
    other = order(cid="sma-other")
    assert first.order_body(other)["client_order_id"] != ids[0]


@pytest.mark.parametrize(
    ("kind", "key", "config"),
    [
        (OrderType.MARKET, "market_order_config", {"asset_quantity": "0.00100000"}),
        (
            OrderType.STOP,
            "stop_loss_order_config",
            {"asset_quantity": "0.00100000", "stop_price": "60000.5", "time_in_force": "gtc"},
        ),
        (
            OrderType.STOP_LIMIT,
            "stop_limit_order_config",
            {
                "asset_quantity": "0.00100000",
                "limit_price": "61000.00",
                "stop_price": "60000.5",
                "time_in_force": "gtc",
            },
        ),
    ],
)
def test_order_configs_per_type(kind: OrderType, key: str, config: dict[str, str]) -> None:
    body = new_client().order_body(order(kind=kind))
    assert body[key] == config
    assert (
        body["type"]
        == {"market": "market", "stop": "stop_loss", "stop_limit": "stop_limit"}[kind.value]
    )


def test_orders_the_api_cannot_take_are_refused_before_sending() -> None:
    c = new_client()
    with pytest.raises(VenueError, match="gtc orders only") as info:
        c.order_body(order(tif=TimeInForce.DAY))
    assert info.value.failure is Failure.UNSUPPORTED
    with pytest.raises(VenueError, match="not a crypto pair") as info:
        c.order_body(order(symbol="AAPL"))
    assert info.value.failure is Failure.INVALID


async def test_get_order_scans_for_our_uuid_after_a_restart(http: respx.MockRouter) -> None:
    placer = new_client()
    wire_id = placer.order_body(order())["client_order_id"]
    mine = payload("crypto_order_filled.json", client_order_id=wire_id)
    theirs = payload("crypto_order_open.json", client_order_id=str(uuid.uuid4()))
    http.get(f"{API}/orders/", params={"cursor": "c2"}).respond(
        json={"next": None, "previous": None, "results": [mine]}
    )
    http.get(f"{API}/orders/").respond(
        json={"next": f"{BASE}{API}/orders/?cursor=c2", "previous": None, "results": [theirs]}
    )
    fresh = new_client()
    await fresh.open()
    found = await fresh.get_order(CID)
    assert found is not None and found.client_order_id == CID
    assert found.status is OrderStatus.FILLED and found.order_type is OrderType.MARKET
    assert found.avg_price == Decimal("3512.302") and found.filled_quantity == Decimal("0.5")
    verify(sent(http, 1))  # the cursor page is signed over its own path
    assert sent(http, 1).url.raw_path == f"{API}/orders/?cursor=c2".encode()
    # once found, it is read by its venue id
    http.get(f"{API}/orders/{mine['id']}/").respond(json=mine)
    again = await fresh.get_order(CID)
    assert again == found and sent(http).url.path == f"{API}/orders/{mine['id']}/"
    assert await fresh.get_order("sma-never-sent") is None


async def test_get_order_by_a_vanished_id_is_none_and_cancel_posts(
    client: CryptoClient, http: respx.MockRouter
) -> None:
    reply = payload("crypto_order_open.json")
    http.post(f"{API}/orders/").respond(201, json=reply)
    await client.place_order(order())
    http.get(f"{API}/orders/{reply['id']}/").respond(json=reply)
    http.post(f"{API}/orders/{reply['id']}/cancel/").respond(200, text="")
    await client.cancel_order(CID)
    assert sent(http).method == "POST" and sent(http).url.path.endswith("/cancel/")
    verify(sent(http))
    http.get(f"{API}/orders/{reply['id']}/").respond(404, json={"detail": "Not found."})
    assert await client.get_order(CID) is None
    with pytest.raises(VenueError) as info:
        await client.cancel_order(CID)
    assert info.value.failure is Failure.NOT_FOUND


async def test_fills_come_from_executions_in_time_order(
    client: CryptoClient, http: respx.MockRouter
) -> None:
    route = http.get(f"{API}/orders/").respond(
        json={"next": None, "previous": None, "results": [payload("crypto_order_filled.json")]}
    )
    fills = await client.fills(1710443520_200000000)
    assert route.calls[0].request.url.params["updated_at_start"] == "2024-03-14T19:12:00Z"
    # the 19:12:00.125 execution is before the cut-off; the later one stays
    assert [(f.quantity, f.price) for f in fills] == [(Decimal("0.3"), Decimal("3512.47"))]
    every = await client.fills(0)
    assert [f.fill_id for f in every] == [
        "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d:0",
        "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d:1",
    ]
    assert every[0].ts == 1710443520125000000 and every[0].side is OrderSide.SELL
    assert every[0].symbol == "ETH/USD" and every[0].commission == 0


# -- error shapes ------------------------------------------------------------------------------


def errs(kind: str, detail: str, attr: str | None = None) -> dict[str, Any]:
    """The documented error body: a type and a list of details."""
    return {"type": kind, "errors": [{"detail": detail, "attr": attr}]}


ERROR_CASES = [
    (400, errs("validation_error", "Invalid symbol.", "symbol"), Failure.INVALID),
    (400, errs("client_error", "Insufficient buying power."), Failure.INSUFFICIENT_FUNDS),
    (400, errs("client_error", "Order size is below minimum."), Failure.REJECTED),
    (401, errs("client_error", "Invalid API key."), Failure.AUTH),
    (403, {"detail": "You do not have permission to perform this action."}, Failure.AUTH),
    (404, {"detail": "Not found."}, Failure.NOT_FOUND),
    (429, {"detail": "Request was throttled. Expected available in 7 s."}, Failure.RATE_LIMITED),
    (500, errs("server_error", "A server error occurred."), Failure.UNAVAILABLE),
    (503, "<html><body>503 Service Unavailable</body></html>", Failure.UNAVAILABLE),
]


@pytest.mark.parametrize(("status", "body", "failure"), ERROR_CASES)
async def test_error_shapes(
    client: CryptoClient, http: respx.MockRouter, status: int, body: Any, failure: Failure
) -> None:
    reply = httpx.Response(status, json=body) if isinstance(body, dict) else httpx.Response(
        status, text=body
    )  # fmt: skip
    http.post(f"{API}/orders/").mock(return_value=reply)
    with pytest.raises(VenueError) as info:
        await client.place_order(order())
    assert info.value.failure is failure
    assert info.value.context["status"] == status and info.value.context["venue"] == "robinhood"
    assert info.value.transient is (failure in (Failure.RATE_LIMITED, Failure.UNAVAILABLE))
    if status == 400:
        assert body["errors"][0]["detail"] in str(info.value)


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
    client: CryptoClient, http: respx.MockRouter, exc: Exception, failure: Failure
) -> None:
    http.post(f"{API}/orders/").mock(side_effect=exc)
    with pytest.raises(VenueError) as info:
        await client.place_order(order())
    assert info.value.failure is failure and info.value.transient


async def test_malformed_replies(client: CryptoClient, http: respx.MockRouter) -> None:
    http.get(f"{API}/accounts/").respond(text='{"buying_power": "12', status_code=200)
    with pytest.raises(VenueError, match="not JSON") as info:
        await client.account()
    assert info.value.failure is Failure.MALFORMED
    http.get(f"{API}/accounts/").respond(json={"account_number": "5QR24141"})
    with pytest.raises(VenueError, match="lacks 'buying_power'"):
        await client.account()
    http.get(f"{API}/holdings/").respond(json=[])
    with pytest.raises(VenueError, match="not an object"):
        await client.positions()
    http.get(f"{API}/holdings/").respond(json={"results": {"asset_code": "BTC"}})
    with pytest.raises(VenueError, match="'results' list"):
        await client.positions()
    no_id = payload("crypto_order_open.json")
    del no_id["id"]
    http.post(f"{API}/orders/").respond(201, json=no_id)
    with pytest.raises(VenueError, match="lacks id") as info:
        await client.place_order(order())
    assert info.value.failure is Failure.MALFORMED
    bad_exec = payload("crypto_order_filled.json")
    bad_exec["executions"][0]["effective_price"] = "n/a"
    http.get(f"{API}/orders/").respond(json={"next": None, "results": [bad_exec]})
    with pytest.raises(VenueError, match="non-numeric 'effective_price'"):
        await client.fills(0)


async def test_unknown_state_is_surfaced(client: CryptoClient, http: respx.MockRouter) -> None:
    http.post(f"{API}/orders/").respond(201, json=payload("crypto_order_open.json", state="held"))
    with pytest.raises(VenueError) as info:
        await client.place_order(order())
    assert info.value.failure is Failure.UNKNOWN_STATE and info.value.context["state"] == "held"


@pytest.mark.parametrize(
    ("state", "filled", "status"),
    [
        ("open", "0", OrderStatus.ACCEPTED),
        ("partially_filled", "0.0004", OrderStatus.PARTIALLY_FILLED),
        ("filled", "0.001", OrderStatus.FILLED),
        ("canceled", "0", OrderStatus.CANCELED),
        ("failed", "0", OrderStatus.REJECTED),
    ],
)
async def test_every_documented_state_maps(
    client: CryptoClient, http: respx.MockRouter, state: str, filled: str, status: OrderStatus
) -> None:
    reply = payload("crypto_order_open.json", state=state, filled_asset_quantity=filled)
    http.post(f"{API}/orders/").respond(201, json=reply)
    assert (await client.place_order(order())).status is status


async def test_not_opened_is_unavailable() -> None:
    with pytest.raises(VenueError) as info:
        await new_client().account()
    assert info.value.failure is Failure.UNAVAILABLE


# -- through the broker ------------------------------------------------------------------------
async def test_broker_routes_pairs_to_crypto_and_refuses_equities_it_has_no_login_for(
    http: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    http.get(f"{API}/accounts/").respond(json=payload("crypto_account.json"))
    http.post(f"{API}/orders/").respond(201, json=payload("crypto_order_open.json"))
    broker = RobinhoodBroker(crypto=new_client())
    await broker.connect()
    placed = await broker.place_order(order(symbol="BTC-USD"))
    assert placed.venue_order_id == "66b6a6a4-5a6b-4f3c-9c1e-0f2b7e5d9a10"
    assert (await broker.account()).buying_power == Decimal("4553.42")
    assert (await broker.health()).ok
    with pytest.raises(VenueError, match="no equities login") as info:
        await broker.place_order(order(symbol="AAPL"))
    assert info.value.failure is Failure.UNSUPPORTED
    http.post(f"{API}/orders/").respond(401, json={"errors": [{"detail": "Invalid signature."}]})
    with pytest.raises(VenueError) as info:
        await broker.place_order(order(cid="sma-2"))
    text = "\n".join([repr(broker), str(info.value), repr(info.value.context), caplog.text])
    assert API_KEY not in text and SEED_B64 not in text
    await broker.close()
    await broker.close()  # safe twice
