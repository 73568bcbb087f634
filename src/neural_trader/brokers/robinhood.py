"""Robinhood: crypto pairs through the official Crypto Trading API (:mod:`.robinhood_crypto`),
equities through robin-stocks (:mod:`.robinhood_stocks`). A symbol written as a pair
(``BTC/USD``, ``BTC-USD``) goes to the crypto side, anything else to the equities side. Either
side may be left out (a crypto API key alone, or a login alone); an order for a side that is
not configured is refused as unsupported.

Robinhood has no paper environment. The two sides hold separate accounts (Robinhood Crypto's
buying power is its own), so :meth:`RobinhoodBroker.account` reports the equities account when
that side is configured and the crypto account otherwise: adding them up could count the same
cash twice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from neural_trader.brokers.base import (
    Account,
    Broker,
    Capabilities,
    Failure,
    Health,
    VenueError,
    VenueFill,
    VenueOrder,
    VenuePosition,
)
from neural_trader.brokers.resilience import TokenBucket
from neural_trader.brokers.robinhood_crypto import CryptoClient, is_pair
from neural_trader.brokers.robinhood_stocks import StocksClient
from neural_trader.core.instruments import AssetClass
from neural_trader.core.orders import Order, OrderType, TimeInForce

VENUE = "robinhood"
CAPABILITIES = Capabilities(
    order_types=frozenset(OrderType),
    time_in_force=frozenset({TimeInForce.GTC, TimeInForce.DAY}),  # DAY: equities only
    asset_classes=frozenset({AssetClass.EQUITY, AssetClass.CRYPTO}),
    fractional=True,  # crypto in any size; equities as the account allows
    shorting=False,
    extended_hours=False,  # orders go for regular hours
    replace=False,
    market_data=False,
    sandbox=False,
    requests_per_s=100 / 60,  # the Crypto Trading API: 100 requests per minute
    burst=10,
    max_connections=1,  # robin-stocks keeps one global session per process
)


class RobinhoodBroker(Broker):
    capabilities = CAPABILITIES
    poll_interval_s = 2.0

    def __init__(
        self,
        crypto: CryptoClient | None = None,
        stocks: StocksClient | None = None,
        name: str = VENUE,
    ) -> None:
        if crypto is None and stocks is None:
            raise VenueError(
                f"{name} needs a crypto API key, an equities login, or both",
                Failure.AUTH,
                venue=name,
            )
        self.name = name
        self._crypto = crypto
        self._stocks = stocks

    def __repr__(self) -> str:
        sides = [s for s, c in (("crypto", self._crypto), ("equities", self._stocks)) if c]
        return f"RobinhoodBroker(name={self.name!r}, sides={sides})"

    def limit_rate(self, bucket: TokenBucket) -> None:
        if self._crypto is not None:
            self._crypto.bucket = bucket
        if self._stocks is not None:
            self._stocks.calls.bucket = bucket

    def _crypto_side(self, symbol: str) -> CryptoClient:
        if self._crypto is None:
            raise VenueError(
                f"{self.name} has no crypto API key configured for {symbol}",
                Failure.UNSUPPORTED,
                venue=self.name,
            )
        return self._crypto

    def _stocks_side(self, symbol: str) -> StocksClient:
        if self._stocks is None:
            raise VenueError(
                f"{self.name} has no equities login configured for {symbol}",
                Failure.UNSUPPORTED,
                venue=self.name,
            )
        return self._stocks

    async def connect(self) -> None:
        if self._crypto is not None:
            await self._crypto.open()
            await self._crypto.account()  # proves the key and the signature
        if self._stocks is not None:
            await self._stocks.connect()

    async def close(self) -> None:
        if self._crypto is not None:
            await self._crypto.close()
        if self._stocks is not None:
            await self._stocks.close()

    async def health(self) -> Health:
        started = time.perf_counter()
        await self.account()
        return Health(self.name, True, time.perf_counter() - started)

    async def account(self) -> Account:
        side = await (self._stocks.account() if self._stocks else self._crypto_side("").account())
        return Account(self.name, side.currency, side.cash, side.buying_power, side.equity)

    async def positions(self) -> list[VenuePosition]:
        out = [] if self._stocks is None else await self._stocks.positions()
        return out + ([] if self._crypto is None else await self._crypto.positions())

    async def place_order(self, order: Order) -> VenueOrder:
        if is_pair(order.symbol):
            return await self._crypto_side(order.symbol).place_order(order)
        return await self._stocks_side(order.symbol).place_order(order)

    async def cancel_order(self, client_order_id: str, symbol: str) -> None:
        if is_pair(symbol):
            await self._crypto_side(symbol).cancel_order(client_order_id)
        else:
            await self._stocks_side(symbol).cancel_order(client_order_id)

    async def get_order(self, client_order_id: str, symbol: str) -> VenueOrder | None:
        if is_pair(symbol):
            return await self._crypto_side(symbol).get_order(client_order_id)
        return await self._stocks_side(symbol).get_order(client_order_id)

    async def open_orders(self) -> list[VenueOrder]:
        out = [] if self._stocks is None else await self._stocks.open_orders()
        return out + ([] if self._crypto is None else await self._crypto.open_orders())

    async def fills(self, since_ns: int, symbols: Sequence[str]) -> list[VenueFill]:
        out = [] if self._stocks is None else await self._stocks.fills(since_ns)
        out += [] if self._crypto is None else await self._crypto.fills(since_ns)
        return sorted(out, key=lambda f: (f.ts, f.fill_id))
