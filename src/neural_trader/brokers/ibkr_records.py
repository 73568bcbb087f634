"""Interactive Brokers' records (ib-async's Trade, Fill, Position, AccountValue) read into ours,
ours written as IB's (contract and order), where TWS listens, and the two tables that interpret
TWS: order states and error codes.

ib-async decodes every number of the TWS wire protocol into a Python float; quantities and
prices are read back through ``repr`` (the shortest decimal that round-trips), which gives the
decimal the wire carried for anything up to 15 significant digits (every US equity price and
share count). IB's "unset" double (``1.7976931348623157e308``), NaN and infinities are refused
as MALFORMED wherever a number is required.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from ib_async import AccountValue, Fill, Position, Stock, Trade
from ib_async import Order as IbOrder
from ib_async.util import UNSET_DOUBLE

from neural_trader.brokers.base import (
    Account,
    ErrorRule,
    Failure,
    StatusTable,
    VenueError,
    VenueFill,
    VenueOrder,
    VenuePosition,
    classify,
    decimal_field,
)
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce

VENUE = "interactive_brokers"
S = OrderStatus
# https://interactivebrokers.github.io/tws-api/order_submission.html ("Possible Order States"),
# plus the two states ib-async itself sets (ValidationError: a TWS warning on a live order;
# ApiUpdate: a modification in flight).
STATUSES = StatusTable(
    VENUE,
    {
        "ApiPending": S.SUBMITTED,  # placed but not yet transmitted by TWS
        "PendingSubmit": S.SUBMITTED,  # transmitted, no acknowledgement from the destination yet
        "ValidationError": S.SUBMITTED,  # ib-async: TWS warned about a live order
        "PreSubmitted": S.ACCEPTED,  # accepted by IB, held until elected (stops, off hours)
        "Submitted": S.ACCEPTED,  # working at the destination
        "ApiUpdate": S.ACCEPTED,
        "PendingCancel": S.ACCEPTED,  # still working until the cancel is confirmed
        "ApiCancelled": S.CANCELED,  # cancelled before TWS transmitted it
        "Cancelled": S.CANCELED,
        "Filled": S.FILLED,
        "Inactive": S.REJECTED,  # received but not working: rejected, or locked out by IB
    },
)
# https://interactivebrokers.github.io/tws-api/message_codes.html; first match wins. Order
# rejections carry their reason in the text, so margin refusals are matched by wording first.
ERRORS = (
    ErrorRule(Failure.INSUFFICIENT_FUNDS, contains="insufficient"),
    ErrorRule(Failure.INSUFFICIENT_FUNDS, contains="initial margin"),
    ErrorRule(Failure.INSUFFICIENT_FUNDS, contains="equity with loan"),
    ErrorRule(Failure.INSUFFICIENT_FUNDS, contains="buying power"),
    ErrorRule(Failure.RATE_LIMITED, code="100"),  # max rate of messages per second exceeded
    ErrorRule(Failure.RATE_LIMITED, contains="pacing violation"),  # 162, 420
    # 103 "duplicate order id" is IB's numeric order id (ib-async allots those), not our
    # client order id: the order was not placed. Our id's duplicates are found by orderRef.
    ErrorRule(Failure.REJECTED, code="103"),
    ErrorRule(Failure.NOT_FOUND, code="135"),  # can't find order with that id
    ErrorRule(Failure.NOT_FOUND, code="10147"),  # order to cancel not found
    ErrorRule(Failure.REJECTED, code="10148"),  # order cannot be cancelled in its state
    ErrorRule(Failure.REJECTED, code="161"),  # cancel attempted in a non-cancellable state
    ErrorRule(Failure.REJECTED, code="104"),  # cannot modify a filled order
    ErrorRule(Failure.REJECTED, code="200"),  # no security definition found
    ErrorRule(Failure.REJECTED, code="201"),  # order rejected (reason in the text)
    ErrorRule(Failure.INVALID, code="321"),  # error validating the request
    ErrorRule(Failure.UNAVAILABLE, code="326"),  # client id already in use
    ErrorRule(Failure.UNAVAILABLE, code="502"),  # couldn't connect to TWS
    ErrorRule(Failure.UNAVAILABLE, code="504"),  # not connected
    ErrorRule(Failure.UNAVAILABLE, code="1100"),  # connectivity between IB and TWS lost
    ErrorRule(Failure.UNAVAILABLE, code="1300"),  # TWS socket port reset
)
LINK_LOST, LINK_RESTORED = 1100, (1101, 1102)
CANCELLED_CODE = 202  # "Order cancelled": the answer to our cancel, not a failure
_SIDES = {"BUY": OrderSide.BUY, "SELL": OrderSide.SELL}
_EXEC_SIDES = {"BOT": OrderSide.BUY, "SLD": OrderSide.SELL}
TYPES = {
    OrderType.MARKET: "MKT",
    OrderType.LIMIT: "LMT",
    OrderType.STOP: "STP",
    OrderType.STOP_LIMIT: "STP LMT",
}
_OUR_TYPES = {v: k for k, v in TYPES.items()}
_TIFS = {t: t.value.upper() for t in TimeInForce}  # DAY, GTC, IOC, FOK
_LIMITS = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
_STOPS = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ACKED = frozenset({"PreSubmitted", "Submitted", "ApiUpdate", "PendingCancel", "Filled"})


def error(code: int, text: str, order: str = "") -> VenueError:
    """A TWS error message as one of ours."""
    failure = classify(ERRORS, None, str(code), text)
    return VenueError(
        f"{VENUE}: TWS error {code}: {text[:300]}", failure, venue=VENUE, code=code, order=order
    )


def malformed(what: str) -> VenueError:
    return VenueError(f"{VENUE} {what}", Failure.MALFORMED, venue=VENUE)


def number(value: object, what: str) -> Decimal:
    """A float that ib-async decoded from the wire, as the Decimal the wire carried."""
    if isinstance(value, Decimal):
        out = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or value >= UNSET_DOUBLE:
            raise malformed(f"sent no usable {what} ({value!r})")
        value = float(value)
        out = Decimal(int(value)) if value.is_integer() else Decimal(repr(value))
    else:
        raise malformed(f"sent a non-numeric {what}: {value!r}")
    if not out.is_finite():
        raise malformed(f"sent {what}={value!r}")
    return out


def optional_number(value: object, what: str) -> Decimal | None:
    if isinstance(value, float) and (value >= UNSET_DOUBLE or math.isnan(value)):
        return None
    return None if value is None else number(value, what)


def ns(moment: datetime) -> int:
    """An aware datetime as integer nanoseconds since the epoch, exactly (no float)."""
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def symbol_of(sec_type: str, symbol: str, local_symbol: str) -> str:
    """Our symbol for an IB contract: the ticker for a stock; other kinds, which this adapter
    does not trade, keep IB's local symbol and kind so that they stay visible and distinct."""
    if sec_type == "STK":
        return symbol
    return f"{local_symbol or symbol} ({sec_type})"


