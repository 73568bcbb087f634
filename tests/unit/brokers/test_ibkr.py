"""The Interactive Brokers adapter through the real ib-async client against a fake TWS socket
peer (fake_tws.py) that speaks the TWS API wire protocol at server version 157: handshake,
account summary, positions, orders, executions, errors, a dropped socket and messages ib-async
cannot decode; then inside test_pool's Rig (kernel, pool, ledger): an order filled by the
fake's execution, and an order lost with the connection sent again exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from fake_tws import FakeOrder, FakeTws, Reaction, frame
from test_pool import Rig

from neural_trader.brokers.base import Failure, VenueError
from neural_trader.brokers.events import BrokerDown, BrokerUp, OrderUnresolved
from neural_trader.brokers.ibkr import IbkrBroker
from neural_trader.brokers.ibkr_records import ERRORS, STATUSES, Endpoint, endpoint, error, ns
from neural_trader.config import BrokerSettings
from neural_trader.core.events import OrderFilled
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce

D = Decimal
CID = "sma-1700000000000000000-1"
MARGIN_TEXT = (
    "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED "
    "POSITION YOUR EQUITY WITH LOAN VALUE [1000.00 USD] MUST EXCEED THE INITIAL MARGIN "
    "[15025.00 USD]"
)


@pytest.fixture
async def tws() -> AsyncIterator[FakeTws]:
    fake = FakeTws()
    await fake.start()
    yield fake
    await fake.stop()


def client(tws: FakeTws, timeout_s: float = 5.0, **kw: Any) -> IbkrBroker:
    return IbkrBroker(Endpoint(port=tws.port, **kw), timeout_s=timeout_s)


@pytest.fixture
async def broker(tws: FakeTws) -> AsyncIterator[IbkrBroker]:
    b = client(tws)
    await b.connect()
    yield b
    await b.close()


def limit_order(cid: str = CID, qty: str = "10", **kw: Any) -> Order:
    args: dict[str, Any] = {
        "order_type": OrderType.LIMIT,
        "limit_price": D("150.25"),
        "time_in_force": TimeInForce.DAY,
    }
    return Order(cid, "sma", "AAPL", OrderSide.BUY, D(qty), **(args | kw))


def placed(tws: FakeTws) -> list[list[str]]:
    return [m for m in tws.received if m[0] == "3"]


async def failure_of(call: Any) -> VenueError:
    with pytest.raises(VenueError) as info:
        await call
    return info.value


# -- session ---------------------------------------------------------------------------------
async def test_connect_negotiates_version_157_and_syncs_orders_and_executions(
    tws: FakeTws, broker: IbkrBroker
) -> None:
    assert broker._ib is not None and broker._ib.client.serverVersion() == 157
    assert broker.account_id == "DU1234567"
    start_api = next(m for m in tws.received if m[0] == "71")
    assert start_api[:3] == ["71", "2", "1"]  # version 2, our client id
    assert {61, 5, 99, 7} <= set(tws.kinds())  # positions, open/completed orders, executions
    health = await broker.health()
    assert health.ok and "TWS time" in health.detail


async def test_nothing_listening_is_unavailable() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    exc = await failure_of(IbkrBroker(Endpoint(port=port), timeout_s=2).connect())
    assert exc.failure is Failure.UNAVAILABLE and exc.transient
    assert f"127.0.0.1:{port}" in str(exc)


async def test_several_accounts_need_extra_account(tws: FakeTws) -> None:
    tws.accounts = ["DU1234567", "DU7654321"]
    exc = await failure_of(client(tws).connect())
    assert exc.failure is Failure.INVALID and "extra.account" in str(exc)
    b = client(tws, account="DU1234567")
    await b.connect()
    assert b.account_id == "DU1234567"
    await b.close()
    exc = await failure_of(client(tws, account="U999").connect())
    assert exc.failure is Failure.INVALID and "U999" in str(exc)


def test_endpoint_from_base_url_and_extra() -> None:
    assert endpoint(None, {}) == Endpoint("127.0.0.1", 7497, 1, "")
    assert endpoint(None, {}, paper=False).port == 7496
    assert endpoint("tws://10.0.0.5:4002", {}) == Endpoint("10.0.0.5", 4002, 1, "")
    got = endpoint("tws://10.0.0.5:4002", {"port": "4001", "client_id": "7", "account": "U1"})
    assert got == Endpoint("10.0.0.5", 4001, 7, "U1")
    for url, extra, where in [
        ("http://host:7497", {}, "base_url"),
        ("tws://host:99999", {}, "port"),
        (None, {"client_id": "seven"}, "extra.client_id"),
        (None, {"port": "0"}, "port"),
    ]:
        with pytest.raises(VenueError, match=where) as info:
            endpoint(url, extra)
        assert info.value.failure is Failure.INVALID


def test_endpoint_from_broker_settings() -> None:
    """What the registry's factory passes: BrokerSettings' base_url, extra and paper flag."""
    cfg = BrokerSettings(base_url="tws://127.0.0.1:4002", extra={"client_id": "5"})
    assert endpoint(cfg.base_url, cfg.extra, cfg.paper_trading) == Endpoint(
        "127.0.0.1", 4002, 5, ""
    )
    live = BrokerSettings(paper_trading=False, extra={"account": "U1234567"})
    assert endpoint(live.base_url, live.extra, live.paper_trading).port == 7496


def test_repr_names_the_endpoint_only() -> None:
    b = IbkrBroker(Endpoint("10.0.0.5", 4002, 3, "U1"))
    assert repr(b) == "IbkrBroker(name='interactive_brokers', 10.0.0.5:4002, client_id=3)"


# -- account and positions -------------------------------------------------------------------
async def test_account_reads_the_summary_exactly(tws: FakeTws, broker: IbkrBroker) -> None:
    account = await broker.account()
    assert (account.cash, account.buying_power, account.equity) == (
        D("100250.75"),
        D("401003.00"),
        D("125480.10"),
    )
    assert account.currency == "USD" and account.venue == "interactive_brokers"
    request = next(m for m in tws.received if m[0] == "62")
    assert request[3] == "All" and "TotalCashValue" in request[4] and "BuyingPower" in request[4]


@pytest.mark.parametrize(
    ("summary", "says"),
    [
        ({"TotalCashValue": ("n/a", "USD"), "BuyingPower": ("1", "USD")}, "non-numeric"),
        ({"NetLiquidation": ("1", "USD")}, "lacks TotalCashValue"),
    ],
)
async def test_a_bad_account_summary_is_malformed(
    tws: FakeTws, broker: IbkrBroker, summary: dict[str, tuple[str, str]], says: str
) -> None:
    tws.summary = summary
    exc = await failure_of(broker.account())
    assert exc.failure is Failure.MALFORMED and says in str(exc)


async def test_positions_signed_with_average_cost(tws: FakeTws) -> None:
    tws.holdings = {"AAPL": ("100", "150.2534"), "MSFT": ("-20", "310.5"), "IBM": ("0", "0")}
    b = client(tws)
    await b.connect()
    got = {p.symbol: (p.quantity, p.avg_price) for p in await b.positions()}
    assert got == {"AAPL": (D("100.0"), D("150.2534")), "MSFT": (D("-20.0"), D("310.5"))}
    await b.close()


# -- placing ---------------------------------------------------------------------------------
async def test_place_limit_sends_stock_contract_order_ref_and_exact_price(
    tws: FakeTws, broker: IbkrBroker
) -> None:
    report = await broker.place_order(limit_order())
    (sent,) = placed(tws)
    assert sent[3] == "AAPL" and sent[4] == "STK" and sent[9] == "SMART" and sent[11] == "USD"
    assert sent[16:22] == ["BUY", "10.0", "LMT", "150.25", "", "DAY"]
    assert sent[23] == "DU1234567" and sent[26] == CID
    assert report.client_order_id == CID and report.status is OrderStatus.ACCEPTED
    assert report.venue_status == "Submitted" and report.venue_order_id == "1500000000"
    assert report.limit_price == D("150.25") and report.stop_price is None
    assert report.quantity == D(10) and report.filled_quantity == 0


@pytest.mark.parametrize(
    ("kind", "prices", "tif", "wire"),
    [
        (OrderType.MARKET, {}, TimeInForce.IOC, ["MKT", "", "", "IOC"]),
        (OrderType.STOP, {"stop_price": D("140.5")}, TimeInForce.GTC, ["STP", "", "140.5", "GTC"]),
        (
            OrderType.STOP_LIMIT,
            {"stop_price": D("140.5"), "limit_price": D("1.4E+2")},
            TimeInForce.FOK,
            ["STP LMT", "140", "140.5", "FOK"],
        ),
    ],
)
async def test_each_order_type_and_time_in_force(
    tws: FakeTws,
    broker: IbkrBroker,
    kind: OrderType,
    prices: dict[str, Decimal],
    tif: TimeInForce,
    wire: list[str],
) -> None:
    order = Order(CID, "s", "AAPL", OrderSide.SELL, D(3), kind, time_in_force=tif, **prices)
    report = await broker.place_order(order)
    (sent,) = placed(tws)
    assert sent[16] == "SELL" and sent[18:22] == wire
    assert report.order_type is kind and report.side is OrderSide.SELL
    assert report.stop_price == prices.get("stop_price")


async def test_a_second_place_of_the_same_id_is_duplicate_and_sends_nothing(
    tws: FakeTws, broker: IbkrBroker
) -> None:
    await broker.place_order(limit_order())
    exc = await failure_of(broker.place_order(limit_order()))
    assert exc.failure is Failure.DUPLICATE and "orderRef" in str(exc)
    assert len(placed(tws)) == 1


async def test_an_order_of_another_session_with_our_id_is_duplicate(tws: FakeTws) -> None:
    tws.orders.append(
        FakeOrder(7, 9, 42, "AAPL", "BUY", D(10), "LMT", "150.25", "", "DAY", "DU1234567", CID)
    )
    b = client(tws)
    await b.connect()
    exc = await failure_of(b.place_order(limit_order()))
    assert exc.failure is Failure.DUPLICATE and "permId 42" in str(exc)
    assert placed(tws) == []
    await b.close()


@pytest.mark.parametrize(
    ("code", "text", "failure"),
    [
        (201, "Order rejected - reason:The contract is not available for trading", "rejected"),
        (201, MARGIN_TEXT, "insufficient_funds"),
        (200, "No security definition has been found for the request", "rejected"),
        (
            100,
            "Max rate of messages per second has been exceeded:max=50 rec=55 (1)",
            "rate_limited",
        ),
        (103, "Duplicate order id", "rejected"),
    ],
)
async def test_tws_refusals_map_through_the_error_table(
    tws: FakeTws, broker: IbkrBroker, code: int, text: str, failure: str
) -> None:
    tws.reactions[CID] = Reaction(error=(code, text))
    exc = await failure_of(broker.place_order(limit_order()))
    assert exc.failure.value == failure
    assert exc.context["code"] == code and exc.context["order"] == CID
    assert str(code) in str(exc)
    report = await broker.get_order(CID)
    assert report is not None and report.status is OrderStatus.REJECTED
    assert f"TWS error {code}" in report.reason


@pytest.mark.parametrize(
    ("code", "failure"),
    [
        (100, Failure.RATE_LIMITED),
        (135, Failure.NOT_FOUND),
        (10147, Failure.NOT_FOUND),
        (10148, Failure.REJECTED),
        (161, Failure.REJECTED),
        (201, Failure.REJECTED),
        (326, Failure.UNAVAILABLE),
        (502, Failure.UNAVAILABLE),
        (1100, Failure.UNAVAILABLE),
        (321, Failure.INVALID),
        (399, Failure.REJECTED),  # not listed: the venue said no
    ],
)
def test_error_codes(code: int, failure: Failure) -> None:
    assert error(code, "some text").failure is failure
    assert any(r.code == str(code) for r in ERRORS) or failure is Failure.REJECTED


def test_documented_states_are_listed_and_others_surface() -> None:
    documented = [
        "PendingSubmit",
        "PendingCancel",
        "PreSubmitted",
        "Submitted",
        "ApiCancelled",
        "Cancelled",
        "Filled",
        "Inactive",
        "ApiPending",
    ]
    assert all(state in STATUSES.table for state in documented)
    assert STATUSES.map("Submitted", D(10), D(4)) is OrderStatus.PARTIALLY_FILLED
    with pytest.raises(VenueError) as info:
        STATUSES.map("Frozen", D(1), D(0), "x")
    assert info.value.failure is Failure.UNKNOWN_STATE


async def test_what_the_adapter_cannot_send_is_refused_before_sending(
    tws: FakeTws, broker: IbkrBroker
) -> None:
    fractional = limit_order(qty="1.5")
    crypto = Order("c2", "s", "BTC/USD", OrderSide.BUY, D(1))
    for order in (fractional, crypto):
        exc = await failure_of(broker.place_order(order))
        assert exc.failure is Failure.UNSUPPORTED
    assert placed(tws) == []


# -- reading orders back, cancelling ----------------------------------------------------------
async def test_get_order_by_order_ref(tws: FakeTws, broker: IbkrBroker) -> None:
    await broker.place_order(limit_order())
    found = await broker.get_order(CID, "AAPL")
    assert found is not None and found.venue_order_id == "1500000000"
    before = len(tws.received)
    assert await broker.get_order("nobody") is None
    assert [m[0] for m in tws.received[before:]] == ["16", "99"]  # open, then completed


async def test_a_filled_order_is_found_after_reconnecting(tws: FakeTws, broker: IbkrBroker) -> None:
    await broker.place_order(limit_order())
    tws.fill(CID, "150.20")
    await broker.close()
    again = client(tws)
    await again.connect()  # the startup sync brings the completed order
    found = await again.get_order(CID)
    assert found is not None and found.status is OrderStatus.FILLED
    assert found.filled_quantity == D(10) and found.venue_order_id == "1500000000"
    assert found.avg_price is None  # completed orders carry no average price
    await again.close()


async def test_cancel_then_the_order_reads_cancelled(tws: FakeTws, broker: IbkrBroker) -> None:
    await broker.place_order(limit_order())
    assert [o.client_order_id for o in await broker.open_orders()] == [CID]
    await broker.cancel_order(CID, "AAPL")
    cancel = next(m for m in tws.received if m[0] == "4")
    assert cancel[:3] == ["4", "1", str(tws.order(CID).order_id)]
    found = await broker.get_order(CID)
    assert found is not None and found.status is OrderStatus.CANCELED
    assert await broker.open_orders() == []


async def test_cancel_of_unknown_orders_is_not_found(tws: FakeTws, broker: IbkrBroker) -> None:
    exc = await failure_of(broker.cancel_order("nobody"))
    assert exc.failure is Failure.NOT_FOUND
    await broker.place_order(limit_order())
    tws.order(CID).status = "Cancelled"  # TWS forgot it without telling us
    exc = await failure_of(broker.cancel_order(CID))
    assert exc.failure is Failure.NOT_FOUND and "10147" in str(exc)


# -- fills -----------------------------------------------------------------------------------
async def test_fills_carry_exec_id_commission_and_our_id(tws: FakeTws, broker: IbkrBroker) -> None:
    await broker.place_order(limit_order())
    execution = tws.fill(CID, "150.20", commission="1.0345")
    (fill,) = await broker.fills(0, ["AAPL"])
    assert fill.fill_id == execution.exec_id and fill.client_order_id == CID
    assert fill.venue_order_id == "1500000000" and fill.side is OrderSide.BUY
    assert (fill.quantity, fill.price, fill.commission) == (D("10.0"), D("150.2"), D("1.0345"))
    assert fill.ts == 1796221865 * 10**9  # 2026-12-02 14:31:05 UTC
    assert fill.liquidity == "taker"
    assert await broker.fills(fill.ts + 1, ["AAPL"]) == []
    report = await broker.get_order(CID)
    assert report is not None and report.status is OrderStatus.FILLED
    assert report.avg_price == D("150.2")


async def test_a_fill_whose_commission_is_not_reported_yet_reads_zero(
    tws: FakeTws, broker: IbkrBroker
) -> None:
    await broker.place_order(limit_order())
    tws.fill(CID, "150.20", commission=None)
    (fill,) = await broker.fills(0, [])
    assert fill.commission == 0


async def test_an_execution_with_an_unknown_side_is_malformed(
    tws: FakeTws, broker: IbkrBroker
) -> None:
    await broker.place_order(limit_order())
    tws.fill(CID, "150.20").side = "XYZ"
    exc = await failure_of(broker.fills(0, []))
    assert exc.failure is Failure.MALFORMED and "'XYZ'" in str(exc)


def test_timestamps_are_exact_nanoseconds() -> None:
    from datetime import UTC, datetime

    assert ns(datetime(2026, 12, 2, 14, 31, 5, 123456, tzinfo=UTC)) == 1796221865123456000


# -- faults ----------------------------------------------------------------------------------
async def test_a_connection_drop_mid_order_is_transient(tws: FakeTws, broker: IbkrBroker) -> None:
    tws.reactions[CID] = Reaction(drop=True)
    exc = await failure_of(broker.place_order(limit_order()))
    assert exc.failure is Failure.UNAVAILABLE and exc.transient
    assert "outcome is unknown" in str(exc)
    later = await failure_of(broker.open_orders())
    assert later.failure is Failure.UNAVAILABLE and "not connected" in str(later)
    await broker.connect()  # TWS is back: the pool's reconnect does this
    assert await broker.get_order(CID) is None  # the order never reached it


async def test_no_acknowledgement_is_a_timeout(tws: FakeTws) -> None:
    tws.reactions[CID] = Reaction(silent=True)
    b = client(tws, timeout_s=1.0)
    await b.connect()
    exc = await failure_of(b.place_order(limit_order()))
    assert exc.failure is Failure.TIMEOUT and exc.transient
    await b.close()


async def test_an_unknown_order_state_is_surfaced(tws: FakeTws, broker: IbkrBroker) -> None:
    tws.reactions[CID] = Reaction(status="Frozen")
    exc = await failure_of(broker.place_order(limit_order()))
    assert exc.failure is Failure.UNKNOWN_STATE
    assert exc.context["state"] == "Frozen" and exc.context["order"] == CID
    exc = await failure_of(broker.open_orders())
    assert exc.failure is Failure.UNKNOWN_STATE


async def test_an_undecodable_reply_to_a_place_is_malformed(
    tws: FakeTws, broker: IbkrBroker
) -> None:
    tws.reactions[CID] = Reaction(garble=True)
    exc = await failure_of(broker.place_order(limit_order()))
    assert exc.failure is Failure.MALFORMED and "could not decode" in str(exc)


async def test_an_undecodable_message_fails_the_next_call_once(
    tws: FakeTws, broker: IbkrBroker
) -> None:
    tws.send_all([3, 5, "Submitted", "not-a-number", "x"])  # orderStatus with a bad field
    tws.send_raw(frame([49, 1, 1796220000]))
    exc = await failure_of(broker.health())
    assert exc.failure is Failure.MALFORMED
    assert (await broker.health()).ok


async def test_tws_losing_its_link_to_ib_blocks_orders_until_restored(
    tws: FakeTws, broker: IbkrBroker
) -> None:
    lost = "Connectivity between IB and Trader Workstation has been lost."
    tws.send_all([4, 2, -1, 1100, lost])
    health = await broker.health()
    assert not health.ok and "1100" in health.detail
    exc = await failure_of(broker.place_order(limit_order()))
    assert exc.failure is Failure.UNAVAILABLE and placed(tws) == []
    tws.send_all([4, 2, -1, 1102, "Connectivity restored - data maintained."])
    assert (await broker.health()).ok
    assert (await broker.place_order(limit_order())).status is OrderStatus.ACCEPTED


# -- in the pool -----------------------------------------------------------------------------
async def until(check: Any, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


def ib_rig(tws: FakeTws) -> tuple[Rig, IbkrBroker]:
    ib = IbkrBroker(Endpoint(port=tws.port), timeout_s=5.0, poll_interval_s=0.05)
    return Rig({"interactive_brokers": [ib]}), ib


async def test_the_pool_places_sees_the_fill_and_stops(tws: FakeTws) -> None:
    """The kernel, the pool and the ledger of test_pool's Rig, with this adapter as venue."""
    rig, ib = ib_rig(tws)
    await rig.pool.start()
    order = rig.order("o1", order_type=OrderType.LIMIT, limit_price=D("150.25"))
    await until(lambda: order.status is OrderStatus.ACCEPTED)
    assert rig.pool.book.orders["o1"].venue_order_id == "1500000000"  # IB's permId
    execution = tws.fill("o1", "150.20")
    await until(lambda: order.status is OrderStatus.FILLED)
    (event,) = rig.of(OrderFilled)
    assert event.fill.fill_id == f"interactive_brokers:{execution.exec_id}"
    assert event.fill.quantity == D(10) and event.fill.commission == D("1.00")
    assert rig.ledger.quantity("AAPL") == D(10)
    assert rig.ledger.cash == D(100_000) - D("1502.00") - D("1.00")
    assert rig.pool.health()["status"] == "ok"
    await rig.pool.stop()
    assert ib._ib is None


async def test_the_pool_resends_an_order_lost_with_the_connection_once(tws: FakeTws) -> None:
    rig, _ = ib_rig(tws)
    await rig.pool.start()
    tws.reactions["o1"] = Reaction(drop=True)  # TWS goes away as the order arrives
    order = rig.order("o1")
    await until(lambda: bool(rig.of(OrderUnresolved)))
    # the stream fails, the pool reconnects, finds no such order and sends it again
    await until(lambda: order.status is OrderStatus.ACCEPTED)
    assert [o.ref for o in tws.orders] == ["o1"] and len(placed(tws)) == 2
    assert rig.of(BrokerDown) and rig.of(BrokerUp)
    tws.fill("o1", "150.00")
    await until(lambda: order.status is OrderStatus.FILLED)
    assert rig.ledger.quantity("AAPL") == D(10) and len(rig.of(OrderFilled)) == 1
    await rig.pool.stop()
