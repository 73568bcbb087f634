"""Binance spot through ccxt; its spot testnet (testnet.binance.vision) when ``paper_trading``.

Quirks handled here:

* **Markets.** Only spot markets are loaded (one ``exchangeInfo`` call): ccxt would also load
  USD-M and COIN-M futures, margin pairs, and currencies through a private wallet endpoint.
* **Clock.** Binance refuses a signed request stamped more than 1 s ahead of its clock, so the
  offset to the server's time is measured on every connect and applied to each timestamp.
* **Client order ids** go as ``newClientOrderId`` (at most 36 of ``A-Za-z0-9.:/_-``, longer
  ids as their UUID-5); orders are found and cancelled by ``origClientOrderId``. Binance keeps
  ids unique among *open* orders ("Duplicate order sent.", ``DUPLICATE``); that the pool never
  sends an id the venue has seen rests on the lookup, which finds closed orders too.
* **Stops** are ``STOP_LOSS`` (market) and ``STOP_LOSS_LIMIT``; Binance triggers a buy stop
  above the market and a sell stop below it, as our STOP means. Time in force GTC, IOC, FOK
  (no DAY); market orders take none.
* **Fills** come from ``myTrades``, which Binance serves per symbol only: for each symbol the
  trades from ``startTime`` on, then, while pages come back full (1000), the next ones by
  ``fromId`` (both documented parameter combinations; a time range would be capped at 24 h).
  Fees may be charged in BNB or the base asset (see ``ccxt_records`` for how those reach the
  ledger).
* **States** are ccxt's unified ones plus ``PENDING_NEW`` (an order-list leg waiting for its
  working leg), which ccxt passes through.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import ccxt

from neural_trader.brokers.base import Capabilities, ErrorRule, Failure, VenueError
from neural_trader.brokers.ccxt_broker import CcxtBroker
from neural_trader.brokers.ccxt_common import venue_states
from neural_trader.core.instruments import AssetClass
from neural_trader.core.orders import OrderStatus, OrderType, TimeInForce

VENUE = "binance"
STATUSES = venue_states(VENUE, {"PENDING_NEW": OrderStatus.SUBMITTED})
# https://developers.binance.com/docs/binance-spot-api-docs/errors (ccxt files these broadly)
ERRORS = (
    # ccxt reads -2015 after a first good call as a temporary ban; Binance documents it as a key
    # that is invalid or lacks the IP or permission: the operator has to act.
    ErrorRule(Failure.AUTH, code="-2015"),
    ErrorRule(Failure.AUTH, code="-2014"),
    ErrorRule(Failure.REJECTED, contains="Filter failure"),  # -1013: price, lot, notional
    ErrorRule(Failure.DUPLICATE, contains="Duplicate order sent"),
    ErrorRule(Failure.INSUFFICIENT_FUNDS, contains="insufficient balance"),
    ErrorRule(Failure.NOT_FOUND, contains="Order does not exist"),
    ErrorRule(Failure.NOT_FOUND, contains="Unknown order sent"),
)
CAPABILITIES = Capabilities(
    order_types=frozenset(OrderType),
    time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}),
    asset_classes=frozenset({AssetClass.CRYPTO}),
    fractional=True,
    shorting=False,  # spot: only what the account holds can be sold
    extended_hours=False,  # no sessions: the market trades around the clock
    replace=False,
    market_data=False,
    sandbox=True,
    requests_per_s=1000 / ccxt.binance().rateLimit,  # ccxt's documented pacing (50 ms)
    burst=10,
    max_connections=4,
)
_TRADES_PAGE = 1000


class BinanceBroker(CcxtBroker):
    exchange_id = VENUE
    capabilities = CAPABILITIES
    statuses = STATUSES
    error_rules = ERRORS
    client_ids = re.compile(r"[.A-Za-z0-9:/_-]{1,36}")
    default_currency = "USDT"
    client_id_param = "newClientOrderId"
    stop_param = "triggerPrice"
    options: ClassVar[Mapping[str, Any]] = {
        "fetchMarkets": {"types": ["spot"]},
        "fetchCurrencies": False,  # a private wallet call, not needed to trade
        "fetchMargins": False,
        "fetchOpenOrders": {"warnWithoutSymbol": False},  # the pool lists all open orders
        "createOrder": {"quoteOrderQty": False},  # a market order's amount is base quantity
        "adjustForTimeDifference": True,
    }

    def configure(self, exchange: Any) -> None:
        if self.paper:
            exchange.set_sandbox_mode(True)

    async def find_order(self, venue_id: str, market: str) -> dict[str, Any] | None:
        params = {"origClientOrderId": venue_id}
        try:
            found: dict[str, Any] = await self.run(self.exchange.fetch_order, "", market, params)
        except VenueError as exc:
            if exc.failure is Failure.NOT_FOUND:
                return None
            raise
        return found

    async def cancel(self, venue_id: str, market: str) -> None:
        await self.run(self.exchange.cancel_order, "", market, {"origClientOrderId": venue_id})

    async def list_trades(self, since_ms: int, markets: Sequence[str]) -> list[Any]:
        out: list[Any] = []
        for market in markets:
            out += await self._trades(market, since_ms)
        return out

    async def _trades(self, market: str, since_ms: int) -> list[Any]:
        """One symbol's trades from ``since_ms`` on: by time first, then by trade id."""
        fetch = self.exchange.fetch_my_trades
        page = self._list(await self.run(fetch, market, since_ms, _TRADES_PAGE), "trades")
        out = list(page)
        while len(page) == _TRADES_PAGE:
            ids = [int(t["id"]) for t in page if isinstance(t, dict) and str(t.get("id")).isdigit()]
            if not ids:
                raise VenueError(f"{self.name} trades lack ids", Failure.MALFORMED, venue=self.name)
            params = {"fromId": max(ids) + 1}
            page = self._list(await self.run(fetch, market, None, _TRADES_PAGE, params), "trades")
            out += page
        return out
