"""Reading ccxt's unified structures (orders, trades) into the port's records, exactly.

ccxt gives every venue's orders and trades one shape; what is left to decide here is how its
order types and states become ours. Types: by name where ccxt names a stop (Binance's
``stop_loss_limit``, Kraken's ``stop-loss``), else by mechanics (a trigger price makes a stop,
a limit price a limit), so a foreign order of a type we never send (take-profit, trailing) can
still be listed. States: through the venue's StatusTable, with one refinement: an order the venue
closed short of its quantity (an IOC remainder) is done, so it is CANCELED with its fills, not
FILLED.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from neural_trader.brokers.base import Failure, StatusTable, VenueError, VenueFill, VenueOrder
from neural_trader.brokers.ccxt_common import exact, ms_to_ns, optional_exact
from neural_trader.brokers.ccxt_ids import ClientIds, SymbolMap
from neural_trader.core.orders import OrderSide, OrderStatus, OrderType

_SIDES = {"buy": OrderSide.BUY, "sell": OrderSide.SELL}
_STOP_TYPES = {
    "stop_loss": OrderType.STOP,  # Binance STOP_LOSS
    "stop_loss_limit": OrderType.STOP_LIMIT,
    "stop-loss": OrderType.STOP,  # Kraken
    "stop-loss-limit": OrderType.STOP_LIMIT,
}


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def plain(value: Decimal) -> str:
    """``0.40000000`` → ``0.4``, ``1E+2`` → ``100``."""
    return format(value.normalize(), "f")


def order_type(kind: Any, trigger: Decimal | None, price: Decimal | None) -> OrderType:
    """ccxt's order type as ours (see the module doc)."""
    name = str(kind or "").lower()
    if name in _STOP_TYPES:
        return _STOP_TYPES[name]
    if trigger is not None:
        return OrderType.STOP if name == "market" or price is None else OrderType.STOP_LIMIT
    if name == "market":
        return OrderType.MARKET
    return OrderType.LIMIT if price is not None else OrderType.MARKET


def read_order(
    raw: Any, venue: str, statuses: StatusTable, symbols: SymbolMap, ids: ClientIds
) -> VenueOrder:
    """ccxt's unified order structure as our VenueOrder (its state through ``statuses``)."""
    d = _mapping(raw)
    side = _SIDES.get(str(d.get("side")))
    if side is None or not d.get("id") or not d.get("symbol"):
        raise VenueError(f"{venue} order lacks an id, a symbol or a known side", Failure.MALFORMED)
    cid = ids.to_ours(d.get("clientOrderId"))
    quantity = exact(d.get("amount"), "order amount", venue)
    filled = exact(d.get("filled") or "0", "order filled", venue)
    price = optional_exact(d.get("price"), "order price", venue)
    trigger = optional_exact(d.get("triggerPrice") or d.get("stopPrice"), "trigger", venue)
    kind = order_type(d.get("type"), trigger, price)
    raw_state = str(d.get("status"))
    status = statuses.map(raw_state, quantity, filled, cid)
    info = _mapping(d.get("info"))
    reason = str(info.get("reason") or raw_state) if status is OrderStatus.REJECTED else ""
    if status is OrderStatus.FILLED and filled < quantity:
        # closed by the venue short of its quantity (an IOC remainder): done, not filled
        status = OrderStatus.CANCELED
        reason = f"closed by {venue} with {plain(filled)} of {plain(quantity)} filled"
    return VenueOrder(
        client_order_id=cid,
        venue_order_id=str(d["id"]),
        symbol=symbols.to_ours(str(d["symbol"])),
        side=side,
        quantity=quantity,
        filled_quantity=filled,
        status=status,
        venue_status=raw_state,
        order_type=kind,
        avg_price=optional_exact(d.get("average"), "average", venue),
        limit_price=price if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None,
        stop_price=trigger,
        ts=ms_to_ns(d.get("lastUpdateTimestamp") or d.get("timestamp")),
        reason=reason,
    )


def read_fill(raw: Any, venue: str, symbols: SymbolMap, markets: Any) -> VenueFill:
    """ccxt's unified trade structure as our VenueFill. The commission is the fee the venue
    charged in the pair's quote currency; a fee in another asset moves that asset's balance."""
    d = _mapping(raw)
    side = _SIDES.get(str(d.get("side")))
    if side is None or not d.get("id") or not d.get("order") or not d.get("symbol"):
        raise VenueError(f"{venue} trade lacks an id, order, symbol or side", Failure.MALFORMED)
    market = str(d["symbol"])
    fee = _mapping(d.get("fee"))
    quote = ((markets or {}).get(market) or {}).get("quote")
    in_quote = fee.get("cost") not in (None, "") and fee.get("currency") == quote
    return VenueFill(
        fill_id=str(d["id"]),
        venue_order_id=str(d["order"]),
        client_order_id=None,  # trades carry the venue's order id
        symbol=symbols.to_ours(market),
        side=side,
        quantity=exact(d.get("amount"), "trade amount", venue),
        price=exact(d.get("price"), "trade price", venue),
        commission=exact(fee["cost"], "fee", venue) if in_quote else Decimal(0),
        ts=ms_to_ns(d.get("timestamp")),
        liquidity=str(d.get("takerOrMaker") or "taker"),
    )
