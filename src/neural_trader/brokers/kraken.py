"""Kraken spot through ccxt. Kraken has no spot sandbox, so the adapter refuses
``paper_trading = true`` rather than trade live under a paper flag.

Quirks handled here:

* **Names.** Kraken writes assets XXBT, ZUSD and pairs XXBTZUSD; ccxt's markets (AssetPairs)
  and currencies (Assets) turn them into BTC, USD and BTC/USD, so both are loaded on connect.
* **Client order ids** go as ``cl_ord_id``, which takes a UUID or at most 18 characters:
  longer ids (the kernel's) go as their UUID-5 (see ``ccxt_ids``). Kraken checks uniqueness
  among *open* orders only, so an order is looked up among open orders and then closed ones
  (both filter by ``cl_ord_id``) before the pool ever sends it again.
* **Errors** arrive with HTTP 200 and an ``error`` list; ccxt maps most. "EOrder:Unknown
  order" is only an ``InvalidOrder`` to ccxt: here it is ``NOT_FOUND``.
* **Stops** are ``stop-loss`` and ``stop-loss-limit`` (the limit as ``price2``). Time in force
  GTC and IOC (Kraken has no FOK or DAY).
* **Nonces** increase per API key, so one connection per key (:data:`CAPABILITIES`).
* **Health** is Kraken's SystemStatus: anything but ``online`` (maintenance, cancel_only,
  post_only) is unhealthy, because orders cannot be placed.
* **Fills** are TradesHistory, newest first, 50 a page (followed with ``ofs``).
* **Polling.** Kraken meters private calls with a counter that decays by 0.33 a second on the
  Starter tier (TradesHistory costs 2, OpenOrders 1): the update stream polls every
  :attr:`KrakenBroker.poll_interval_s` (10 s) to stay under it.
* **Foreign orders** without a ``cl_ord_id`` carry ``userref`` 0, which is no client id.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

import ccxt

from neural_trader.brokers.base import Capabilities, ErrorRule, Failure, Health, VenueOrder
from neural_trader.brokers.ccxt_broker import CcxtBroker
from neural_trader.brokers.ccxt_common import venue_states
from neural_trader.core.instruments import AssetClass
from neural_trader.core.orders import OrderType, TimeInForce

VENUE = "kraken"
STATUSES = venue_states(VENUE)  # ccxt maps all of Kraken's: pending, open, closed, ...
# https://docs.kraken.com/api/docs/guides/spot-errors (ccxt files these broadly)
ERRORS = (
    ErrorRule(Failure.NOT_FOUND, contains="EOrder:Unknown order"),
    ErrorRule(Failure.INVALID, contains="EQuery:Unknown asset pair"),
)
CAPABILITIES = Capabilities(
    order_types=frozenset(OrderType),
    time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC}),
    asset_classes=frozenset({AssetClass.CRYPTO}),
    fractional=True,
    shorting=False,  # spot (margin shorts are not offered through this adapter)
    extended_hours=False,  # no sessions: the market trades around the clock
    replace=False,
    market_data=False,
    sandbox=False,
    requests_per_s=1000 / ccxt.kraken().rateLimit,  # ccxt's documented pacing (1 s)
    burst=5,
    max_connections=1,
)
_UUID = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
_TRADES_PAGE = 50


class KrakenBroker(CcxtBroker):
    exchange_id = VENUE
    capabilities = CAPABILITIES
    statuses = STATUSES
    error_rules = ERRORS
    client_ids = re.compile(rf"{_UUID}|[A-Za-z0-9_.:-]{{1,18}}")
    default_currency = "USD"
    client_id_param = "clientOrderId"
    stop_param = "stopLossPrice"
    poll_interval_s = 10.0

    def parse_order(self, raw: Any) -> VenueOrder:
        if isinstance(raw, dict) and str(raw.get("clientOrderId")) == "0":
            raw = raw | {"clientOrderId": None}  # userref 0: the order carries no client id
        return super().parse_order(raw)

    async def health(self) -> Health:
        started = time.perf_counter()
        reply = await self.run(self.exchange.fetch_status)
        info = reply.get("info") if isinstance(reply, dict) else None
        result = info.get("result") if isinstance(info, dict) else None
        state = str(result.get("status")) if isinstance(result, dict) else "unknown"
        return Health(self.name, state == "online", time.perf_counter() - started, state)

    async def find_order(self, venue_id: str, market: str) -> dict[str, Any] | None:
        params = {"clientOrderId": venue_id}
        for fetch in (self.exchange.fetch_open_orders, self.exchange.fetch_closed_orders):
            rows = self._list(await self.run(fetch, None, None, None, params), "orders")
            mine = [r for r in rows if isinstance(r, dict) and r.get("clientOrderId") == venue_id]
            if mine:
                return dict(mine[0])
        return None

    async def cancel(self, venue_id: str, market: str) -> None:
        await self.run(self.exchange.cancel_order, "", None, {"clientOrderId": venue_id})

    async def list_trades(self, since_ms: int, markets: Sequence[str]) -> list[Any]:
        out: list[Any] = []
        while True:
            page = self._list(
                await self.run(
                    self.exchange.fetch_my_trades, None, since_ms, None, {"ofs": len(out)}
                ),
                "trades",
            )
            out += page
            if len(page) < _TRADES_PAGE:
                return out
