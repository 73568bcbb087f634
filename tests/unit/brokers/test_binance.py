"""The Binance adapter through ccxt's real sync client, with ``requests``' transport replaced by
``responses`` serving payloads in Binance's documented spot REST format (payloads/binance).
Every error shape must come back as a VenueError the pool can act on, and neither the key nor
the secret may appear in an error, a repr or a log line."""

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
from pydantic import SecretStr

from neural_trader.brokers.base import Failure, VenueError
from neural_trader.brokers.binance import CAPABILITIES, STATUSES, BinanceBroker
from neural_trader.core.instruments import CryptoPair
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce

PAYLOADS = Path(__file__).parent / "payloads" / "binance"
API = "https://api.binance.com/api/v3"
TESTNET = "https://testnet.binance.vision/api/v3"
KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
CID = "sma-1700000000000000000-1"
SERVER_MS = 1700000000000  # Binance's clock, well behind ours: signed stamps must follow it


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


def query(http: responses.RequestsMock, n: int) -> dict[str, str]:
    """The n-th request's parameters (query string, or form body for POST/DELETE)."""
    request = http.calls[n].request
    text = urlparse(str(request.url)).query
    if request.body:
        text = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
    return {k: v[0] for k, v in parse_qs(text).items()}


def recorded(http: responses.RequestsMock, n: int) -> Any:
    """The n-th request as ``responses`` recorded it (with the ``req_kwargs`` it was sent with)."""
    return http.calls[n].request


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def connect_routes(http: responses.RequestsMock, base: str = API) -> None:
    http.get(f"{base}/exchangeInfo", json=payload("exchange_info.json"))
    http.get(f"{base}/time", json={"serverTime": SERVER_MS})
    http.get(f"{base}/account", json=payload("account.json"))


@pytest.fixture
async def broker(http: responses.RequestsMock) -> BinanceBroker:
    connect_routes(http)
    pairs = [
        CryptoPair("BTC-USDT", base_currency="BTC"),
        CryptoPair("ETH/USDT", base_currency="ETH"),
    ]
    b = BinanceBroker(
        SecretStr(KEY), SecretStr(SECRET), paper=False, timeout_s=7.5, instruments=pairs
    )
    await b.connect()
    http.reset()
    return b


def limit_order(cid: str = CID, qty: str = "0.001", price: str = "27500") -> Order:
    return Order(
        cid,
        "sma",
        "BTC-USDT",
        OrderSide.BUY,
        Decimal(qty),
        OrderType.LIMIT,
        limit_price=Decimal(price),
        time_in_force=TimeInForce.GTC,
    )


# -- connecting ------------------------------------------------------------------------------
async def test_connect_loads_spot_markets_only_and_proves_the_keys(
    http: responses.RequestsMock,
) -> None:
    connect_routes(http)
    b = BinanceBroker(SecretStr(KEY), SecretStr(SECRET), paper=False)
    await b.connect()
    # one exchangeInfo (no futures, margin or wallet calls), then the signed account read
    assert [urlparse(c.request.url).path for c in http.calls] == [
        "/api/v3/exchangeInfo",
        "/api/v3/time",  # the clock offset, applied to every signed timestamp
        "/api/v3/account",
    ]
    signed = http.calls[2].request
    assert signed.headers["X-MBX-APIKEY"] == KEY
    stamp = int(query(http, 2)["timestamp"])
    assert "signature" in query(http, 2) and abs(stamp - SERVER_MS) < 60_000
    assert SECRET not in str(signed.url) and SECRET not in str(signed.headers)


async def test_paper_trading_goes_to_the_spot_testnet(http: responses.RequestsMock) -> None:
    connect_routes(http, TESTNET)
    b = BinanceBroker(SecretStr(KEY), SecretStr(SECRET), paper=True)
    await b.connect()
    assert {urlparse(c.request.url).netloc for c in http.calls} == {"testnet.binance.vision"}
    assert CAPABILITIES.sandbox and repr(b) == "BinanceBroker(name='binance', paper=True)"


# -- account and positions -------------------------------------------------------------------
async def test_account_is_the_quote_currency_balance_in_exact_decimals(
    broker: BinanceBroker, http: responses.RequestsMock
) -> None:
    http.get(f"{API}/account", json=payload("account.json"))
    account = await broker.account()
    assert account.currency == "USDT"
    assert account.cash == Decimal("9830.05123456")  # free + locked
    assert account.buying_power == Decimal("9802.55123456")  # free only


