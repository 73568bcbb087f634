"""The Coinbase Advanced Trade adapter through ccxt's real sync client, with ``requests``'
transport replaced by ``responses`` serving payloads in Coinbase's documented v3 brokerage
format (payloads/coinbase). Requests are signed with a CDP key (an EC private key, generated
here), as Coinbase issues them; neither key nor secret may reach an error, a repr or a log."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import ccxt
import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr
from responses import matchers

from neural_trader.brokers.base import Failure, VenueError
from neural_trader.brokers.coinbase import CAPABILITIES, STATUSES, CoinbaseBroker
from neural_trader.core.instruments import CryptoPair
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce

PAYLOADS = Path(__file__).parent / "payloads" / "coinbase"
API = "https://api.coinbase.com/api/v3/brokerage"
KEY = (
    "organizations/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
    "/apiKeys/9f8e7d6c-5b4a-3f2e-1d0c-b9a8f7e6d5c4"
)
SECRET = (
    ec.generate_private_key(ec.SECP256R1())
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    .decode()
)
SECRET_BODY = SECRET.splitlines()[1]  # a line of the key itself, not the PEM armour
CID = "sma-1700000000000000000-1"
ORDER_ID = "7c9f1d3a-5b2e-4f6a-8d0c-1e2f3a4b5c6d"


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


def sent_json(http: responses.RequestsMock, n: int) -> Any:
    body = http.calls[n].request.body
    return json.loads(body.decode() if isinstance(body, bytes) else str(body or "{}"))


def params(http: responses.RequestsMock, n: int) -> dict[str, list[str]]:
    return parse_qs(urlparse(str(http.calls[n].request.url)).query)


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def connect_routes(http: responses.RequestsMock) -> None:
    futures = matchers.query_param_matcher({"product_type": "FUTURE"})
    http.get(f"{API}/market/products", json={"products": [], "num_products": 0}, match=[futures])
    spot = matchers.query_param_matcher({})
    http.get(f"{API}/market/products", json=payload("products.json"), match=[spot])
    http.get(f"{API}/transaction_summary", json=payload("transaction_summary.json"))
    http.get(f"{API}/accounts", json=payload("accounts.json"))


@pytest.fixture
async def broker(http: responses.RequestsMock) -> CoinbaseBroker:
    connect_routes(http)
    pairs = [CryptoPair("BTC-USD", base_currency="BTC", currency="USD")]
    b = CoinbaseBroker(
        SecretStr(KEY), SecretStr(SECRET), paper=False, timeout_s=5, instruments=pairs
    )
    await b.connect()
    http.reset()
    return b


def limit_order(cid: str = CID, qty: str = "0.001", tif: TimeInForce = TimeInForce.GTC) -> Order:
    return Order(
        cid, "sma", "BTC-USD", OrderSide.BUY, Decimal(qty), OrderType.LIMIT,
        limit_price=Decimal("36000"), time_in_force=tif,
    )  # fmt: skip


# -- connecting ------------------------------------------------------------------------------
def test_paper_trading_is_refused_naming_the_venue() -> None:
    with pytest.raises(VenueError, match="coinbase: coinbase has no sandbox") as info:
        CoinbaseBroker(SecretStr(KEY), SecretStr(SECRET), paper=True)
    assert info.value.failure is Failure.UNSUPPORTED and not CAPABILITIES.sandbox


async def test_connect_uses_v3_endpoints_signed_with_a_jwt(http: responses.RequestsMock) -> None:
    connect_routes(http)
    b = CoinbaseBroker(SecretStr(KEY), SecretStr(SECRET), paper=False)
    await b.connect()
    paths = {urlparse(str(c.request.url)).path for c in http.calls}
    # spot products, fee tier, balances: no v2 currency or exchange-rate lists
    assert paths == {"/api/v3/brokerage/market/products", "/api/v3/brokerage/transaction_summary",
                     "/api/v3/brokerage/accounts"}  # fmt: skip
    auth = str(http.calls[-1].request.headers["Authorization"])
    assert auth.startswith("Bearer ey") and SECRET_BODY not in auth


async def test_health_reads_the_server_time(
    broker: CoinbaseBroker, http: responses.RequestsMock
) -> None:
    http.get(f"{API}/time", json=payload("time.json"))
    health = await broker.health()
    assert health.ok and health.detail == "server time 1700000000000"


# -- account and positions -------------------------------------------------------------------
async def test_account_and_positions_from_the_brokerage_accounts(
    broker: CoinbaseBroker, http: responses.RequestsMock
) -> None:
    http.get(f"{API}/accounts", json=payload("accounts.json"))
    account = await broker.account()
    assert account.currency == "USD"
    assert account.cash == Decimal("5000.0012") and account.buying_power == Decimal("4810.3312")
    assert params(http, 0)["limit"] == ["250"]
    held = {p.symbol: p.quantity for p in await broker.positions()}
    assert held == {"BTC-USD": Decimal("0.013")}  # available + hold; ETH is zero


# -- orders ----------------------------------------------------------------------------------
async def test_place_limit_sends_the_documented_configuration_and_client_id(
    broker: CoinbaseBroker, http: responses.RequestsMock
) -> None:
    http.post(f"{API}/orders", json=payload("create_order.json"))
    placed = await broker.place_order(limit_order())
    body = sent_json(http, 0)
    assert body["client_order_id"] == CID and body["product_id"] == "BTC-USD"
    assert body["side"] == "BUY"
    assert body["order_configuration"] == {
        "limit_limit_gtc": {"base_size": "0.001", "limit_price": "36000", "post_only": False}
    }
    assert placed.status is OrderStatus.SUBMITTED and placed.venue_order_id == ORDER_ID
    assert placed.client_order_id == CID and placed.symbol == "BTC-USD"


@pytest.mark.parametrize(
    ("order", "config"),
    [
        (Order("m1", "s", "BTC-USD", OrderSide.BUY, Decimal("0.002")),
         {"market_market_ioc": {"base_size": "0.002"}}),
        (limit_order("i1", tif=TimeInForce.IOC),
         {"sor_limit_ioc": {"base_size": "0.001", "limit_price": "36000"}}),
        (limit_order("f1", tif=TimeInForce.FOK),
         {"limit_limit_fok": {"base_size": "0.001", "limit_price": "36000"}}),
        (Order("s1", "s", "BTC-USD", OrderSide.SELL, Decimal("0.001"), OrderType.STOP_LIMIT,
               limit_price=Decimal("34000"), stop_price=Decimal("34100")),
         {"stop_limit_stop_limit_gtc": {"base_size": "0.001", "limit_price": "34000",
                                        "stop_price": "34100",
                                        "stop_direction": "STOP_DIRECTION_STOP_DOWN"}}),
    ],
)  # fmt: skip
async def test_each_order_kind_has_its_configuration(
    broker: CoinbaseBroker, http: responses.RequestsMock, order: Order, config: dict[str, Any]
) -> None:
    http.post(f"{API}/orders", json=payload("create_order.json"))
    await broker.place_order(order)
    # a market buy is sized in the base asset too, never read as quote currency to spend
    assert sent_json(http, 0)["order_configuration"] == config


async def test_what_coinbase_cannot_express_is_refused_before_sending(
    broker: CoinbaseBroker, http: responses.RequestsMock
) -> None:
    stop_ioc = Order(
        "x", "s", "BTC-USD", OrderSide.SELL, Decimal("0.001"), OrderType.STOP_LIMIT,
        limit_price=Decimal("34000"), stop_price=Decimal("34100"), time_in_force=TimeInForce.IOC,
    )  # fmt: skip
    with pytest.raises(VenueError, match="no stop_limit order with time in force ioc") as info:
        await broker.place_order(stop_ioc)
    assert info.value.failure is Failure.UNSUPPORTED
    assert OrderType.STOP not in CAPABILITIES.order_types and len(http.calls) == 0


async def test_a_resend_of_a_known_client_id_returns_the_existing_order(
    broker: CoinbaseBroker, http: responses.RequestsMock
) -> None:
    """Coinbase documents that a known client_order_id creates nothing and returns its order."""
    http.post(f"{API}/orders", json=payload("create_order.json"))
    first = await broker.place_order(limit_order())
    again = await broker.place_order(limit_order())
    assert first.venue_order_id == again.venue_order_id == ORDER_ID
    assert [sent_json(http, n)["client_order_id"] for n in (0, 1)] == [CID, CID]


async def test_get_order_by_the_venue_id_seen_when_placing(
    broker: CoinbaseBroker, http: responses.RequestsMock
) -> None:
    http.post(f"{API}/orders", json=payload("create_order.json"))
    http.get(f"{API}/orders/historical/{ORDER_ID}", json=payload("order.json"))
    await broker.place_order(limit_order())
    found = await broker.get_order(CID, "BTC-USD")
    assert found is not None and found.status is OrderStatus.PARTIALLY_FILLED
    assert found.filled_quantity == Decimal("0.0004") and found.avg_price == Decimal("36000")
    assert found.limit_price == Decimal("36000") and found.ts == 1700000000123 * 1_000_000


async def test_get_order_without_a_known_id_scans_the_product_and_reports_not_found(
    broker: CoinbaseBroker, http: responses.RequestsMock
) -> None:
    listed = {"orders": [payload("order.json")["order"]], "has_next": False, "cursor": ""}
    http.get(f"{API}/orders/historical/batch", json=listed)
    found = await broker.get_order(CID, "BTC-USD")  # after a restart: no id in memory
    assert found is not None and found.venue_order_id == ORDER_ID
    assert params(http, 0)["product_ids"] == ["BTC-USD"] and params(http, 0)["limit"] == ["250"]
    assert await broker.get_order("never-sent", "BTC-USD") is None


async def test_cancel_goes_through_batch_cancel_and_keeps_its_failure_reason(
    broker: CoinbaseBroker, http: responses.RequestsMock
) -> None:
    http.post(f"{API}/orders", json=payload("create_order.json"))
    http.get(f"{API}/orders/historical/{ORDER_ID}", json=payload("order.json"))
    http.post(f"{API}/orders/batch_cancel", json=payload("batch_cancel.json"))
    await broker.place_order(limit_order())
    await broker.cancel_order(CID, "BTC-USD")
    assert sent_json(http, 2) == {"order_ids": [ORDER_ID]}
    refused = {"results": [{"success": False, "failure_reason": "UNKNOWN_CANCEL_ORDER",
                            "order_id": ORDER_ID}]}  # fmt: skip
    http.replace(responses.POST, f"{API}/orders/batch_cancel", json=refused)
    with pytest.raises(VenueError, match="UNKNOWN_CANCEL_ORDER") as info:
        await broker.cancel_order(CID, "BTC-USD")
    assert info.value.failure is Failure.NOT_FOUND


async def test_open_orders_follow_the_cursor(
    broker: CoinbaseBroker, http: responses.RequestsMock
) -> None:
    order = payload("order.json")["order"]
    page = [order | {"order_id": f"{n:08d}-0000-4000-8000-000000000000",
                     "client_order_id": f"c{n}"} for n in range(250)]  # fmt: skip
    http.get(
        f"{API}/orders/historical/batch", json={"orders": page, "has_next": True, "cursor": "p2"}
    )
    http.get(
        f"{API}/orders/historical/batch", json={"orders": [order], "has_next": False, "cursor": ""}
    )
    listed = await broker.open_orders()
    assert len(listed) == 251 and listed[-1].client_order_id in {CID, "c249"}
    assert params(http, 0)["order_status"] == ["OPEN"] and params(http, 1)["cursor"] == ["p2"]


async def test_fills_with_commission_in_the_quote_currency(
    broker: CoinbaseBroker, http: responses.RequestsMock
) -> None:
    http.get(f"{API}/orders/historical/fills", json=payload("fills.json"))
    fills = await broker.fills(1700000000000 * 1_000_000, ["BTC-USD"])
    assert params(http, 0)["start_sequence_timestamp"] == ["2023-11-14T22:13:20.000Z"]
    assert [f.quantity for f in fills] == [Decimal("0.0004"), Decimal("0.0006")]
    assert [f.price for f in fills] == [Decimal("36000"), Decimal("35999.99")]
    assert [f.commission for f in fills] == [Decimal("0.0576"), Decimal("0.12959996")]
    assert [f.liquidity for f in fills] == ["maker", "taker"]
    assert fills[0].fill_id == "f3c1e0b2-4d5a-4c6b-8e7f-9a0b1c2d3e4f"
    assert all(f.venue_order_id == ORDER_ID and f.symbol == "BTC-USD" for f in fills)


def test_every_documented_coinbase_order_state_is_in_the_table() -> None:
    client = ccxt.coinbase()
    documented = ["PENDING", "OPEN", "FILLED", "CANCELLED", "EXPIRED", "FAILED", "QUEUED",
                  "CANCEL_QUEUED", "EDIT_QUEUED"]  # fmt: skip
    mapped = {s: STATUSES.map(str(client.parse_order_status(s)), Decimal(1), Decimal(0))
              for s in documented}  # fmt: skip
    assert mapped["PENDING"] is OrderStatus.SUBMITTED and mapped["FILLED"] is OrderStatus.FILLED
    assert mapped["CANCEL_QUEUED"] is OrderStatus.ACCEPTED
    # UNKNOWN_ORDER_STATUS is what it says: surfaced, not guessed
    with pytest.raises(VenueError) as info:
        STATUSES.map(str(client.parse_order_status("UNKNOWN_ORDER_STATUS")), Decimal(1), Decimal(0))
    assert info.value.failure is Failure.UNKNOWN_STATE


# -- error shapes ----------------------------------------------------------------------------
REJECTION = {
    "success": False,
    "error_response": {"error": "INSUFFICIENT_FUND",
                       "message": "Insufficient balance in source account", "error_details": "",
                       "preview_failure_reason": "PREVIEW_INSUFFICIENT_FUND"},
    "order_configuration": {"limit_limit_gtc": {"base_size": "0.001", "limit_price": "36000"}},
}  # fmt: skip
ERROR_CASES = [
    (200, REJECTION, Failure.INSUFFICIENT_FUNDS),
    (200, REJECTION | {"error_response": {"error": "INVALID_LIMIT_PRICE_POST_ONLY",
                                          "message": "Limit price too low",
                                          "preview_failure_reason": "PREVIEW_INVALID_LIMIT_PRICE"}},
     Failure.REJECTED),
    (400, {"error": "INVALID_ARGUMENT", "error_details": "invalid product_id",
           "message": "invalid product_id"}, Failure.INVALID),
    (401, {"error": "UNAUTHENTICATED", "error_details": "", "message": "Unauthenticated"},
     Failure.AUTH),
    (429, {"errors": [{"id": "rate_limit_exceeded", "message": "Too many requests"}]},
     Failure.RATE_LIMITED),
    (500, {"error": "INTERNAL", "error_details": "", "message": "internal error"},
     Failure.UNAVAILABLE),
    (503, "<html><body>503 Service Unavailable</body></html>", Failure.UNAVAILABLE),
    (504, "<html><body>504 Gateway Time-out</body></html>", Failure.TIMEOUT),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "failure"), ERROR_CASES)
async def test_error_shapes(
    broker: CoinbaseBroker,
    http: responses.RequestsMock,
    status: int,
    body: Any,
    failure: Failure,
) -> None:
    if isinstance(body, dict):
        http.post(f"{API}/orders", json=body, status=status)
    else:
        http.post(f"{API}/orders", body=body, status=status)
    with pytest.raises(VenueError) as info:
        await broker.place_order(limit_order())
    assert info.value.failure is failure
    assert info.value.context["status"] == status and info.value.context["venue"] == "coinbase"
    if isinstance(body, dict):
        inner = body.get("error_response") or body
        expected = inner.get("message") or body["errors"][0]["message"]
        assert expected in info.value.message
    assert len(http.calls) == 1


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (requests.exceptions.ReadTimeout("read timed out"), Failure.TIMEOUT),
        (requests.exceptions.ConnectionError("connection reset by peer"), Failure.UNAVAILABLE),
    ],
)
async def test_transport_failures(
    broker: CoinbaseBroker, http: responses.RequestsMock, exc: Exception, failure: Failure
) -> None:
    http.post(f"{API}/orders", body=exc)
    with pytest.raises(VenueError) as info:
        await broker.place_order(limit_order())
    assert info.value.failure is failure and info.value.transient


async def test_malformed_json(broker: CoinbaseBroker, http: responses.RequestsMock) -> None:
    http.get(f"{API}/accounts", body='{"accounts": [{"uuid": "8b', content_type="application/json")
    with pytest.raises(VenueError, match="not JSON") as info:
        await broker.account()
    assert info.value.failure is Failure.MALFORMED


async def test_secrets_never_in_errors_reprs_or_logs(
    broker: CoinbaseBroker, http: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    http.post(f"{API}/orders", json={"error": "UNAUTHENTICATED", "message": "bad jwt"}, status=401)
    http.get(f"{API}/accounts", body=requests.exceptions.ReadTimeout("read timed out"))
    messages = [repr(broker)]
    for call in (broker.place_order(limit_order()), broker.account()):
        with pytest.raises(VenueError) as info:
            await call
        messages += [str(info.value), repr(info.value.context), str(info.value.__cause__)]
    text = "\n".join(messages) + caplog.text
    assert KEY not in text and SECRET_BODY not in text and "Bearer" not in text
