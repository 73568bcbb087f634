"""Coinbase Advanced Trade (spot) through ccxt. There is no sandbox that ccxt can reach, so the
adapter refuses ``paper_trading = true`` rather than trade live under a paper flag.

Quirks handled here:

* **Keys.** A CDP API key (``organizations/.../apiKeys/...`` with its EC private key as the
  secret) signs each request as a short-lived JWT; ccxt builds it. Every endpoint used is the
  v3 brokerage API (balances, time), not the retail v2 API ccxt defaults to for some.
* **Orders** are sent with the documented ``order_configuration`` for their type and time in
  force, quantity always in the base asset (``base_size``; ccxt would read a market buy's
  amount as quote currency to spend). Types: market, limit (GTC, IOC, FOK), stop-limit (GTC).
* **Client order ids** go as ``client_order_id``. Coinbase documents that an order with a known
  client id is not created again: the existing order is returned, so a retry never doubles.
  There is no lookup by client id: an order is found by the venue id this client saw when it
  placed it, else by scanning the newest orders of its product (up to :data:`SCAN_PAGES` pages).
  An order older than that is reported as not found; sending it again is still safe, because
  the venue answers a known client id with the order it has.
* **States** are ccxt's unified ones (ccxt folds EXPIRED and FAILED into canceled) plus the
  states ccxt passes through: PENDING and QUEUED (not yet working), CANCEL_QUEUED and
  EDIT_QUEUED (still working). UNKNOWN_ORDER_STATUS is surfaced as unknown.
* **Cancels** go through ``batch_cancel``, whose per-order ``failure_reason`` is kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import ccxt

from neural_trader.brokers.base import Capabilities, ErrorRule, Failure, VenueError
from neural_trader.brokers.ccxt_broker import CcxtBroker
from neural_trader.brokers.ccxt_common import venue_states
from neural_trader.core.instruments import AssetClass
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce

VENUE = "coinbase"
S = OrderStatus
STATUSES = venue_states(
    VENUE,
    {"PENDING": S.SUBMITTED, "QUEUED": S.SUBMITTED, "CANCEL_QUEUED": S.ACCEPTED,
     "EDIT_QUEUED": S.ACCEPTED},
)  # fmt: skip
# https://docs.cdp.coinbase.com/advanced-trade/docs/rest-api-errors (ccxt files these broadly)
ERRORS = (
    ErrorRule(Failure.NOT_FOUND, status=404),
    ErrorRule(Failure.NOT_FOUND, contains="was not found"),
    ErrorRule(Failure.AUTH, status=401),
)
CAPABILITIES = Capabilities(
    order_types=frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_LIMIT}),
    time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}),
    asset_classes=frozenset({AssetClass.CRYPTO}),
    fractional=True,
    shorting=False,  # spot: only what the account holds can be sold
    extended_hours=False,  # no sessions: the market trades around the clock
    replace=False,
    market_data=False,
    sandbox=False,
    requests_per_s=1000 / ccxt.coinbase().rateLimit,  # ccxt's documented pacing (34 ms)
    burst=10,
    max_connections=4,
)
SCAN_PAGES = 4
_PAGE = 250
_CONFIGS: dict[tuple[OrderType, TimeInForce], str] = {
    (OrderType.MARKET, TimeInForce.GTC): "market_market_ioc",
    (OrderType.MARKET, TimeInForce.IOC): "market_market_ioc",
    (OrderType.LIMIT, TimeInForce.GTC): "limit_limit_gtc",
    (OrderType.LIMIT, TimeInForce.IOC): "sor_limit_ioc",
    (OrderType.LIMIT, TimeInForce.FOK): "limit_limit_fok",
    (OrderType.STOP_LIMIT, TimeInForce.GTC): "stop_limit_stop_limit_gtc",
}


class CoinbaseBroker(CcxtBroker):
    exchange_id = VENUE
    capabilities = CAPABILITIES
    statuses = STATUSES
    error_rules = ERRORS
    client_ids = re.compile(r"[A-Za-z0-9._:-]{1,64}")
    default_currency = "USD"
    options: ClassVar[Mapping[str, Any]] = {
        "fetchBalance": "v3PrivateGetBrokerageAccounts",
        "fetchTime": "v3PublicGetBrokerageTime",
        "createMarketBuyOrderRequiresPrice": False,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._venue_ids: dict[str, str] = {}  # client order id -> Coinbase order id

    def configure(self, exchange: Any) -> None:
        # v2 currency lists are not needed: Advanced Trade names currencies by their codes.
        exchange.has["fetchCurrencies"] = False

    def order_request(
        self,
        order: Order,
        venue_id: str,
        amount: str,
        price: str | None,
        stop: str | None,
    ) -> tuple[str, dict[str, Any]]:
        key = _CONFIGS.get((order.order_type, order.time_in_force))
        if key is None:
            raise self._refuse(
                order,
                f"Coinbase takes no {order.order_type.value} order with time in force "
                f"{order.time_in_force.value}",
            )
        config: dict[str, Any] = {"base_size": amount}
        if order.order_type is not OrderType.MARKET:
            config["limit_price"] = price
        if key == "limit_limit_gtc":
            config["post_only"] = False
        if order.order_type is OrderType.STOP_LIMIT:
            config["stop_price"] = stop
            up = order.side is OrderSide.BUY  # a buy stop triggers on the way up
            config["stop_direction"] = (
                "STOP_DIRECTION_STOP_UP" if up else "STOP_DIRECTION_STOP_DOWN"
            )
        params = {"client_order_id": venue_id, "order_configuration": {key: config}}
        return ("market" if order.order_type is OrderType.MARKET else "limit"), params

    def placed(self, order: Order, raw: Any) -> None:
        if isinstance(raw, dict) and raw.get("id") and raw.get("clientOrderId"):
            self._venue_ids[str(raw["clientOrderId"])] = str(raw["id"])

    async def find_order(self, venue_id: str, market: str) -> dict[str, Any] | None:
        known = self._venue_ids.get(venue_id)
        if known is not None:
            try:
                found: dict[str, Any] = await self.run(self.exchange.fetch_order, known, market)
            except VenueError as exc:
                if exc.failure is Failure.NOT_FOUND:
                    return None
                raise
            return found
        query = {"product_ids": [self.exchange.market(market)["id"]]}
        for order in await self._collect(query, SCAN_PAGES):
            if order.get("clientOrderId") == venue_id:
                self._venue_ids[venue_id] = str(order["id"])
                return dict(order)
        return None

    async def _collect(
        self, query: dict[str, Any], max_pages: int, list_key: str = "orders"
    ) -> list[dict[str, Any]]:
        """The orders (or fills) of a v3 list endpoint as ccxt parses them, following the
        cursor one page (one bounded call) at a time."""
        out: list[dict[str, Any]] = []
        cursor = ""
        for _ in range(max_pages):
            rows, following = await self.run(self._page, query, cursor, list_key)
            out += rows
            if not following or following == cursor or len(rows) < _PAGE:
                break
            cursor = following
        return out

    def _page(
        self, query: dict[str, Any], cursor: str, list_key: str
    ) -> tuple[list[dict[str, Any]], str]:
        ex = self.exchange
        fetch: Callable[[dict[str, Any]], Any] = (
            ex.v3PrivateGetBrokerageOrdersHistoricalBatch
            if list_key == "orders"
            else ex.v3PrivateGetBrokerageOrdersHistoricalFills
        )
        page = fetch({**query, "limit": _PAGE} | ({"cursor": cursor} if cursor else {}))
        rows = page.get(list_key) if isinstance(page, dict) else None
        if not isinstance(rows, list):
            raise VenueError(f"{self.name} {list_key} page is not a list", Failure.MALFORMED)
        parse = ex.parse_orders if list_key == "orders" else ex.parse_trades
        return parse(rows), str(page.get("cursor") or "")

    async def cancel(self, venue_id: str, market: str) -> None:
        order = await self.find_order(venue_id, market)
        if order is None:
            raise VenueError(
                f"{self.name} has no order {venue_id}", Failure.NOT_FOUND, venue=self.name
            )
        reply = await self.run(
            self.exchange.v3PrivatePostBrokerageOrdersBatchCancel, {"order_ids": [order["id"]]}
        )
        results = reply.get("results") if isinstance(reply, dict) else None
        result = results[0] if isinstance(results, list) and results else None
        if not isinstance(result, dict):
            raise VenueError(f"{self.name} cancel reply lacks results", Failure.MALFORMED)
        if result.get("success") is not True:
            reason = str(result.get("failure_reason") or "unknown")
            failure = Failure.NOT_FOUND if reason == "UNKNOWN_CANCEL_ORDER" else Failure.REJECTED
            raise VenueError(
                f"{self.name} refused the cancel: {reason}", failure, venue=self.name, code=reason
            )

    async def list_open(self) -> list[Any]:
        return await self._collect({"order_status": ["OPEN"]}, 40)

    async def list_trades(self, since_ms: int, markets: Sequence[str]) -> list[Any]:
        query = {"start_sequence_timestamp": self.exchange.iso8601(since_ms)}
        return await self._collect(query, 40, "fills")