async def test_spot_balances_are_positions_named_as_the_platform_names_them(
    broker: BinanceBroker, http: responses.RequestsMock
) -> None:
    http.get(f"{API}/account", json=payload("account.json"))
    held = {p.symbol: p.quantity for p in await broker.positions()}
    # BTC under the registry's "BTC-USDT"; BNB (no instrument) as ccxt's pair; ETH is zero
    assert held == {"BTC-USDT": Decimal("0.0135"), "BNB/USDT": Decimal("0.35")}


# -- orders ----------------------------------------------------------------------------------
async def test_place_limit_sends_the_client_id_and_exact_numbers(
    broker: BinanceBroker, http: responses.RequestsMock
) -> None:
    http.post(f"{API}/order", json=payload("order_new.json"))
    placed = await broker.place_order(limit_order())
    sent = query(http, 0)
    assert sent["newClientOrderId"] == CID
    assert (sent["symbol"], sent["side"], sent["type"]) == ("BTCUSDT", "BUY", "LIMIT")
    assert (sent["quantity"], sent["price"], sent["timeInForce"]) == ("0.001", "27500", "GTC")
    assert placed.status is OrderStatus.ACCEPTED and placed.venue_status == "open"
    assert placed.venue_order_id == "28457151" and placed.client_order_id == CID
    assert placed.symbol == "BTC-USDT" and placed.limit_price == Decimal("27500")
    assert placed.quantity == Decimal("0.001") and placed.ts == 1700000012345 * 1_000_000
    # every request carries the adapter's timeout
    assert recorded(http, 0).req_kwargs["timeout"] == 7.5


async def test_market_and_stop_orders_are_expressed_in_binance_terms(
    broker: BinanceBroker, http: responses.RequestsMock
) -> None:
    filled = payload("order_new.json") | {
        "status": "FILLED",
        "type": "MARKET",
        "executedQty": "0.001",
    }
    http.post(f"{API}/order", json=filled)
    market = Order("m1", "s", "BTC-USDT", OrderSide.BUY, Decimal("0.001"))
    assert (await broker.place_order(market)).status is OrderStatus.FILLED
    sent = query(http, 0)
    # base quantity, no price (which would make it a quote-currency order), no time in force
    assert sent["type"] == "MARKET" and sent["quantity"] == "0.001"
    assert "price" not in sent and "quoteOrderQty" not in sent and "timeInForce" not in sent
    stop = Order(
        "st1", "s", "BTC-USDT", OrderSide.SELL, Decimal("0.001"), OrderType.STOP_LIMIT,
        limit_price=Decimal("26000"), stop_price=Decimal("26100"),
    )  # fmt: skip
    await broker.place_order(stop)
    sent = query(http, 1)
    assert (sent["type"], sent["stopPrice"], sent["price"]) == ("STOP_LOSS_LIMIT", "26100", "26000")


async def test_a_quantity_or_price_off_the_venue_grid_is_refused_before_sending(
    broker: BinanceBroker, http: responses.RequestsMock
) -> None:
    with pytest.raises(VenueError, match=r"amount 0.0012345 is not a multiple of 0.00001") as info:
        await broker.place_order(limit_order(qty="0.0012345"))  # ccxt would truncate it
    assert info.value.failure is Failure.INVALID
    with pytest.raises(VenueError, match=r"price 27500.005 is not a multiple of 0.01"):
        await broker.place_order(limit_order(price="27500.005"))
    with pytest.raises(VenueError, match="lists no market DOGE/EUR"):
        await broker.place_order(Order("x", "s", "DOGE-EUR", OrderSide.BUY, Decimal(1)))
    assert len(http.calls) == 0


async def test_get_order_by_client_id_maps_partial_fills_and_not_found(
    broker: BinanceBroker, http: responses.RequestsMock
) -> None:
    http.get(f"{API}/order", json=payload("order_query.json"))
    found = await broker.get_order(CID, "BTC-USDT")
    assert found is not None and found.status is OrderStatus.PARTIALLY_FILLED
    assert found.filled_quantity == Decimal("0.0004") and found.avg_price == Decimal("27500")
    assert query(http, 0)["origClientOrderId"] == CID and query(http, 0)["symbol"] == "BTCUSDT"
    assert found.ts == 1700000023456 * 1_000_000  # the update time
    http.replace(
        responses.GET,
        f"{API}/order",
        json={"code": -2013, "msg": "Order does not exist."},
        status=400,
    )
    assert await broker.get_order("sma-x", "BTC-USDT") is None