def order_of(trade: Trade, error_text: str = "") -> VenueOrder:
    """The venue's view of one order. ib-async marks an order TWS refused with an error as
    Cancelled; one that was never acknowledged (no PreSubmitted/Submitted in its log) is
    reported REJECTED with TWS's reason."""
    o, st, c = trade.order, trade.orderStatus, trade.contract
    cid = o.orderRef or ""
    side = _SIDES.get(o.action)
    kind = _OUR_TYPES.get(o.orderType)
    if side is None or kind is None:
        raise malformed(f"order {o.permId} has action {o.action!r}, type {o.orderType!r}")
    qty = number(o.totalQuantity, "order quantity")
    filled = number(st.filled, "filled quantity")
    done_qty = optional_number(o.filledQuantity, "filled quantity")  # completed orders only
    if filled == 0 and done_qty is not None:
        filled = done_qty
    raw = st.status
    status = STATUSES.map(raw, qty, filled, cid)
    if status is S.CANCELED and filled >= qty > 0:
        status = S.FILLED  # ib-async marks a filled order Cancelled on a late cancel error
    errored = [e for e in trade.log if e.errorCode and e.errorCode != CANCELLED_CODE]
    acked = any(e.status in _ACKED for e in trade.log)
    if status is S.CANCELED and errored and filled == 0 and not acked:
        status = S.REJECTED
    reason = error_text or (errored[-1].message if errored else "")
    # Completed orders (from an earlier session) carry no average price: None, not zero.
    priced = filled and st.avgFillPrice
    avg = optional_number(st.avgFillPrice, "average fill price") if priced else None
    stamp = trade.log[-1].time if trade.log else None
    return VenueOrder(
        client_order_id=cid,
        venue_order_id=str(o.permId) if o.permId else f"{o.clientId}.{o.orderId}",
        symbol=symbol_of(c.secType, c.symbol, c.localSymbol),
        side=side,
        quantity=qty,
        filled_quantity=filled,
        status=status,
        venue_status=raw,
        order_type=kind,
        avg_price=avg,
        limit_price=number(o.lmtPrice, "limit price") if kind in _LIMITS else None,
        stop_price=number(o.auxPrice, "stop price") if kind in _STOPS else None,
        ts=ns(stamp) if stamp is not None and stamp.tzinfo is not None else 0,
        reason=reason if status in (S.REJECTED, S.CANCELED) else "",
    )


def expressible(trade: Trade) -> bool:
    """Orders of types this adapter never sends (trailing, pegged, algos placed in TWS by
    hand) cannot be described in our records; the caller lists them apart."""
    return trade.order.orderType in _OUR_TYPES


