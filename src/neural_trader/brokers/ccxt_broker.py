"""The broker port over one ccxt sync client, run in a worker thread through ``SyncCalls``.

What is the same on every ccxt venue lives here: connecting (load the markets, then prove the
keys with a balance read), the account and spot positions from the balances, and refusing a
quantity or price the market's lot or tick would silently round (ccxt truncates to precision;
we would send less than asked). ccxt's order and trade structures are read by
``ccxt_records``. What differs per venue (how an order is expressed, how an order is found by
its client id, how fills are paged, whether a sandbox exists) is a hook each venue fills in.

Spot only: a balance of an asset other than the account currency is a long position in that
asset's pair (see ``SymbolMap.for_asset``); nothing is ever short. A placement the venue
acknowledges with an id only (Kraken, Coinbase) is SUBMITTED; its state comes with the next
update.
"""

from __future__ import annotations

import re
import time
from abc import abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from pydantic import SecretStr

from neural_trader.brokers.base import (
    Account,
    Broker,
    ErrorRule,
    Failure,
    Health,
    StatusTable,
    SyncCalls,
    VenueError,
    VenueFill,
    VenueOrder,
    VenuePosition,
)
from neural_trader.brokers.ccxt_common import CcxtTransport, exact, new_exchange, translate
from neural_trader.brokers.ccxt_ids import ClientIds, SymbolMap, unified
from neural_trader.brokers.ccxt_records import read_fill, read_order
from neural_trader.core.instruments import Instrument
from neural_trader.core.orders import Order, OrderType, TimeInForce

T = TypeVar("T")