async def test_cancel_by_client_id(broker: BinanceBroker, http: responses.RequestsMock) -> None:
    http.delete(f"{API}/order", json=payload("order_canceled.json"))
    await broker.cancel_order(CID, "BTC-USDT")
    assert http.calls[0].request.method == "DELETE"
    assert query(http, 0)["origClientOrderId"] == CID
    http.replace(
        responses.DELETE,
        f"{API}/order",
        json={"code": -2011, "msg": "Unknown order sent."},
        status=400,
    )
    with pytest.raises(VenueError) as info:
        await broker.cancel_order("gone", "BTC-USDT")
    assert info.value.failure is Failure.NOT_FOUND


async def test_open_orders_list_every_symbol_and_foreign_stop_orders(
    broker: BinanceBroker, http: responses.RequestsMock
) -> None:
    http.get(f"{API}/openOrders", json=[payload("order_new.json"), payload("stop_limit_open.json")])
    listed = {o.client_order_id: o for o in await broker.open_orders()}
    mine, manual = listed[CID], listed["manual-stop-7"]
    assert "symbol" not in query(http, 0)  # one call for all symbols
    assert mine.client_order_id == CID and mine.status is OrderStatus.ACCEPTED
    assert manual.symbol == "ETH/USDT" and manual.order_type is OrderType.STOP_LIMIT
    assert (manual.stop_price, manual.limit_price) == (Decimal(1790), Decimal(1780))


async def test_fills_per_symbol_with_commission_only_when_paid_in_quote(
    broker: BinanceBroker, http: responses.RequestsMock
) -> None:
    http.get(f"{API}/myTrades", json=payload("my_trades.json"))
    fills = await broker.fills(1700000000000 * 1_000_000, ["BTC-USDT"])
    params = query(http, 0)
    assert (params["symbol"], params["startTime"], params["limit"]) == (
        "BTCUSDT",
        "1700000000000",
        "1000",
    )
    assert [f.fill_id for f in fills] == ["3187412", "3187420"]
    assert [f.quantity for f in fills] == [Decimal("0.0004"), Decimal("0.0006")]
    assert fills[0].price == Decimal("27500") and fills[1].price == Decimal("27499.99")
    # USDT fee is cash; the BNB fee moves the BNB balance, not cash
    assert [f.commission for f in fills] == [Decimal("0.011"), Decimal(0)]
    assert [f.liquidity for f in fills] == ["maker", "taker"]
    assert all(f.venue_order_id == "28457151" and f.symbol == "BTC-USDT" for f in fills)
    assert fills[0].ts == 1700000023456 * 1_000_000


async def test_fills_skip_symbols_binance_does_not_list(
    broker: BinanceBroker, http: responses.RequestsMock
) -> None:
    assert await broker.fills(0, ["AAPL", "DOGE-EUR"]) == []
    assert len(http.calls) == 0


def test_every_documented_binance_order_state_is_in_the_table() -> None:
    """Binance's spot order states, through ccxt's own mapping, are all known to ours."""
    client = ccxt.binance()
    documented = ["NEW", "PENDING_NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED",
                  "PENDING_CANCEL", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH"]  # fmt: skip
    mapped = {raw: STATUSES.map(client.parse_order_status(raw), Decimal(1), Decimal(0))
              for raw in documented}  # fmt: skip
    assert mapped["PENDING_NEW"] is OrderStatus.SUBMITTED
    assert mapped["EXPIRED_IN_MATCH"] is OrderStatus.EXPIRED
    assert mapped["PENDING_CANCEL"] is OrderStatus.ACCEPTED


async def test_unknown_state_is_surfaced_with_the_raw_state(
    broker: BinanceBroker, http: responses.RequestsMock
) -> None:
    http.get(f"{API}/order", json=payload("order_query.json") | {"status": "AWAITING_SPLIT"})
    with pytest.raises(VenueError) as info:
        await broker.get_order(CID, "BTC-USDT")
    assert info.value.failure is Failure.UNKNOWN_STATE
    assert info.value.context["state"] == "AWAITING_SPLIT" and info.value.context["order"] == CID


# -- error shapes ----------------------------------------------------------------------------
ERROR_CASES = [
    (400, {"code": -1013, "msg": "Filter failure: NOTIONAL"}, Failure.REJECTED),
    (400, {"code": -2010, "msg": "Account has insufficient balance for requested action."},
     Failure.INSUFFICIENT_FUNDS),
    (400, {"code": -2010, "msg": "Duplicate order sent."}, Failure.DUPLICATE),
    (400, {"code": -1121, "msg": "Invalid symbol."}, Failure.INVALID),
    (401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}, Failure.AUTH),
    (429, {"code": -1003, "msg": "Too much request weight used; current limit is 6000 request "
           "weight per 1 MINUTE."}, Failure.RATE_LIMITED),
    (418, {"code": -1003, "msg": "Way too much request weight used; IP banned until "
           "1700000600000."}, Failure.RATE_LIMITED),
    (500, {"code": -1001, "msg": "Internal error; unable to process your request. Please try "
           "again."}, Failure.UNAVAILABLE),
    (503, "<html><body><h1>503 Service Unavailable</h1></body></html>", Failure.UNAVAILABLE),
    (504, "<html><body>504 Gateway Time-out</body></html>", Failure.TIMEOUT),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "failure"), ERROR_CASES)
