"""E*TRADE's order JSON and replies, read into our records (no I/O here).

Field names follow E*TRADE's v1 REST documentation (developer.etrade.com, Order API and
Accounts API): a preview is ``{"PreviewOrderRequest": {"orderType": "EQ", "clientOrderId",
"Order": [{priceType, orderTerm, marketSession, limitPrice, stopPrice, allOrNone,
"Instrument": [{"Product": {securityType, symbol}, orderAction, quantityType, quantity}]}]}}``;
the place request repeats it as ``PlaceOrderRequest`` with the preview's ``PreviewIds``.

Client order ids: E*TRADE takes at most 20 alphanumeric characters and answers with its own
numeric ``orderId``. An id of ours that already fits is sent unchanged; any other is sent as
the first 20 hex digits of its SHA-256 (:func:`venue_client_id`), stable across processes, so
a second place of the same order carries the same E*TRADE id and is refused as a duplicate.

Fills: the Order API lists orders, not executions. Each order carries its cumulative
``filledQuantity`` and ``averageExecutionPrice``; :func:`fills_of` turns the growth of that
cumulative quantity into fills whose id names the range it covers (``"<orderId>:<from>-<to>"``),
so the same observation always yields the same id. Within one connection every unit filled is
reported once; a new process that first sees an order part-filled reports its range from 0
(an API without executions cannot say what an earlier process already booked).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from neural_trader.brokers.base import (
    Account,
    ErrorRule,
    Failure,
    StatusTable,
    VenueError,
    VenueFill,
    VenueOrder,
    VenuePosition,
    decimal_field,
    optional_decimal,
    reply_object,
)
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce

VENUE = "etrade"
S = OrderStatus
# OrderDetail.status, Order API v1 ("status" enum of List Orders and of the Order object).
STATUSES = StatusTable(
    VENUE,
    {
        "OPEN": S.ACCEPTED,
        "PARTIAL": S.PARTIALLY_FILLED,
        "INDIVIDUAL_FILLS": S.PARTIALLY_FILLED,  # some executions so far, still working
        "CANCEL_REQUESTED": S.ACCEPTED,  # still working until the cancel is confirmed
        "EXECUTED": S.FILLED,
        "DONE_TRADE_EXECUTED": S.FILLED,
        "CANCELLED": S.CANCELED,
        "EXPIRED": S.EXPIRED,
        "REJECTED": S.REJECTED,
    },
)
# Venue error shapes, first match wins. E*TRADE answers ``{"Error": {"code", "message"}}``;
# 100/102 are the documented "account key does not belong to user" / "enter valid account
# key"; 101 is the documented "we have timed out your original order request" (the preview
# went stale, nothing was placed). Duplicate ids and funds have no documented code: their
# messages are matched instead.
ERRORS = (
    ErrorRule(Failure.RATE_LIMITED, status=429),
    ErrorRule(Failure.AUTH, status=401),
    ErrorRule(Failure.AUTH, status=403),
    ErrorRule(Failure.DUPLICATE, contains="duplicate"),
    ErrorRule(Failure.DUPLICATE, contains="client order id already"),
    ErrorRule(Failure.INSUFFICIENT_FUNDS, contains="insufficient"),
    ErrorRule(Failure.INSUFFICIENT_FUNDS, contains="exceeds your buying power"),
    ErrorRule(Failure.INVALID, code="100"),
    ErrorRule(Failure.INVALID, code="102"),
    ErrorRule(Failure.REJECTED, code="101"),
    ErrorRule(Failure.NOT_FOUND, status=404),
    ErrorRule(Failure.REJECTED, status=400),  # a bad order: price, symbol, session, ...
)
_PRICE_TYPES = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.STOP: "STOP",
    OrderType.STOP_LIMIT: "STOP_LIMIT",
}
_TYPES_BACK = {v: k for k, v in _PRICE_TYPES.items()}
_TERMS = {
    TimeInForce.GTC: "GOOD_UNTIL_CANCEL",
    TimeInForce.DAY: "GOOD_FOR_DAY",
    TimeInForce.IOC: "IMMEDIATE_OR_CANCEL",
    TimeInForce.FOK: "FILL_OR_KILL",
}
_SIDES = {
    "BUY": OrderSide.BUY,
    "BUY_TO_COVER": OrderSide.BUY,
    "SELL": OrderSide.SELL,
    "SELL_SHORT": OrderSide.SELL,
}
_FITS = re.compile(r"^[A-Za-z0-9]{1,20}$")


def venue_client_id(client_order_id: str) -> str:
    """Our client order id as E*TRADE's ``clientOrderId`` (see the module doc)."""
    if _FITS.match(client_order_id):
        return client_order_id
    return hashlib.sha256(client_order_id.encode()).hexdigest()[:20]


def malformed(what: str, **context: Any) -> VenueError:
    return VenueError(f"{VENUE} {what}", Failure.MALFORMED, venue=VENUE, **context)


