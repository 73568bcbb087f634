"""The Kraken adapter through ccxt's real sync client, with ``requests``' transport replaced by
``responses`` serving payloads in Kraken's documented spot REST format (payloads/kraken).
Kraken answers errors with HTTP 200 and an ``error`` list; each shape must still become a
VenueError the pool can act on, and the key and secret never appear in errors, reprs or logs."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import ccxt
import pytest
import requests
import responses
from pydantic import SecretStr

from neural_trader.brokers.base import Failure, VenueError
from neural_trader.brokers.kraken import CAPABILITIES, STATUSES, KrakenBroker
from neural_trader.core.instruments import CryptoPair
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce

PAYLOADS = Path(__file__).parent / "payloads" / "kraken"
PUBLIC = "https://api.kraken.com/0/public"
PRIVATE = "https://api.kraken.com/0/private"
KEY = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
SECRET = base64.b64encode(b"kraken-private-key-never-shown-anywhere-0123456789").decode()
CID = "sma-1700000000000000000-1"
CL_ORD_ID = "d3687ae3-9a70-5e69-9fab-c3b27bda07e6"  # uuid5 of CID: Kraken takes <= 18 chars
TXID = "OU22CG-KLAF2-FWUDD7"


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


def form(http: responses.RequestsMock, n: int) -> dict[str, str]:
    body = http.calls[n].request.body or b""
    text = body.decode() if isinstance(body, bytes) else str(body)
    return {k: v[0] for k, v in parse_qs(text).items()}


def recorded(http: responses.RequestsMock, n: int) -> Any:
    """The n-th request as ``responses`` recorded it (with the ``req_kwargs`` it was sent with)."""
    return http.calls[n].request


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def connect_routes(http: responses.RequestsMock) -> None:
    http.get(f"{PUBLIC}/Assets", json=payload("assets.json"))
    http.get(f"{PUBLIC}/AssetPairs", json=payload("asset_pairs.json"))
    http.post(f"{PRIVATE}/BalanceEx", json=payload("balance_ex.json"))


@pytest.fixture
async def broker(http: responses.RequestsMock) -> KrakenBroker:
    connect_routes(http)
    pairs = [CryptoPair("BTC-USD@kraken", base_currency="BTC", currency="USD", venue="kraken"),
             CryptoPair("BTC-USD@binance", base_currency="BTC", currency="USD", venue="binance"),
             CryptoPair("BTC-USD", base_currency="BTC", currency="USD")]  # fmt: skip
    b = KrakenBroker(SecretStr(KEY), SecretStr(SECRET), paper=False, timeout_s=6, instruments=pairs)
    await b.connect()
    http.reset()
    return b


def limit_order(cid: str = CID, qty: str = "1.25", price: str = "27500") -> Order:
    return Order(
        cid, "sma", "BTC-USD@kraken", OrderSide.BUY, Decimal(qty), OrderType.LIMIT,
        limit_price=Decimal(price), time_in_force=TimeInForce.GTC,
    )  # fmt: skip


# -- connecting ------------------------------------------------------------------------------
def test_paper_trading_is_refused_naming_the_venue() -> None:
    with pytest.raises(VenueError, match="kraken: kraken has no sandbox") as info:
        KrakenBroker(SecretStr(KEY), SecretStr(SECRET), paper=True)
    assert info.value.failure is Failure.UNSUPPORTED and "paper_trading = false" in str(info.value)
    assert not CAPABILITIES.sandbox and CAPABILITIES.max_connections == 1  # one nonce sequence


async def test_connect_loads_assets_and_pairs_and_signs_private_calls(
    http: responses.RequestsMock,
) -> None:
    connect_routes(http)
    b = KrakenBroker(SecretStr(KEY), SecretStr(SECRET), paper=False)
    await b.connect()
    paths = [str(c.request.url).removeprefix("https://api.kraken.com") for c in http.calls]
    assert paths == ["/0/public/Assets", "/0/public/AssetPairs", "/0/private/BalanceEx"]
    signed = http.calls[2].request
    assert signed.headers["API-Key"] == KEY and signed.headers["API-Sign"]
    assert "nonce" in form(http, 2) and SECRET not in str(signed.headers)


async def test_health_is_the_system_status(
    broker: KrakenBroker, http: responses.RequestsMock
) -> None:
    http.get(f"{PUBLIC}/SystemStatus", json=payload("system_status.json"))
    assert (await broker.health()).ok
    http.replace(
        responses.GET,
        f"{PUBLIC}/SystemStatus",
        json={
            "error": [],
            "result": {"status": "cancel_only", "timestamp": "2023-07-06T19:00:00Z"},
        },
    )
    health = await broker.health()
    assert not health.ok and health.detail == "cancel_only"


# -- account and positions -------------------------------------------------------------------
async def test_account_and_positions_from_the_extended_balance(
    broker: KrakenBroker, http: responses.RequestsMock
) -> None:
    http.post(f"{PRIVATE}/BalanceEx", json=payload("balance_ex.json"))
    account = await broker.account()
    assert account.currency == "USD" and account.cash == Decimal("25435.21")
    assert account.buying_power == Decimal("17185.45")  # balance less what orders hold
    held = {p.symbol: p.quantity for p in await broker.positions()}
    # XXBT is BTC, named by this venue's own symbol (not binance's, not the plain one)
    assert held == {"BTC-USD@kraken": Decimal("1.2435")}


# -- orders ----------------------------------------------------------------------------------
async def test_place_limit_sends_a_kraken_client_id_and_is_acknowledged(
    broker: KrakenBroker, http: responses.RequestsMock
) -> None:
    http.post(f"{PRIVATE}/AddOrder", json=payload("add_order.json"))
    placed = await broker.place_order(limit_order())
    sent = form(http, 0)
    assert sent["cl_ord_id"] == CL_ORD_ID  # the kernel's id is too long for cl_ord_id
    assert (sent["pair"], sent["type"], sent["ordertype"]) == ("XXBTZUSD", "buy", "limit")
    assert (sent["volume"], sent["price"], sent["timeinforce"]) == ("1.25", "27500", "GTC")
    # AddOrder answers with the txid only: submitted, the state comes with the next update
    assert placed.status is OrderStatus.SUBMITTED and placed.venue_order_id == TXID
    assert placed.client_order_id == CID and placed.symbol == "BTC-USD@kraken"
    assert recorded(http, 0).req_kwargs["timeout"] == 6


async def test_stop_orders_are_stop_loss_with_the_limit_as_price2(
    broker: KrakenBroker, http: responses.RequestsMock
) -> None:
    http.post(f"{PRIVATE}/AddOrder", json=payload("add_order.json"))
    stop = Order(
        "st1", "s", "BTC-USD@kraken", OrderSide.SELL, Decimal("0.5"), OrderType.STOP_LIMIT,
        limit_price=Decimal("26000"), stop_price=Decimal("26100"),
    )  # fmt: skip
    await broker.place_order(stop)
    sent = form(http, 0)
    assert (sent["ordertype"], sent["price"], sent["price2"]) == (
        "stop-loss-limit",
        "26100",
        "26000",
    )
    assert sent["cl_ord_id"] == "st1"  # short ids go as they are
    market_stop = Order(
        "st2", "s", "BTC-USD", OrderSide.SELL, Decimal("0.5"), OrderType.STOP,
        stop_price=Decimal("26100"),
    )  # fmt: skip
    await broker.place_order(market_stop)
    assert (form(http, 1)["ordertype"], form(http, 1)["price"]) == ("stop-loss", "26100")


async def test_get_order_looks_among_open_then_closed_orders(
    broker: KrakenBroker, http: responses.RequestsMock
) -> None:
    http.post(f"{PRIVATE}/OpenOrders", json=payload("open_orders.json"))
    found = await broker.get_order(CID, "BTC-USD@kraken")
    assert found is not None and found.status is OrderStatus.PARTIALLY_FILLED
    assert found.client_order_id == CID and found.filled_quantity == Decimal("0.375")
    assert found.symbol == "BTC-USD@kraken" and found.limit_price == Decimal("27500")
    assert form(http, 0)["cl_ord_id"] == CL_ORD_ID
    http.replace(
        responses.POST, f"{PRIVATE}/OpenOrders", json={"error": [], "result": {"open": {}}}
    )
    http.post(f"{PRIVATE}/ClosedOrders", json=payload("closed_orders.json"))
    closed = await broker.get_order(CID, "BTC-USD@kraken")
    assert closed is not None and closed.status is OrderStatus.FILLED
    assert closed.ts == 1688666721041 * 1_000_000  # closetm
    assert form(http, 2)["cl_ord_id"] == CL_ORD_ID
    http.replace(
        responses.POST,
        f"{PRIVATE}/ClosedOrders",
        json={"error": [], "result": {"closed": {}, "count": 0}},
    )
    assert await broker.get_order("never-sent", "BTC-USD@kraken") is None


async def test_cancel_by_client_id_and_unknown_order(
    broker: KrakenBroker, http: responses.RequestsMock
) -> None:
    http.post(f"{PRIVATE}/CancelOrder", json=payload("cancel_order.json"))
    await broker.cancel_order(CID, "BTC-USD@kraken")
    sent = form(http, 0)
    assert sent["cl_ord_id"] == CL_ORD_ID and "txid" not in sent
    http.replace(responses.POST, f"{PRIVATE}/CancelOrder", json={"error": ["EOrder:Unknown order"]})
    with pytest.raises(VenueError) as info:
        await broker.cancel_order("gone", "BTC-USD@kraken")
    assert info.value.failure is Failure.NOT_FOUND


async def test_fills_from_trades_history_with_quote_fees(
    broker: KrakenBroker, http: responses.RequestsMock
) -> None:
    http.post(f"{PRIVATE}/TradesHistory", json=payload("trades_history.json"))
    fills = await broker.fills(1688666500 * 10**9, ["BTC-USD@kraken"])
    assert form(http, 0)["start"] == "1688666500" and form(http, 0)["ofs"] == "0"
    assert [f.fill_id for f in fills] == ["TCCCTY-WE2O6-P3NB37", "THVRQM-33VKH-UCI7BS"]  # by time
    assert [f.quantity for f in fills] == [Decimal("0.375"), Decimal("0.875")]
    assert [f.commission for f in fills] == [Decimal("16.5"), Decimal("38.5")]  # in USD
    assert all(f.venue_order_id == TXID and f.symbol == "BTC-USD@kraken" for f in fills)
    assert fills[0].liquidity == "maker" and fills[0].ts == 1688666600211 * 1_000_000


async def test_fills_follow_offsets_until_a_short_page(
    broker: KrakenBroker, http: responses.RequestsMock
) -> None:
    one = payload("trades_history.json")["result"]["trades"]["TCCCTY-WE2O6-P3NB37"]
    page = {f"T{n:05d}-AAAAA-AAAAAA": one | {"time": 1688666600 + n} for n in range(50)}
    http.post(
        f"{PRIVATE}/TradesHistory", json={"error": [], "result": {"trades": page, "count": 52}}
    )
    http.post(f"{PRIVATE}/TradesHistory", json=payload("trades_history.json"))
    fills = await broker.fills(0, [])
    assert len(fills) == 52 and [form(http, n)["ofs"] for n in (0, 1)] == ["0", "50"]


def test_every_documented_kraken_order_state_is_in_the_table() -> None:
    client = ccxt.kraken()
    documented = ["pending", "open", "closed", "canceled", "expired"]
    mapped = [
        STATUSES.map(client.parse_order_status(s), Decimal(1), Decimal(0)) for s in documented
    ]
    assert mapped == [OrderStatus.ACCEPTED, OrderStatus.ACCEPTED, OrderStatus.FILLED,
                      OrderStatus.CANCELED, OrderStatus.EXPIRED]  # fmt: skip


async def test_an_ioc_closed_short_of_its_quantity_is_done_not_filled(
    broker: KrakenBroker, http: responses.RequestsMock
) -> None:
    closed = payload("closed_orders.json")
    closed["result"]["closed"][TXID] |= {"vol_exec": "0.40000000"}
    http.post(f"{PRIVATE}/OpenOrders", json={"error": [], "result": {"open": {}}})
    http.post(f"{PRIVATE}/ClosedOrders", json=closed)
    found = await broker.get_order(CID, "BTC-USD@kraken")
    assert found is not None and found.status is OrderStatus.CANCELED
    assert "0.4 of 1.25 filled" in found.reason


# -- error shapes ----------------------------------------------------------------------------
ERROR_CASES = [
    (200, {"error": ["EOrder:Order minimum not met"]}, Failure.REJECTED),
    (200, {"error": ["EOrder:Insufficient funds"]}, Failure.INSUFFICIENT_FUNDS),
    (200, {"error": ["EAPI:Invalid key"]}, Failure.AUTH),
    (200, {"error": ["EQuery:Unknown asset pair"]}, Failure.INVALID),
    (200, {"error": ["EGeneral:Invalid arguments"]}, Failure.INVALID),
    (200, {"error": ["EAPI:Rate limit exceeded"]}, Failure.RATE_LIMITED),
    (429, {"error": ["EGeneral:Too many requests"]}, Failure.RATE_LIMITED),
    (200, {"error": ["EService:Unavailable"]}, Failure.UNAVAILABLE),
    (200, {"error": ["EService:Market in cancel_only mode"]}, Failure.UNAVAILABLE),
    (200, {"error": ["EAPI:Invalid nonce"]}, Failure.UNAVAILABLE),
    (502, "<html><body>502 Bad Gateway</body></html>", Failure.UNAVAILABLE),
    (520, "<html><body>520: Web server is returning an unknown error</body></html>",
     Failure.UNAVAILABLE),
    (504, "<html><body>504 Gateway Time-out</body></html>", Failure.TIMEOUT),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "failure"), ERROR_CASES)
async def test_error_shapes(
    broker: KrakenBroker,
    http: responses.RequestsMock,
    status: int,
    body: Any,
    failure: Failure,
) -> None:
    if isinstance(body, dict):
        http.post(f"{PRIVATE}/AddOrder", json=body, status=status)
    else:
        http.post(f"{PRIVATE}/AddOrder", body=body, status=status)
    with pytest.raises(VenueError) as info:
        await broker.place_order(limit_order())
    assert info.value.failure is failure
    assert info.value.context["status"] == status and info.value.context["venue"] == "kraken"
    if isinstance(body, dict):
        assert body["error"][0] in info.value.message
    assert len(http.calls) == 1


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (requests.exceptions.ReadTimeout("read timed out"), Failure.TIMEOUT),
        (requests.exceptions.ConnectionError("connection reset by peer"), Failure.UNAVAILABLE),
    ],
)
async def test_transport_failures(
    broker: KrakenBroker, http: responses.RequestsMock, exc: Exception, failure: Failure
) -> None:
    http.post(f"{PRIVATE}/AddOrder", body=exc)
    with pytest.raises(VenueError) as info:
        await broker.place_order(limit_order())
    assert info.value.failure is failure and info.value.transient


async def test_malformed_json(broker: KrakenBroker, http: responses.RequestsMock) -> None:
    http.post(
        f"{PRIVATE}/BalanceEx",
        body='{"error":[],"result":{"ZUSD":',
        content_type="application/json",
    )
    with pytest.raises(VenueError, match="not JSON") as info:
        await broker.account()
    assert info.value.failure is Failure.MALFORMED


async def test_secrets_never_in_errors_reprs_or_logs(
    broker: KrakenBroker, http: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    http.post(f"{PRIVATE}/AddOrder", json={"error": ["EAPI:Invalid key"]})
    http.post(f"{PRIVATE}/BalanceEx", body=requests.exceptions.ReadTimeout("read timed out"))
    messages = [repr(broker)]
    for call in (broker.place_order(limit_order()), broker.account()):
        with pytest.raises(VenueError) as info:
            await call
        messages += [str(info.value), repr(info.value.context), str(info.value.__cause__)]
    text = "\n".join(messages) + caplog.text
    assert KEY not in text and SECRET not in text
