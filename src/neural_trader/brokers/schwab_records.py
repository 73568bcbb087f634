"""Reading the Schwab Trader API's replies into the port's records, and its errors into ours.

Shapes are those of Schwab's Trader API (Accounts and Trading, v1) as schwab-py sends and
receives them: an account is ``{"securitiesAccount": {...}}`` with ``currentBalances`` and,
with ``fields=positions``, ``positions``; an order carries ``orderId``, ``status``,
``quantity``, ``filledQuantity``, one ``orderLegCollection`` leg (instruction and instrument)
and its executions in ``orderActivityCollection[].executionLegs[]``. Numbers are read from the
reply text as Decimals (never through float). Timestamps come as ``2024-03-29T14:30:02+0000``
(offset without a colon) or ``...T14:30:02.123Z``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from neural_trader.brokers.base import (
    ErrorRule,
    Failure,
    StatusTable,
    VenueError,
    VenueFill,
    VenueOrder,
    VenuePosition,
    classify,
    decimal_field,
    optional_decimal,
    reply_list,
    reply_object,
)
from neural_trader.core.orders import OrderSide, OrderStatus, OrderType

VENUE = "schwab"
S = OrderStatus
# Schwab's documented order states (Trader API ``Order.status``; schwab-py's Order.Status).
# UNKNOWN is listed by Schwab but says nothing about the order, so it is left out on purpose:
# it is surfaced as UNKNOWN_STATE, like any state this table does not know, never guessed.
STATUSES = StatusTable(
    VENUE,
    {
        "NEW": S.SUBMITTED,
        "PENDING_ACKNOWLEDGEMENT": S.SUBMITTED,  # received, not yet acknowledged
        "AWAITING_MANUAL_REVIEW": S.SUBMITTED,  # a person at Schwab may still reject it
        "ACCEPTED": S.ACCEPTED,  # accepted, not yet working (e.g. outside market hours)
        "QUEUED": S.ACCEPTED,  # waits for the session to open
        "WORKING": S.ACCEPTED,
        "PENDING_ACTIVATION": S.ACCEPTED,
        "AWAITING_PARENT_ORDER": S.ACCEPTED,
        "AWAITING_CONDITION": S.ACCEPTED,
        "AWAITING_STOP_CONDITION": S.ACCEPTED,  # a stop waiting for its trigger
        "AWAITING_RELEASE_TIME": S.ACCEPTED,
        "AWAITING_UR_OUT": S.ACCEPTED,  # a cancel/replace awaits the exchange's "out"
        "PENDING_CANCEL": S.ACCEPTED,  # may still fill until the cancel is confirmed
        "PENDING_REPLACE": S.ACCEPTED,
        "PENDING_RECALL": S.ACCEPTED,
        "FILLED": S.FILLED,
        "CANCELED": S.CANCELED,
        "REPLACED": S.CANCELED,  # closed; the replacing order carries on
        "EXPIRED": S.EXPIRED,
        "REJECTED": S.REJECTED,
    },
)
# Schwab answers errors as ``{"message": ..., "errors": [...]}``; first match wins.
ERRORS = (
    ErrorRule(Failure.INSUFFICIENT_FUNDS, contains="buying power"),
    ErrorRule(Failure.INSUFFICIENT_FUNDS, contains="enough available cash"),
    ErrorRule(Failure.INSUFFICIENT_FUNDS, contains="insufficient"),
    ErrorRule(Failure.RATE_LIMITED, status=429),
    ErrorRule(Failure.AUTH, status=401),
    ErrorRule(Failure.AUTH, status=403),  # the token may not act on this account
    ErrorRule(Failure.NOT_FOUND, status=404),
    ErrorRule(Failure.REJECTED, status=400),  # order validation: price, symbol, session, ...
)
_SIDES = {
    "BUY": OrderSide.BUY,
    "BUY_TO_COVER": OrderSide.BUY,
    "SELL": OrderSide.SELL,
    "SELL_SHORT": OrderSide.SELL,
}
_TYPES = {
    "MARKET": OrderType.MARKET,
    "LIMIT": OrderType.LIMIT,
    "STOP": OrderType.STOP,
    "STOP_LIMIT": OrderType.STOP_LIMIT,
}
_STAMP = re.compile(r"^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9})\d*)?(Z|[+-]\d{2}:?\d{2})$")


def malformed(what: str, **context: Any) -> VenueError:
    return VenueError(f"{VENUE} {what}", Failure.MALFORMED, venue=VENUE, **context)


def read_json(resp: httpx.Response, what: str) -> Any:
    """The reply's JSON with every number that has a fraction as an exact Decimal."""
    try:
        return json.loads(resp.content, parse_float=Decimal)
    except ValueError:
        raise malformed(f"sent a {what} reply that is not JSON", status=resp.status_code) from None