mapping = functools.partial(reply_object, venue=VENUE)


def items(data: Any, what: str) -> list[Any]:
    """A JSON array, or a lone object where E*TRADE sends one element without its array."""
    if isinstance(data, list):
        return data
    if isinstance(data, Mapping):
        return [data]
    raise malformed(f"{what} is not a list")


def first(data: Any, what: str) -> Mapping[str, Any]:
    rows = items(data, what)
    if not rows:
        raise malformed(f"{what} is empty")
    return mapping(rows[0], what)


def _number(value: Decimal, what: str, order: Order) -> float | int:
    """A price or quantity as the JSON number E*TRADE documents. A float's shortest repr is
    the decimal it was made from for up to 15 significant digits, so the number sent is
    exactly ours; one that would not survive is refused rather than rounded."""
    if value == value.to_integral_value():
        return int(value)
    out = float(value)
    if Decimal(repr(out)) != value:
        raise VenueError(
            f"{VENUE} cannot send {what} {value} exactly",
            Failure.INVALID,
            venue=VENUE,
            order=order.client_order_id,
        )
    return out


def order_json(order: Order, kind: str, preview_id: int | None = None) -> dict[str, Any]:
    """``PreviewOrderRequest`` or (with the preview's id) ``PlaceOrderRequest`` for an equity
    order; both must carry the same order, E*TRADE refuses a place that differs from its
    preview."""
    detail: dict[str, Any] = {
        "allOrNone": False,
        "priceType": _PRICE_TYPES[order.order_type],
        "orderTerm": _TERMS[order.time_in_force],
        "marketSession": "REGULAR",
    }
    if order.limit_price is not None:
        detail["limitPrice"] = _number(order.limit_price, "limit price", order)
    if order.stop_price is not None:
        detail["stopPrice"] = _number(order.stop_price, "stop price", order)
    detail["Instrument"] = [
        {
            "Product": {"securityType": "EQ", "symbol": order.symbol},
            "orderAction": "BUY" if order.side is OrderSide.BUY else "SELL",
            "quantityType": "QUANTITY",
            "quantity": _number(order.quantity, "quantity", order),
        }
    ]
    body: dict[str, Any] = {
        "orderType": "EQ",
        "clientOrderId": venue_client_id(order.client_order_id),
        "Order": [detail],
    }
    if preview_id is not None:
        body["PreviewIds"] = [{"previewId": preview_id}]
    return {kind: body}


def preview_id(reply: Any) -> int:
    body = mapping(mapping(reply, "preview reply").get("PreviewOrderResponse"), "preview reply")
    found = first(body.get("PreviewIds"), "preview PreviewIds").get("previewId")
    if isinstance(found, bool) or not isinstance(found, int | str) or not str(found).isdigit():
        raise malformed(f"preview reply has no numeric previewId: {found!r}")
    return int(found)


def placed_order(reply: Any, order: Order) -> VenueOrder:
    """The order E*TRADE just accepted. Its place reply names the new ``orderId`` but carries
    no order state (the next listing shows it OPEN), so the order is SUBMITTED until then."""
    body = mapping(mapping(reply, "place reply").get("PlaceOrderResponse"), "place reply")
    order_id = first(body.get("OrderIds"), "place OrderIds").get("orderId")
    if order_id in (None, ""):
        raise malformed("place reply lacks an orderId", order=order.client_order_id)
    placed = body.get("placedTime")
    ts = _ms_ns(placed) if placed is not None else 0
    return VenueOrder.acknowledged(order, str(order_id), "PLACED", ts)