class CcxtBroker(Broker):
    """One client of one ccxt venue. Subclasses set the class attributes and the hooks."""

    exchange_id: ClassVar[str]
    statuses: ClassVar[StatusTable]
    error_rules: ClassVar[tuple[ErrorRule, ...]] = ()
    client_ids: ClassVar[re.Pattern[str]]
    default_currency: ClassVar[str]
    options: ClassVar[Mapping[str, Any]] = {}
    # Where the venue takes our client order id and a stop's trigger price.
    client_id_param: ClassVar[str] = "clientOrderId"
    stop_param: ClassVar[str] = "triggerPrice"

    def __init__(
        self,
        api_key: SecretStr,
        api_secret: SecretStr,
        paper: bool = True,
        timeout_s: float = 10.0,
        name: str | None = None,
        currency: str | None = None,
        instruments: Collection[Instrument] = (),
    ) -> None:
        self.name = name or self.exchange_id
        if paper and not self.capabilities.sandbox:
            raise VenueError(
                f"{self.name}: {self.exchange_id} has no sandbox or testnet that ccxt can reach, "
                "so paper_trading = true cannot be honoured; set paper_trading = false to trade "
                "live with real funds, or trade on the simulated 'paper' venue",
                Failure.UNSUPPORTED,
                venue=self.name,
            )
        self.paper = paper
        self.currency = (currency or self.default_currency).upper()
        self.symbols = SymbolMap(self.name, instruments)
        self.ids = ClientIds(self.client_ids)
        self._key = api_key
        self._secret = api_secret
        self._timeout_s = timeout_s
        self._calls = SyncCalls(self.name, self._translate, timeout_s)
        self._exchange: Any = None
        self._transport: CcxtTransport | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, paper={self.paper})"

    # -- running ccxt -------------------------------------------------------------------------
    def _translate(
        self, exc: Exception, status: int | None = None, reply: str | None = None
    ) -> VenueError:
        secrets = (self._key.get_secret_value(), self._secret.get_secret_value())
        return translate(exc, self.name, self.error_rules, secrets, status, reply, self.exchange_id)

    def _guarded(self, fn: Callable[..., T], *args: Any) -> T:
        """Runs in the worker thread: the status of this call's last reply goes with its error
        (read here, before another call can send)."""
        transport = self._transport
        if transport is not None:
            transport.last_status = transport.last_body = None
        try:
            return fn(*args)
        except VenueError:
            raise
        except Exception as exc:
            # not chained: ccxt's message holds the request URL (Binance signs in the query)
            if transport is None:
                raise self._translate(exc) from None
            raise self._translate(exc, transport.last_status, transport.last_body) from None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._calls.run(self._guarded, fn, *args)

    @property
    def exchange(self) -> Any:
        if self._exchange is None:
            raise VenueError(f"{self.name} is not connected", Failure.UNAVAILABLE, venue=self.name)
        return self._exchange

    def configure(self, exchange: Any) -> None:
        """Venue hook: adjust a new client (sandbox URLs, features to skip)."""

    def _load_markets(self) -> None:
        self.exchange.load_markets()
        self.exchange.number = str  # from now on numbers arrive as the venue wrote them

    # -- the port -----------------------------------------------------------------------------
    async def connect(self) -> None:
        exchange, self._transport = new_exchange(
            self.exchange_id,
            self._key.get_secret_value(),
            self._secret.get_secret_value(),
            self._timeout_s,
            self.options,
        )
        self.configure(exchange)
        self._exchange = exchange
        await self.run(self._load_markets)
        await self.account()  # proves the keys work

    async def close(self) -> None:
        exchange, self._exchange = self._exchange, None
        if exchange is not None:
            exchange.session.close()

    async def health(self) -> Health:
        started = time.perf_counter()
        stamp = await self.run(self.exchange.fetch_time)
        return Health(self.name, True, time.perf_counter() - started, f"server time {stamp}")

    async def _balances(self) -> dict[str, Any]:
        balances = await self.run(self.exchange.fetch_balance)
        if not isinstance(balances, dict) or not isinstance(balances.get("total"), dict):
            raise VenueError(f"{self.name} balances are not an object", Failure.MALFORMED)
        return balances

    async def account(self) -> Account:
        entry = (await self._balances()).get(self.currency) or {}
        cash = exact(entry.get("total", "0"), f"{self.currency} total", self.name)
        free = entry.get("free")
        return Account(
            venue=self.name,
            currency=self.currency,
            cash=cash,
            buying_power=cash if free is None else exact(free, "free", self.name),
        )

    async def positions(self) -> list[VenuePosition]:
        out = []
        for code, total in sorted((await self._balances())["total"].items()):
            if code == self.currency:
                continue
            quantity = exact(total, f"{code} total", self.name)
            if quantity:
                out.append(VenuePosition(self.symbols.for_asset(code, self.currency), quantity))
        return out

    async def place_order(self, order: Order) -> VenueOrder:
        market = self.market(order.symbol)
        venue_id = self.ids.to_venue(order.client_order_id)
        if order.order_type is OrderType.MARKET and order.time_in_force is TimeInForce.FOK:
            raise self._refuse(order, "market orders execute at once; fill-or-kill is not offered")
        amount = self._precise(market, order.quantity, "amount", order)
        price = None if order.limit_price is None else self._precise(market, order.limit_price)
        stop = None if order.stop_price is None else self._precise(market, order.stop_price)
        kind, params = self.order_request(order, venue_id, amount, price, stop)
        side = order.side.value
        if kind == "market":
            price = None  # a price on a market order would make ccxt spend quote currency
        raw = await self.run(self.exchange.create_order, market, kind, side, amount, price, params)
        self.placed(order, raw)
        if isinstance(raw, dict) and raw.get("status") is None and raw.get("id"):
            return self._acknowledged(order, str(raw["id"]))
        return self.parse_order(raw)

    async def get_order(self, client_order_id: str, symbol: str) -> VenueOrder | None:
        raw = await self.find_order(self.ids.to_venue(client_order_id), self.market(symbol))
        return None if raw is None else self.parse_order(raw)

    async def cancel_order(self, client_order_id: str, symbol: str) -> None:
        await self.cancel(self.ids.to_venue(client_order_id), self.market(symbol))

    async def open_orders(self) -> list[VenueOrder]:
        rows = await self.list_open()
        return [self.parse_order(row) for row in rows]

    async def fills(self, since_ns: int, symbols: Sequence[str]) -> list[VenueFill]:
        # A symbol the venue lists no market for can have no trades there: it is skipped.
        markets = sorted({m for s in symbols if (m := self._listed(s)) is not None})
        trades = await self.list_trades(since_ns // 1_000_000, markets)
        out = {}
        for trade in trades:
            fill = self.parse_fill(trade)
            if fill.ts >= since_ns:
                out[fill.fill_id] = fill
        return sorted(out.values(), key=lambda f: (f.ts, f.fill_id))

    # -- venue hooks --------------------------------------------------------------------------
    def order_request(
        self,
        order: Order,
        venue_id: str,
        amount: str,
        price: str | None,
        stop: str | None,
    ) -> tuple[str, dict[str, Any]]:
        """ccxt's order type (``market``/``limit``) and the params that say the rest: the client
        order id in ``client_id_param``, time in force for limits, the stop in ``stop_param``.
        A venue whose orders are shaped otherwise (Coinbase) overrides this."""
        params: dict[str, Any] = {self.client_id_param: venue_id}
        limit = order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        if limit:
            params["timeInForce"] = order.time_in_force.value.upper()
        if order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
            params[self.stop_param] = stop
        return ("limit" if limit else "market"), params

    def placed(self, order: Order, raw: Any) -> None:
        """Venue hook: note what the venue answered to a placement."""

    @abstractmethod
    async def find_order(self, venue_id: str, market: str) -> dict[str, Any] | None:
        """The venue's order with client id ``venue_id`` as ccxt parses it, or None."""

    @abstractmethod
    async def cancel(self, venue_id: str, market: str) -> None: ...

    async def list_open(self) -> list[Any]:
        rows = await self.run(self.exchange.fetch_open_orders)
        return self._list(rows, "open orders")

    @abstractmethod
    async def list_trades(self, since_ms: int, markets: Sequence[str]) -> list[Any]:
        """The account's trades since ``since_ms`` (in ``markets`` where the venue needs them)."""

    # -- reading ccxt's structures ------------------------------------------------------------
    def market(self, symbol: str) -> str:
        """ccxt's symbol for ours, checked against the venue's markets."""
        pair = unified(symbol)
        if pair is None:
            raise VenueError(
                f"{symbol!r} is not a crypto pair (write BASE/QUOTE or BASE-QUOTE)",
                Failure.INVALID,
                venue=self.name,
                symbol=symbol,
            )
        markets = self.exchange.markets or {}
        if pair not in markets:
            base, _, quote = pair.partition("/")
            pair = f"{self.exchange.safe_currency_code(base)}/{quote}"  # Kraken: XBT is BTC
        if pair not in markets:
            raise VenueError(
                f"{self.name} lists no market {pair} (for {symbol})",
                Failure.INVALID,
                venue=self.name,
                symbol=symbol,
            )
        self.symbols.learn(symbol, pair)
        return pair

    def _listed(self, symbol: str) -> str | None:
        try:
            return self.market(symbol)
        except VenueError as exc:
            if exc.failure is Failure.INVALID:
                return None
            raise

    def _precise(self, market: str, value: Decimal, kind: str = "price", order: Any = None) -> str:
        """``value`` as the venue's precision writes it, refused if that would change it."""
        to_precision = getattr(self.exchange, f"{kind}_to_precision")
        written = str(to_precision(market, str(value)))
        if Decimal(written) != value:
            step = format(Decimal(str(self.exchange.markets[market]["precision"][kind])), "f")
            raise VenueError(
                f"{self.name} {market}: {kind} {value} is not a multiple of {step}",
                Failure.INVALID,
                venue=self.name,
                order=getattr(order, "client_order_id", ""),
            )
        return written

    def _refuse(self, order: Order, why: str) -> VenueError:
        return VenueError(
            f"{self.name}: {why}", Failure.UNSUPPORTED, venue=self.name, order=order.client_order_id
        )

    def _list(self, rows: Any, what: str) -> list[Any]:
        if not isinstance(rows, list):
            raise VenueError(f"{self.name} {what} is not a list", Failure.MALFORMED)
        return rows

    def _acknowledged(self, order: Order, venue_order_id: str) -> VenueOrder:
        """A placement the venue acknowledged with an id only (Kraken, Coinbase): submitted,
        its state comes with the next update."""
        return VenueOrder.acknowledged(order, venue_order_id)

    def parse_order(self, raw: Any) -> VenueOrder:
        return read_order(raw, self.name, self.statuses, self.symbols, self.ids)

    def parse_fill(self, raw: Any) -> VenueFill:
        return read_fill(raw, self.name, self.symbols, self.exchange.markets)