mapping = functools.partial(reply_object, venue=VENUE)
listed = functools.partial(reply_list, venue=VENUE)


def stamp_ns(text: Any) -> int:
    """Schwab's timestamp as integer nanoseconds since the epoch."""
    match = _STAMP.match(text) if isinstance(text, str) else None
    if match is None:
        raise malformed(f"reply has a bad timestamp {text!r}")
    whole, frac, zone = match.groups()
    offset = "+00:00" if zone == "Z" else f"{zone[:3]}:{zone[-2:]}"
    try:
        seconds = int(datetime.fromisoformat(whole + offset).timestamp())
    except ValueError:
        raise malformed(f"reply has a bad timestamp {text!r}") from None
    return seconds * 1_000_000_000 + int((frac or "").ljust(9, "0"))


def error_from(resp: httpx.Response) -> VenueError:
    """A non-2xx reply as one of ours, with Schwab's message (never a header: the token
    travels in the Authorization header only)."""
    status = resp.status_code
    message = resp.reason_phrase or f"HTTP {status}"
    try:
        body = json.loads(resp.content) if resp.content else None
    except ValueError:
        body = None  # e.g. a gateway's HTML page: the status still says what happened
    if isinstance(body, Mapping):
        parts = [str(body["message"])] if body.get("message") else []
        for item in body.get("errors") or ():
            if isinstance(item, Mapping):
                item = item.get("detail") or item.get("message") or item.get("title")
            if item:
                parts.append(str(item))
        message = "; ".join(parts) or message
    failure = classify(ERRORS, status, None, message)
    if status == 401:
        message += (
            " (the access token was refused: it expired or was revoked; if the refresh "
            "token is older than 7 days, create a new token with schwab-py's login flow)"
        )
    return VenueError(f"{VENUE}: {message[:400]}", failure, venue=VENUE, status=status)


def account_hash(rows: Any, number: str | None) -> str:
    """The hash of account ``number`` from ``/accounts/accountNumbers`` (the only account when
    none is named)."""
    pairs = {
        str(mapping(r, "account number").get("accountNumber")): str(r.get("hashValue") or "")
        for r in listed(rows, "account numbers")
    }
    if number is None:
        if len(pairs) != 1:
            raise VenueError(
                f"{VENUE}: this token reaches {len(pairs)} accounts; name one in "
                "brokers.schwab.extra.account_number (or extra.account_hash)",
                Failure.INVALID,
                venue=VENUE,
            )
        number = next(iter(pairs))
    found = pairs.get(number)
    if not found:
        raise VenueError(
            f"{VENUE}: account ending {number[-4:]} is not among this token's accounts",
            Failure.NOT_FOUND,
            venue=VENUE,
        )
    return found


def balances(data: Any) -> tuple[Decimal, Decimal, Decimal | None]:
    """Cash, buying power and liquidation value of ``{"securitiesAccount": ...}``. A margin
    account reports ``buyingPower``; a cash account ``cashAvailableForTrading``."""
    acct = mapping(mapping(data, "account").get("securitiesAccount"), "securitiesAccount")
    now = mapping(acct.get("currentBalances"), "currentBalances")
    first = acct.get("initialBalances")
    start = first if isinstance(first, Mapping) else {}
    if "buyingPower" in now:
        power = decimal_field(now, "buyingPower", VENUE)
    else:
        power = decimal_field(now, "cashAvailableForTrading", VENUE)
    cash_key = next((k for k in ("cashBalance", "totalCash") if k in now), None)
    if cash_key is not None:
        cash = decimal_field(now, cash_key, VENUE)
    else:
        cash = decimal_field(start, "cashBalance", VENUE)
    equity = optional_decimal(now, "liquidationValue", VENUE)
    if equity is None:
        equity = optional_decimal(start, "liquidationValue", VENUE)
    return cash, power, equity


def positions(data: Any) -> list[VenuePosition]:
    acct = mapping(mapping(data, "account").get("securitiesAccount"), "securitiesAccount")
    out = []
    for row in listed(acct.get("positions", []), "positions"):
        p = mapping(row, "position")
        symbol = mapping(p.get("instrument"), "position instrument").get("symbol")
        if not symbol:
            raise malformed("position lacks instrument.symbol")
        qty = decimal_field(p, "longQuantity", VENUE, "0") - decimal_field(
            p, "shortQuantity", VENUE, "0"
        )
        out.append(VenuePosition(str(symbol), qty, optional_decimal(p, "averagePrice", VENUE)))
    return out