def _ms_ns(value: Any) -> int:
    """E*TRADE's epoch milliseconds as nanoseconds."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise malformed(f"reply has a bad epoch time {value!r}")
    return int(value) * 1_000_000


def _nonzero(data: Mapping[str, Any], key: str) -> Decimal | None:
    value = optional_decimal(data, key, VENUE)
    return None if value is None or value == 0 else value


def order_parts(data: Any) -> tuple[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]]:
    """An ``Order`` of a listing as (order, its single OrderDetail, its single Instrument)."""
    o = mapping(data, "order")
    detail = first(o.get("OrderDetail"), "OrderDetail")
    instrument = first(detail.get("Instrument"), "Instrument")
    return o, detail, instrument


def parse_order(data: Any, client_order_id: str) -> VenueOrder:
    o, detail, instrument = order_parts(data)
    if o.get("orderId") in (None, "") or "status" not in detail:
        raise malformed("order lacks orderId or status")
    side = _SIDES.get(str(instrument.get("orderAction")))
    kind = _TYPES_BACK.get(str(detail.get("priceType")))
    if side is None or kind is None:
        raise malformed(
            f"order has an action {instrument.get('orderAction')!r} or price type "
            f"{detail.get('priceType')!r} this adapter does not read",
            order=str(o["orderId"]),
        )
    qty = decimal_field(instrument, "orderedQuantity", VENUE)
    filled = decimal_field(instrument, "filledQuantity", VENUE, "0")
    raw = str(detail["status"])
    stamp = detail.get("executedTime") if filled > 0 else None
    stamp = stamp if stamp is not None else detail.get("placedTime")
    return VenueOrder(
        client_order_id=client_order_id,
        venue_order_id=str(o["orderId"]),
        symbol=str(mapping(instrument.get("Product"), "Product").get("symbol")),
        side=side,
        quantity=qty,
        filled_quantity=filled,
        status=STATUSES.map(raw, qty, filled, client_order_id),
        venue_status=raw,
        order_type=kind,
        avg_price=_nonzero(instrument, "averageExecutionPrice"),
        limit_price=_nonzero(detail, "limitPrice"),
        stop_price=_nonzero(detail, "stopPrice"),
        ts=_ms_ns(stamp) if stamp is not None else 0,
        reason=raw if raw == "REJECTED" else "",
    )


def fills_of(
    data: Any, seen: tuple[Decimal, Decimal], client_order_id: str | None
) -> list[VenueFill]:
    """The fill that took this order's cumulative filled quantity from ``seen`` (quantity and
    average price already reported) to what the listing shows now; none when nothing new was
    filled. Its price is the one that makes the averages agree:
    (avg * filled - seen_avg * seen_qty) / (filled - seen_qty)."""
    o, detail, instrument = order_parts(data)
    seen_qty, seen_avg = seen
    filled = decimal_field(instrument, "filledQuantity", VENUE, "0")
    if filled <= seen_qty:
        return []
    side = _SIDES.get(str(instrument.get("orderAction")))
    stamp = detail.get("executedTime") or detail.get("placedTime")
    if side is None or o.get("orderId") in (None, "") or stamp is None:
        raise malformed("filled order lacks orderId, a known action or a time")
    avg = decimal_field(instrument, "averageExecutionPrice", VENUE)
    new = filled - seen_qty
    price = avg if seen_qty == 0 else (avg * filled - seen_avg * seen_qty) / new
    done = str(detail.get("status")) in ("EXECUTED", "DONE_TRADE_EXECUTED")
    # E*TRADE reports only the order's estimated commission; it is booked with the fill that
    # completes the order.
    fee = optional_decimal(instrument, "estimatedCommission", VENUE) if done else None
    order_id = str(o["orderId"])
    return [
        VenueFill(
            fill_id=f"{order_id}:{_plain(seen_qty)}-{_plain(filled)}",
            venue_order_id=order_id,
            client_order_id=client_order_id,
            symbol=str(mapping(instrument.get("Product"), "Product").get("symbol")),
            side=side,
            quantity=new,
            price=price,
            commission=fee or Decimal(0),
            ts=_ms_ns(stamp),
        )
    ]


def _plain(quantity: Decimal) -> str:
    """A quantity as the same text however E*TRADE wrote it (4, 4.0 and 4.00 are "4")."""
    return format(quantity.normalize(), "f")


def parse_account(reply: Any, name: str) -> Account:
    body = mapping(mapping(reply, "balance reply").get("BalanceResponse"), "BalanceResponse")
    computed = mapping(body.get("Computed"), "balance Computed")
    real_time = computed.get("RealTimeValues")
    margin = str(body.get("accountMode", "")).upper() in ("MARGIN", "PDT_ACCOUNT")
    power = "marginBuyingPower" if margin else "cashBuyingPower"
    return Account(
        venue=name,
        currency="USD",  # E*TRADE brokerage accounts are US dollar accounts
        cash=decimal_field(computed, "cashBalance", VENUE),
        buying_power=decimal_field(computed, power, VENUE),
        equity=optional_decimal(mapping(real_time, "RealTimeValues"), "totalAccountValue", VENUE)
        if real_time is not None
        else None,
    )


def parse_positions(reply: Any) -> tuple[list[VenuePosition], int]:
    """Equity positions of one portfolio page, and how many pages there are. Options and
    funds are left out: their Product symbol is the underlying's, which would mix them up
    with the stock."""
    body = mapping(mapping(reply, "portfolio reply").get("PortfolioResponse"), "portfolio")
    out: list[VenuePosition] = []
    pages = 1
    for block in items(body.get("AccountPortfolio", []), "AccountPortfolio"):
        account = mapping(block, "AccountPortfolio")
        pages = max(pages, int(decimal_field(account, "totalPages", VENUE, "1")))
        for row in items(account.get("Position", []), "Position"):
            p = mapping(row, "Position")
            product = mapping(p.get("Product"), "Position Product")
            if product.get("securityType") != "EQ":
                continue
            qty = abs(decimal_field(p, "quantity", VENUE))
            if p.get("positionType") == "SHORT":
                qty = -qty
            avg = optional_decimal(p, "costPerShare", VENUE) or optional_decimal(
                p, "pricePaid", VENUE
            )
            out.append(VenuePosition(str(product.get("symbol")), qty, avg))
    return out, pages
