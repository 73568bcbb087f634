"""The Alpaca adapter through the real alpaca-py TradingClient, with ``requests``' transport
replaced by ``responses`` serving payloads in Alpaca's documented format (tests/unit/brokers/
payloads/alpaca). Each venue error shape must come back as a VenueError whose failure the
pool can act on, and no key or secret may ever appear in an error or a log line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from alpaca.trading.enums import OrderStatus as AlpacaStatus
from pydantic import SecretStr

from neural_trader.brokers.alpaca import STATUSES, AlpacaBroker
from neural_trader.brokers.base import Failure, VenueError
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce

PAYLOADS = Path(__file__).parent / "payloads" / "alpaca"
API = "https://paper-api.alpaca.markets/v2"
KEY = "PKTESTKEY0123456789AB"
SECRET = "s3cr3t-alpaca-value-never-shown-anywhere"
ORDER_ID = "61e69015-8549-4bfd-b9c3-01e75843f47d"
CID = "sma-1700000000000000000-1"


def req(http: responses.RequestsMock, n: int) -> Any:
    """The n-th request sent (responses adds ``params`` and ``req_kwargs`` to it)."""
    return http.calls[n].request


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
async def broker(http: responses.RequestsMock) -> AlpacaBroker:
    http.get(f"{API}/account", json=payload("account.json"))
    b = AlpacaBroker(SecretStr(KEY), SecretStr(SECRET), paper=True, timeout_s=7.5)
    await b.connect()
    http.reset()
    return b


def limit_order(cid: str = CID, qty: str = "10") -> Order:
    return Order(
        cid,
        "sma",
        "AAPL",
        OrderSide.BUY,
        Decimal(qty),
        OrderType.LIMIT,
        limit_price=Decimal("150.25"),
        time_in_force=TimeInForce.DAY,
    )


# -- happy paths -----------------------------------------------------------------------------
async def test_account_reads_exact_decimals_from_the_paper_endpoint(
    broker: AlpacaBroker, http: responses.RequestsMock
) -> None:
    http.get(f"{API}/account", json=payload("account.json"))
    account = await broker.account()
    assert account.cash == Decimal("-23140.2")
    assert account.buying_power == Decimal("262113.632")
    assert account.equity == Decimal("103820.56")
    assert account.currency == "USD"
    sent = req(http, 0)
    assert sent.url == f"{API}/account"
    assert sent.headers["APCA-API-KEY-ID"] == KEY  # the key travels in the header only


async def test_positions_signed_and_crypto_symbols_restored(
    broker: AlpacaBroker, http: responses.RequestsMock
) -> None:
    http.get(f"{API}/positions", json=payload("positions.json"))
    held = {p.symbol: p for p in await broker.positions()}
    assert held["AAPL"].quantity == Decimal(5) and held["AAPL"].avg_price == Decimal("100.0")
    assert held["TSLA"].quantity == Decimal(-3)  # side "short"
    assert held["BTC/USD"].quantity == Decimal("0.0125")  # BTCUSD in positions


async def test_place_order_sends_the_client_id_and_maps_accepted_to_submitted(
    broker: AlpacaBroker, http: responses.RequestsMock
) -> None:
    http.post(f"{API}/orders", json=payload("order_accepted.json"))
    placed = await broker.place_order(limit_order())
    body = json.loads(req(http, 0).body or b"{}")
    assert body["client_order_id"] == CID
    assert (body["qty"], body["limit_price"]) == (10.0, 150.25)
    assert (body["type"], body["side"], body["time_in_force"]) == ("limit", "buy", "day")
    # Alpaca's "accepted" means received, not yet routed: it may still be rejected.
    assert placed.status is OrderStatus.SUBMITTED and placed.venue_status == "accepted"
    assert placed.venue_order_id == ORDER_ID and placed.limit_price == Decimal("150.25")
    assert placed.quantity == Decimal(10) and placed.filled_quantity == 0
    assert placed.ts == 1615919881942282000
    # every request carries the adapter's timeout (requests would otherwise wait forever)
    assert req(http, 0).req_kwargs["timeout"] == 7.5


async def test_get_order_by_client_id_and_not_found(
    broker: AlpacaBroker, http: responses.RequestsMock
) -> None:
    partial = payload("order_accepted.json") | {
        "status": "partially_filled",
        "filled_qty": "4",
        "filled_avg_price": "150.2",
    }
    http.get(f"{API}/orders:by_client_order_id", json=partial)
    found = await broker.get_order(CID)
    assert found is not None and found.status is OrderStatus.PARTIALLY_FILLED
    assert found.filled_quantity == 4 and found.avg_price == Decimal("150.2")
    assert req(http, 0).params == {"client_order_id": CID}
    http.replace(
        responses.GET,
        f"{API}/orders:by_client_order_id",
        json={"code": 40410000, "message": "order not found for sma-x"},
        status=404,
    )
    assert await broker.get_order("sma-x") is None


async def test_cancel_looks_the_order_up_and_deletes_it_by_venue_id(
    broker: AlpacaBroker, http: responses.RequestsMock
) -> None:
    http.get(f"{API}/orders:by_client_order_id", json=payload("order_accepted.json"))
    http.delete(f"{API}/orders/{ORDER_ID}", status=204)
    await broker.cancel_order(CID)
    assert [c.request.method for c in http.calls] == ["GET", "DELETE"]


async def test_replace_sends_the_new_client_id(
    broker: AlpacaBroker, http: responses.RequestsMock
) -> None:
    replacement = payload("order_accepted.json") | {
        "id": "a6b5c4d3-0000-4000-8000-000000000001",
        "client_order_id": "sma-r1",
        "limit_price": "149.5",
        "replaces": ORDER_ID,
        "status": "new",
    }
    http.get(f"{API}/orders:by_client_order_id", json=payload("order_accepted.json"))
    http.patch(f"{API}/orders/{ORDER_ID}", json=replacement)
    new = await broker.replace_order(CID, "sma-r1", limit_price=Decimal("149.5"))
    sent = json.loads(req(http, 1).body or b"{}")
    assert sent == {"limit_price": 149.5, "client_order_id": "sma-r1"}
    assert new.client_order_id == "sma-r1" and new.status is OrderStatus.ACCEPTED


async def test_open_orders_and_fill_activities(
    broker: AlpacaBroker, http: responses.RequestsMock
) -> None:
    http.get(f"{API}/orders", json=[payload("order_accepted.json")])
    http.get(f"{API}/account/activities/FILL", json=payload("activities_fill.json"))
    listed = await broker.open_orders()
    assert [o.client_order_id for o in listed] == [CID]
    assert req(http, 0).params == {"status": "open", "limit": "500"}
    fills = await broker.fills(1615920000000000000, ["AAPL"])
    assert [f.quantity for f in fills] == [Decimal(4), Decimal(6)]
    assert [f.price for f in fills] == [Decimal("150.2"), Decimal("150.25")]
    assert all(f.venue_order_id == ORDER_ID and f.client_order_id is None for f in fills)
    assert fills[0].ts == 1615920909981482000
    params = req(http, 1).params
    assert params["after"] == "2021-03-16T18:40:00.000000Z" and params["direction"] == "asc"


async def test_fill_activities_follow_page_tokens(
    broker: AlpacaBroker, http: responses.RequestsMock
) -> None:
    first = payload("activities_fill.json")[0]
    page = [first | {"id": f"20210316135509981::{n:04d}"} for n in range(100)]
    http.get(f"{API}/account/activities/FILL", json=page)
    http.get(f"{API}/account/activities/FILL", json=payload("activities_fill.json")[1:])
    fills = await broker.fills(0, [])
    assert len(fills) == 101
    assert req(http, 1).params["page_token"] == "20210316135509981::0099"


async def test_health_uses_the_market_clock(
    broker: AlpacaBroker, http: responses.RequestsMock
) -> None:
    http.get(f"{API}/clock", json=payload("clock.json"))
    health = await broker.health()
    assert health.ok and health.detail == "market open"


def test_every_state_the_sdk_knows_is_in_the_table() -> None:
    """A state alpaca-py lists but our table lacks would fail as UNKNOWN_STATE at run time."""
    assert {s.value for s in AlpacaStatus} <= set(STATUSES.table)


# -- error shapes ----------------------------------------------------------------------------
ERROR_CASES = [
    (422, {"code": 40010001, "message": "qty must be > 0"}, Failure.REJECTED),
    (403, {"code": 40310000, "message": "insufficient buying power"}, Failure.INSUFFICIENT_FUNDS),
    (422, {"code": 40010001, "message": "client_order_id must be unique"}, Failure.DUPLICATE),
    (429, {"code": 42910000, "message": "rate limit exceeded"}, Failure.RATE_LIMITED),
    (401, {"code": 40110000, "message": "request is not authorized"}, Failure.AUTH),
    (500, {"code": 50010000, "message": "internal server error occurred"}, Failure.UNAVAILABLE),
    (504, "<html><body>504 Gateway Time-out</body></html>", Failure.UNAVAILABLE),
]


@pytest.mark.parametrize(("status", "body", "failure"), ERROR_CASES)
async def test_error_shapes(
    broker: AlpacaBroker,
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
    assert info.value.context["status"] == status and info.value.context["venue"] == "alpaca"
    # one request: the SDK's own sleep-and-retry on 429/504 is off, the pool backs off
    assert len(http.calls) == 1


async def test_rejected_message_reaches_the_error(
    broker: AlpacaBroker, http: responses.RequestsMock
) -> None:
    http.post(
        f"{API}/orders", json={"code": 40310000, "message": "insufficient buying power"}, status=403
    )
    with pytest.raises(VenueError, match="insufficient buying power") as info:
        await broker.place_order(limit_order())
    assert info.value.context["code"] == "40310000"


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (requests.exceptions.ReadTimeout("read timed out"), Failure.TIMEOUT),
        (requests.exceptions.ConnectTimeout("connect timed out"), Failure.TIMEOUT),
        (requests.exceptions.ConnectionError("connection reset by peer"), Failure.UNAVAILABLE),
    ],
)
async def test_transport_failures(
    broker: AlpacaBroker, http: responses.RequestsMock, exc: Exception, failure: Failure
) -> None:
    http.post(f"{API}/orders", body=exc)
    with pytest.raises(VenueError) as info:
        await broker.place_order(limit_order())
    assert info.value.failure is failure and info.value.transient


async def test_malformed_json_and_missing_fields(
    broker: AlpacaBroker, http: responses.RequestsMock
) -> None:
    http.get(f"{API}/account", body='{"cash": "12', content_type="application/json")
    with pytest.raises(VenueError) as info:
        await broker.account()
    assert info.value.failure is Failure.MALFORMED
    http.replace(responses.GET, f"{API}/account", json={"currency": "USD"})
    with pytest.raises(VenueError, match="lacks 'cash'") as info:
        await broker.account()
    assert info.value.failure is Failure.MALFORMED
    http.get(f"{API}/orders", json={"orders": []})
    with pytest.raises(VenueError, match="not a list"):
        await broker.open_orders()


async def test_unknown_state_is_surfaced_with_the_raw_state(
    broker: AlpacaBroker, http: responses.RequestsMock
) -> None:
    odd = payload("order_accepted.json") | {"status": "pending_split"}
    http.get(f"{API}/orders:by_client_order_id", json=odd)
    with pytest.raises(VenueError) as info:
        await broker.get_order(CID)
    assert info.value.failure is Failure.UNKNOWN_STATE
    assert info.value.context["state"] == "pending_split" and info.value.context["order"] == CID


async def test_not_connected_is_unavailable() -> None:
    b = AlpacaBroker(SecretStr(KEY), SecretStr(SECRET))
    with pytest.raises(VenueError) as info:
        await b.account()
    assert info.value.failure is Failure.UNAVAILABLE


async def test_secrets_never_in_errors_reprs_or_logs(
    broker: AlpacaBroker, http: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    http.post(f"{API}/orders", json={"code": 40110000, "message": "unauthorized"}, status=401)
    http.get(f"{API}/account", body=requests.exceptions.ReadTimeout("read timed out"))
    messages = [repr(broker)]
    for call in (broker.place_order(limit_order()), broker.account()):
        with pytest.raises(VenueError) as info:
            await call
        messages += [str(info.value), repr(info.value.context)]
    text = "\n".join(messages) + caplog.text
    assert KEY not in text and SECRET not in text