def _leg(d: Mapping[str, Any]) -> tuple[str, OrderSide, str]:
    legs = listed(d.get("orderLegCollection"), "orderLegCollection")
    if len(legs) != 1:
        raise malformed(f"order {d.get('orderId')} has {len(legs)} legs; one is supported")
    leg = mapping(legs[0], "order leg")
    instruction = str(leg.get("instruction"))
    side = _SIDES.get(instruction)
    symbol = mapping(leg.get("instrument"), "order instrument").get("symbol")
    if side is None or not symbol:
        raise malformed(f"order {d.get('orderId')} leg has instruction {instruction!r}, symbol")
    return str(symbol), side, instruction


def expressible(d: Mapping[str, Any]) -> bool:
    """Whether ``d`` is an order this adapter could have placed: one equity leg bought or sold,
    of a type it knows. Orders placed elsewhere that are not (option, multi-leg, conditional,
    trailing orders) are left out of the listings instead of failing them."""
    legs = d.get("orderLegCollection")
    return (
        isinstance(legs, list)
        and len(legs) == 1
        and isinstance(legs[0], Mapping)
        and legs[0].get("instruction") in _SIDES
        and d.get("orderType") in _TYPES
        and d.get("orderStrategyType", "SINGLE") == "SINGLE"
    )


def executions(d: Mapping[str, Any]) -> list[tuple[str, Decimal, Decimal, int]]:
    """``(fill id, quantity, price, ns)`` of each execution leg of a FILL activity. The fill id
    is ``orderId:activityId:n`` (``aK`` for the activity's position when Schwab sends no
    ``activityId``; ``n`` the leg's position), which stays the same on every read because
    Schwab only appends activities."""
    out = []
    activities = listed(d.get("orderActivityCollection", []), "orderActivityCollection")
    for k, raw in enumerate(activities):
        act = mapping(raw, "order activity")
        if act.get("activityType") != "EXECUTION" or act.get("executionType") != "FILL":
            continue  # ORDER_ACTION, or an execution report of a cancel (price 0)
        tag = str(act["activityId"]) if act.get("activityId") is not None else f"a{k}"
        for n, leg_raw in enumerate(listed(act.get("executionLegs"), "executionLegs")):
            leg = mapping(leg_raw, "execution leg")
            out.append(
                (
                    f"{d['orderId']}:{tag}:{n}",
                    decimal_field(leg, "quantity", VENUE),
                    decimal_field(leg, "price", VENUE),
                    stamp_ns(leg.get("time")),
                )
            )
    return out


def read_order(data: Any, client_order_id: str) -> VenueOrder:
    d = mapping(data, "order")
    if d.get("orderId") is None or "status" not in d:
        raise malformed("order lacks orderId or status")
    symbol, side, _ = _leg(d)
    kind = _TYPES.get(str(d.get("orderType")))
    if kind is None:
        raise malformed(f"order {d['orderId']} has an unsupported orderType {d.get('orderType')!r}")
    qty = decimal_field(d, "quantity", VENUE)
    filled = decimal_field(d, "filledQuantity", VENUE, "0")
    legs = executions(d)
    done = sum((q for _, q, _, _ in legs), Decimal(0))
    avg = sum((q * p for _, q, p, _ in legs), Decimal(0)) / done if done else None
    raw = str(d["status"])
    stamp = d.get("closeTime") or d.get("enteredTime")
    return VenueOrder(
        client_order_id=client_order_id,
        venue_order_id=str(d["orderId"]),
        symbol=symbol,
        side=side,
        quantity=qty,
        filled_quantity=filled,
        status=STATUSES.map(raw, qty, filled, client_order_id),
        venue_status=raw,
        order_type=kind,
        avg_price=avg,
        limit_price=optional_decimal(d, "price", VENUE) if kind in _PRICED else None,
        stop_price=optional_decimal(d, "stopPrice", VENUE) if kind in _STOPPED else None,
        ts=stamp_ns(stamp) if stamp else 0,
        reason=str(d.get("statusDescription") or "") if raw == "REJECTED" else "",
    )


_PRICED = (OrderType.LIMIT, OrderType.STOP_LIMIT)
_STOPPED = (OrderType.STOP, OrderType.STOP_LIMIT)


def read_fills(data: Any, client_order_id: str | None, since_ns: int) -> list[VenueFill]:
    d = mapping(data, "order")
    if d.get("orderId") is None:
        raise malformed("order lacks orderId")
    legs = executions(d)
    if not legs:
        return []
    symbol, side, _ = _leg(d)
    return [
        VenueFill(
            fill_id=fid,
            venue_order_id=str(d["orderId"]),
            client_order_id=client_order_id,
            symbol=symbol,
            side=side,
            quantity=qty,
            price=price,
            commission=Decimal(0),  # not in the order; Schwab's fees appear in transactions
            ts=ts,
        )
        for fid, qty, price, ts in legs
        if ts >= since_ns
    ]


def entered_ns(data: Mapping[str, Any]) -> int:
    return stamp_ns(data.get("enteredTime"))