async def test_error_shapes(
    broker: BinanceBroker,
    http: responses.RequestsMock,
    status: int,
    body: Any,
    failure: Failure,
) -> None:
    if isinstance(body, dict):
        http.post(f"{API}/order", json=body, status=status)
    else:
        http.post(f"{API}/order", body=body, status=status)
    with pytest.raises(VenueError) as info:
        await broker.place_order(limit_order())
    assert info.value.failure is failure
    assert info.value.context["status"] == status and info.value.context["venue"] == "binance"
    if isinstance(body, dict):  # the venue's own words and code reach the error
        assert body["msg"] in info.value.message and info.value.context["code"] == str(body["code"])
    assert len(http.calls) == 1  # one attempt: the pool decides about retries


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (requests.exceptions.ReadTimeout("read timed out"), Failure.TIMEOUT),
        (requests.exceptions.ConnectTimeout("connect timed out"), Failure.TIMEOUT),
        (requests.exceptions.ConnectionError("connection reset by peer"), Failure.UNAVAILABLE),
    ],
)
async def test_transport_failures(
    broker: BinanceBroker, http: responses.RequestsMock, exc: Exception, failure: Failure
) -> None:
    http.post(f"{API}/order", body=exc)
    with pytest.raises(VenueError) as info:
        await broker.place_order(limit_order())
    assert info.value.failure is failure and info.value.transient


async def test_malformed_json_and_missing_fields(
    broker: BinanceBroker, http: responses.RequestsMock
) -> None:
    http.get(
        f"{API}/account",
        body='{"balances": [{"asset": "USDT", "fr',
        content_type="application/json",
    )
    with pytest.raises(VenueError, match="not JSON") as info:
        await broker.account()
    assert info.value.failure is Failure.MALFORMED and info.value.context["status"] == 200
    http.get(f"{API}/openOrders", json=[payload("order_new.json") | {"side": None}])
    with pytest.raises(VenueError, match="known side") as info:
        await broker.open_orders()
    assert info.value.failure is Failure.MALFORMED


async def test_secrets_never_in_errors_reprs_or_logs(
    broker: BinanceBroker, http: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    http.post(f"{API}/order", json={"code": -2015, "msg": "Invalid API-key."}, status=401)
    http.get(f"{API}/account", body=requests.exceptions.ReadTimeout("read timed out"))
    http.get(f"{API}/openOrders", body="<html>oops</html>", status=502)
    messages = [repr(broker), str(broker.__dict__.get("_key")), str(broker.__dict__.get("_secret"))]
    for call in (broker.place_order(limit_order()), broker.account(), broker.open_orders()):
        with pytest.raises(VenueError) as info:
            await call
        messages += [str(info.value), repr(info.value.context), str(info.value.__cause__)]
    text = "\n".join(messages) + caplog.text
    assert KEY not in text and SECRET not in text
    assert "signature=" not in text  # signed query strings are cut from messages


async def test_not_connected_is_unavailable() -> None:
    b = BinanceBroker(SecretStr(KEY), SecretStr(SECRET), paper=False)
    with pytest.raises(VenueError) as info:
        await b.account()
    assert info.value.failure is Failure.UNAVAILABLE


async def test_fills_page_on_by_trade_id_while_pages_are_full(
    broker: BinanceBroker, http: responses.RequestsMock
) -> None:
    first = payload("my_trades.json")[0]
    full = [first | {"id": 5000 + n, "time": 1700000023456 + n} for n in range(1000)]
    http.get(f"{API}/myTrades", json=full)
    http.get(f"{API}/myTrades", json=payload("my_trades.json")[1:])
    fills = await broker.fills(1700000000000 * 1_000_000, ["BTC-USDT"])
    assert len(fills) == 1001
    # by time first, then onwards from the last trade id (time and fromId never together)
    assert "fromId" not in query(http, 0) and query(http, 0)["startTime"] == "1700000000000"
    assert query(http, 1)["fromId"] == "6000" and "startTime" not in query(http, 1)