def fill_of(fill: Fill, commission: Fill | None) -> VenueFill:
    """One execution; ``commission`` is the same execution as ib-async keeps it live (the
    commission report arrives after the execution and updates that copy)."""
    ex, c = fill.execution, fill.contract
    side = _EXEC_SIDES.get(ex.side)
    if side is None or not ex.execId:
        raise malformed(f"execution {ex.execId!r} has side {ex.side!r}")
    report = (commission or fill).commissionReport
    paid = number(report.commission, "commission") if report.execId else Decimal(0)
    return VenueFill(
        fill_id=ex.execId,
        venue_order_id=str(ex.permId) if ex.permId else f"{ex.clientId}.{ex.orderId}",
        client_order_id=ex.orderRef or None,
        symbol=symbol_of(c.secType, c.symbol, c.localSymbol),
        side=side,
        quantity=number(ex.shares, "execution shares"),
        price=number(ex.price, "execution price"),
        commission=paid,
        ts=ns(ex.time),
        liquidity="maker" if ex.lastLiquidity == 1 else "taker",  # 1 added, 2 removed
    )


def position_of(p: Position) -> VenuePosition:
    c = p.contract
    avg = number(p.avgCost, "average cost") if p.position else None
    return VenuePosition(
        symbol_of(c.secType, c.symbol, c.localSymbol), number(p.position, "position"), avg
    )


def account_of(values: Sequence[AccountValue], account: str, name: str) -> Account:
    """Cash, buying power and net liquidation from the account summary, in the account's base
    currency (the currency TWS reports TotalCashValue in)."""
    tags = {v.tag: v for v in values if v.account == account and v.currency}
    cash = tags.get("TotalCashValue")
    if cash is None or "BuyingPower" not in tags:
        raise malformed(f"account summary of {account} lacks TotalCashValue or BuyingPower")
    row = {k: v.value for k, v in tags.items()}
    return Account(
        venue=name,
        currency=cash.currency,
        cash=decimal_field(row, "TotalCashValue", VENUE),
        buying_power=decimal_field(row, "BuyingPower", VENUE),
        equity=decimal_field(row, "NetLiquidation", VENUE) if "NetLiquidation" in row else None,
    )


PAPER_PORT, LIVE_PORT = 7497, 7496


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str = "127.0.0.1"
    port: int = PAPER_PORT
    client_id: int = 1
    account: str = ""


def endpoint(base_url: str | None, extra: Mapping[str, str], paper: bool = True) -> Endpoint:
    """Where TWS listens, from ``base_url`` (``tws://host:port``) and ``extra`` (``host``,
    ``port``, ``client_id``, ``account``; these win over the URL)."""
    host, port = "127.0.0.1", PAPER_PORT if paper else LIVE_PORT
    if base_url:
        parts = urlsplit(base_url)
        if parts.scheme not in ("tws", "ib", "tcp") or not parts.hostname:
            raise VenueError(
                f"{VENUE}: base_url must look like tws://127.0.0.1:7497, got {base_url!r}",
                Failure.INVALID,
                venue=VENUE,
            )
        host = parts.hostname
        try:
            port = parts.port or port
        except ValueError:
            raise VenueError(
                f"{VENUE}: base_url {base_url!r} has a bad port", Failure.INVALID, venue=VENUE
            ) from None
    host = extra.get("host", host)
    values = {"port": str(port), "client_id": "1"} | {
        k: extra[k] for k in ("port", "client_id") if k in extra
    }
    numbers: dict[str, int] = {}
    for key, text in values.items():
        if not text.strip().isdigit():
            raise VenueError(
                f"{VENUE}: extra.{key} must be a whole number, got {text!r}",
                Failure.INVALID,
                venue=VENUE,
            )
        numbers[key] = int(text)
    if not 0 < numbers["port"] < 65536:
        raise VenueError(f"{VENUE}: port {numbers['port']} is out of range", Failure.INVALID)
    return Endpoint(host, numbers["port"], numbers["client_id"], extra.get("account", ""))


def request_of(order: Order, account: str, name: str = VENUE) -> tuple[Stock, IbOrder]:
    """Our order as IB's: a US stock on SMART routing, our client order id as orderRef."""
    where = {"venue": name, "order": order.client_order_id}
    if "/" in order.symbol or not order.symbol:
        raise VenueError(
            f"{name} trades US stocks only through this adapter, not {order.symbol!r}",
            Failure.UNSUPPORTED,
            **where,
        )
    if order.quantity != order.quantity.to_integral_value():
        raise VenueError(
            f"{name} takes whole share quantities, got {order.quantity}",
            Failure.UNSUPPORTED,
            **where,
        )
    ib_order = IbOrder(
        action="BUY" if order.side is OrderSide.BUY else "SELL",
        totalQuantity=float(order.quantity),
        orderType=TYPES[order.order_type],
        tif=_TIFS[order.time_in_force],
        orderRef=order.client_order_id,
        account=account,
        lmtPrice=_price(order.limit_price),
        auxPrice=_price(order.stop_price),
    )
    return Stock(order.symbol, "SMART", "USD"), ib_order


def _price(value: Decimal | None) -> Decimal | float:
    """A price as TWS reads it: plain digits (no exponent), or IB's unset double."""
    return UNSET_DOUBLE if value is None else Decimal(format(value, "f"))


def find(trades: Iterable[Trade], client_order_id: str) -> Trade | None:
    """The latest order carrying ``client_order_id`` as its orderRef."""
    found = None
    for trade in trades:
        if trade.order.orderRef == client_order_id:
            found = trade
    return found
