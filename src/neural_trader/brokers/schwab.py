"""Charles Schwab (US equities) on its maintained SDK, ``schwab-py``, through the async client
(authlib's OAuth2 client over httpx). Schwab offers no paper-trading API, so
``paper_trading = true`` is refused rather than trading live under a paper flag.

Settings (``[brokers.schwab]``): ``api_key`` is the app key, ``api_secret`` the app secret, and
``extra`` holds the non-secret options:

* ``token_path`` (required): the token file schwab-py's login flow wrote. It is created once,
  interactively, with ``schwab.auth.client_from_login_flow(APP_KEY, APP_SECRET,
  CALLBACK_URL, TOKEN_PATH)`` (or ``client_from_manual_flow`` without a browser). The adapter
  reads it, and when authlib refreshes the access token it rewrites that same file (through
  a temporary file beside it) and nowhere else. The refresh token lasts 7 days; after that
  the login flow must be run again (a 401 says so).
* ``account_number`` or ``account_hash``: which account to trade. A number is turned into
  the hash the API wants through ``/accounts/accountNumbers``; with neither, the token must
  reach exactly one account.
* ``order_ids_path`` (optional): a JSON file where the adapter keeps our client order id ->
  Schwab order id, so that a restarted process still knows its orders.

**Client order ids.** Schwab's order has no client id field (``tag`` is set by Schwab, e.g.
``API_TOS:...``), so the adapter keeps the map itself, from the order id in the ``Location``
header of the 201 reply (in memory, and in ``order_ids_path`` when set). A second place of a
known id is refused as DUPLICATE. When a place's outcome is unknown (timeout, 5xx, dropped
connection, a 201 without ``Location``), the order is looked for among the account's orders
entered since it was sent, matched on everything it said (symbol, instruction, quantity,
type, prices, duration) and not claimed by another id of ours; the earliest such order is
adopted. Without ``order_ids_path``, orders placed before a restart are not ours any more
(they show up as foreign orders). One connection per venue (``max_connections = 1``): the map
and the token file are per process.

**Orders, fills.** Orders use schwab-py's equity templates (market, limit) and its
``OrderBuilder`` (stop, stop-limit), session NORMAL, DAY or GOOD_TILL_CANCEL. Schwab's order
filter takes one status while "open" spans fifteen, so open orders and fills are read from one
listing of the account's orders of the last 60 days (the API's limit) and filtered here; fills
are the execution legs of each order's FILL activities (see ``schwab_records.executions``).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import structlog
from authlib.common.errors import AuthlibBaseError
from authlib.deprecate import AuthlibDeprecationWarning
from pydantic import SecretStr

with warnings.catch_warnings():
    # schwab-py imports authlib's httpx integration, which warns (on every import, to
    # stderr) about its own coming rename: not ours to act on, and it broke one-line errors.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from schwab.auth import client_from_access_functions
    from schwab.client import AsyncClient
from schwab.orders import common as sc
from schwab.orders.equities import (
    equity_buy_limit,
    equity_buy_market,
    equity_sell_limit,
    equity_sell_market,
)
from schwab.orders.generic import OrderBuilder
from schwab.utils import Utils

from neural_trader.brokers import schwab_records as rec
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
    http_response,
    missing_order,
)
from neural_trader.brokers.resilience import TokenBucket
from neural_trader.core.instruments import AssetClass
from neural_trader.core.orders import Order, OrderSide, OrderType, TimeInForce
from neural_trader.errors import ConfigError

VENUE = rec.VENUE
STATUSES = rec.STATUSES
ERRORS = rec.ERRORS
CAPABILITIES = Capabilities(
    order_types=frozenset(OrderType),
    time_in_force=frozenset({TimeInForce.DAY, TimeInForce.GTC}),
    asset_classes=frozenset({AssetClass.EQUITY}),
    fractional=False,  # the Trader API takes whole shares
    shorting=False,  # a sell is SELL; SELL_SHORT / BUY_TO_COVER are not sent
    extended_hours=False,  # session NORMAL only
    replace=True,
    market_data=False,
    sandbox=False,
    requests_per_s=2.0,  # Schwab: 120 order requests per minute per account
    burst=5,
    max_connections=1,
)
TOKEN_HELP = (
    "schwab-py's login flow writes it: python -c \"import schwab; "
    "schwab.auth.client_from_login_flow('APP_KEY', 'APP_SECRET', 'https://127.0.0.1:8182', "
    "'{path}')\" (the callback URL must be the one registered for the app; "
    "client_from_manual_flow works without a browser)"
)
TD_AMERITRADE_NOTICE = (
    "TD Ameritrade's API was retired into Schwab's Trader API; venue {name!r} uses the schwab "
    "adapter (configure a Schwab app key, secret and token)"
)
LOOKBACK = timedelta(days=60)  # the furthest back Schwab lists orders
MATCH_SLACK = timedelta(minutes=2)  # enteredTime has whole seconds; clocks differ
_DURATIONS = {TimeInForce.DAY: sc.Duration.DAY, TimeInForce.GTC: sc.Duration.GOOD_TILL_CANCEL}
_TYPES = {
    OrderType.STOP: sc.OrderType.STOP,
    OrderType.STOP_LIMIT: sc.OrderType.STOP_LIMIT,
    OrderType.MARKET: sc.OrderType.MARKET,
    OrderType.LIMIT: sc.OrderType.LIMIT,
}
log = structlog.get_logger("neural_trader.brokers")


def td_ameritrade_notice(name: str) -> None:
    """Said once per build of a ``td_ameritrade`` venue, which the registry maps to Schwab."""
    log.warning(TD_AMERITRADE_NOTICE.format(name=name), venue=name, adapter=VENUE)


def _price(value: Decimal | None) -> str:
    if value is None or not value.is_finite() or value <= 0:
        raise VenueError(
            f"{VENUE} needs a positive price, got {value}", Failure.INVALID, venue=VENUE
        )
    return format(value.normalize(), "f")


def order_spec(order: Order) -> dict[str, Any]:
    """Schwab's order JSON for ``order`` (whole shares, prices as exact strings)."""
    if order.quantity != order.quantity.to_integral_value():
        raise VenueError(
            f"{VENUE} takes whole shares, got {order.quantity}",
            Failure.UNSUPPORTED,
            order=order.client_order_id,
        )
    qty = int(order.quantity)
    buy = order.side is OrderSide.BUY
    kind = order.order_type
    builder: OrderBuilder
    if kind is OrderType.MARKET:
        builder = (equity_buy_market if buy else equity_sell_market)(order.symbol, qty)
    elif kind is OrderType.LIMIT:
        limit = _price(order.limit_price)
        builder = (equity_buy_limit if buy else equity_sell_limit)(order.symbol, qty, limit)
    else:
        instruction = sc.EquityInstruction.BUY if buy else sc.EquityInstruction.SELL
        builder = (
            OrderBuilder()
            .set_order_type(_TYPES[kind])
            .set_session(sc.Session.NORMAL)
            .set_order_strategy_type(sc.OrderStrategyType.SINGLE)
            .set_stop_price(_price(order.stop_price))
            .add_equity_leg(instruction, order.symbol, qty)
        )
        if kind is OrderType.STOP_LIMIT:
            builder.set_price(_price(order.limit_price))
    duration = _DURATIONS.get(order.time_in_force)
    if duration is None:
        raise VenueError(
            f"{VENUE} takes DAY or GTC, got {order.time_in_force.value}",
            Failure.UNSUPPORTED,
            order=order.client_order_id,
        )
    spec: dict[str, Any] = builder.set_duration(duration).build()
    return spec


def same_order(spec: Mapping[str, Any], seen: Mapping[str, Any]) -> bool:
    """Whether Schwab's order ``seen`` says everything ``spec`` (ours) said."""
    legs, mine = seen.get("orderLegCollection"), spec["orderLegCollection"][0]
    if not isinstance(legs, list) or len(legs) != 1 or not isinstance(legs[0], Mapping):
        return False
    leg = legs[0]
    instrument = leg.get("instrument")
    symbol = instrument.get("symbol") if isinstance(instrument, Mapping) else None
    try:
        numbers_match = all(
            (spec.get(k) is None) == (seen.get(k) is None)
            and (spec.get(k) is None or Decimal(str(spec[k])) == Decimal(str(seen[k])))
            for k in ("price", "stopPrice")
        ) and Decimal(str(leg.get("quantity"))) == Decimal(mine["quantity"])
    except ArithmeticError:
        return False
    return (
        numbers_match
        and symbol == mine["instrument"]["symbol"]
        and leg.get("instruction") == mine["instruction"]
        and seen.get("orderType") == spec["orderType"]
        and seen.get("duration") == spec["duration"]
    )


class OrderIds:
    """Our client order ids and Schwab's order ids, both ways, optionally kept in a file; and
    the sends whose outcome is not known yet (the spec and when it went out)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.venue_ids: dict[str, str] = {}
        self.ours: dict[str, str] = {}
        self.pending: dict[str, tuple[dict[str, Any], datetime]] = {}

    def load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise VenueError(
                f"{VENUE}: order id file {self.path} cannot be read ({exc}); fix or move it",
                Failure.INVALID,
                venue=VENUE,
            ) from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise VenueError(
                f"{VENUE}: order id file {self.path} is not a JSON object of ids",
                Failure.INVALID,
                venue=VENUE,
            )
        for cid, oid in data.items():
            self.remember(str(cid), oid, save=False)

    def check_writable(self) -> None:
        """Write the file once at connect, so that a folder we cannot write to is an error
        before any order is placed rather than after."""
        if self.path is None:
            return
        try:
            self._save()
        except OSError as exc:
            raise VenueError(
                f"{VENUE}: order id file {self.path} cannot be written ({exc})",
                Failure.INVALID,
                venue=VENUE,
            ) from None

    def _save(self) -> None:
        if self.path is not None:
            _write_atomically(self.path, json.dumps(self.venue_ids, indent=1))

    def remember(self, cid: str, oid: str, save: bool = True) -> None:
        self.venue_ids[cid] = oid
        self.ours[oid] = cid
        self.pending.pop(cid, None)
        if not save:
            return
        try:
            self._save()
        except OSError as exc:  # the order exists and is known here; only a restart loses it
            log.error(
                "schwab order id file not written", path=str(self.path), order=cid, error=str(exc)
            )


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, so that a crash
    never leaves half a file (a token or the id map)."""
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class SchwabBroker(Broker):
    capabilities = CAPABILITIES
    poll_interval_s = 3.0  # each poll lists orders twice; 120 requests a minute in all

    def __init__(
        self,
        api_key: SecretStr,
        api_secret: SecretStr,
        token_path: Path,
        account_number: str | None = None,
        account_hash: str | None = None,
        order_ids_path: Path | None = None,
        paper: bool = False,
        timeout_s: float = 10.0,
        name: str = VENUE,
    ) -> None:
        self.name = name
        if paper:
            raise VenueError(
                f"{name}: Schwab offers no paper-trading API, so paper_trading = true cannot be "
                "honoured; set paper_trading = false to trade live with real funds, or trade "
                "on the simulated 'paper' venue",
                Failure.UNSUPPORTED,
                venue=name,
            )
        self.token_path = token_path
        self.ids = OrderIds(order_ids_path)
        self._key = api_key
        self._secret = api_secret
        self._number = account_number
        self._hash = account_hash
        self._timeout_s = timeout_s
        self._bucket: TokenBucket | None = None
        self._client: AsyncClient | None = None

    def __repr__(self) -> str:
        return f"SchwabBroker(name={self.name!r}, token_path={str(self.token_path)!r})"

    def limit_rate(self, bucket: TokenBucket) -> None:
        self._bucket = bucket

    # -- the token file -----------------------------------------------------------------------
    def _read_token(self) -> Any:
        path = self.token_path
        help_text = TOKEN_HELP.format(path=path)
        if not path.is_file():
            raise VenueError(
                f"{self.name}: Schwab token file {path} does not exist; {help_text}",
                Failure.AUTH,
                venue=self.name,
            )
        try:
            token = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise VenueError(
                f"{self.name}: Schwab token file {path} cannot be read "
                f"({type(exc).__name__}); delete it; {help_text}",
                Failure.AUTH,
                venue=self.name,
            ) from None
        if not isinstance(token, dict) or not isinstance(token.get("token"), dict):
            raise VenueError(
                f"{self.name}: {path} is not a schwab-py token file (it lacks 'token' and "
                f"'creation_timestamp'); {help_text}",
                Failure.AUTH,
                venue=self.name,
            )
        return token

    def _write_token(self, token: Any, *args: Any, **kwargs: Any) -> None:
        """authlib refreshed the access token: keep it in the user's token file. A failed
        write is said, not raised: the refreshed token is in memory, and the refresh token in
        the file stays valid for its 7 days."""
        try:
            _write_atomically(self.token_path, json.dumps(token))
        except OSError as exc:
            log.error("schwab token file not written", path=str(self.token_path), error=str(exc))

    # -- sending ------------------------------------------------------------------------------
    @property
    def client(self) -> AsyncClient:
        if self._client is None:
            raise VenueError(f"{self.name} is not connected", Failure.UNAVAILABLE, venue=self.name)
        return self._client

    @property
    def account_hash(self) -> str:
        if self._hash is None:
            raise VenueError(f"{self.name} is not connected", Failure.UNAVAILABLE, venue=self.name)
        return self._hash

    async def _send(self, call: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
        """One request, bounded by ``timeout_s``, its failure as one of ours."""
        if self._bucket is not None:
            await self._bucket.acquire()
        try:
            resp = await http_response(call, self.name, self._timeout_s)
        except AuthlibBaseError as exc:  # the token refresh was refused
            raise VenueError(
                f"{self.name}: the Schwab token in {self.token_path} could not be refreshed "
                f"({exc.error}); the refresh token lasts 7 days, after which the token must be "
                "made again: " + TOKEN_HELP.format(path=self.token_path),
                Failure.AUTH,
                venue=self.name,
            ) from None
        if resp.is_error:
            raise rec.error_from(resp)
        return resp

    async def _json(self, call: Callable[[], Awaitable[httpx.Response]], what: str) -> Any:
        return rec.read_json(await self._send(call), what)

    # -- the port -----------------------------------------------------------------------------
    async def connect(self) -> None:
        token = self._read_token()
        try:
            client = client_from_access_functions(
                self._key.get_secret_value(),
                self._secret.get_secret_value(),
                lambda: token,
                self._write_token,
                asyncio=True,
            )
        except ValueError as exc:  # schwab-py refuses a token of an older format
            raise VenueError(
                f"{self.name}: {exc} ({self.token_path}); "
                + TOKEN_HELP.format(path=self.token_path),
                Failure.AUTH,
                venue=self.name,
            ) from None
        client.set_timeout(self._timeout_s)
        await self.close()
        self._client = client
        self.ids.load()
        self.ids.check_writable()
        if self._hash is None or self._number is not None:
            rows = await self._json(client.get_account_numbers, "account numbers")
            self._hash = rec.account_hash(rows, self._number)
        await self.account()  # proves the token and the account

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close_async_session()

    async def health(self) -> Health:
        started = time.perf_counter()
        await self._json(self.client.get_account_numbers, "account numbers")
        return Health(self.name, True, time.perf_counter() - started)

    async def account(self) -> Account:
        data = await self._json(lambda: self.client.get_account(self.account_hash), "account")
        cash, power, equity = rec.balances(data)
        return Account(self.name, "USD", cash, power, equity)

    async def positions(self) -> list[VenuePosition]:
        fields = [AsyncClient.Account.Fields.POSITIONS]
        data = await self._json(
            lambda: self.client.get_account(self.account_hash, fields=fields), "account"
        )
        return rec.positions(data)

    async def place_order(self, order: Order) -> VenueOrder:
        cid = order.client_order_id
        spec = order_spec(order)
        known = cid in self.ids.venue_ids
        if known or (cid in self.ids.pending and await self._find_sent(cid) is not None):
            raise VenueError(
                f"{self.name} already has order {cid} ({self.ids.venue_ids[cid]})",
                Failure.DUPLICATE,
                venue=self.name,
                order=cid,
            )
        self.ids.pending[cid] = (spec, datetime.now(UTC))
        try:
            resp = await self._send(lambda: self.client.place_order(self.account_hash, spec))
        except VenueError as exc:
            if not exc.transient:
                self.ids.pending.pop(cid, None)  # the venue said no: nothing was made
            raise
        return await self._placed(cid, order, resp)

    async def _placed(self, cid: str, order: Order, resp: httpx.Response) -> VenueOrder:
        try:
            oid = Utils(self.client, self.account_hash).extract_order_id(resp)
        except ValueError as exc:  # a Location of another account
            raise rec.malformed(f"placed {cid} under an unexpected Location: {exc}") from None
        if oid is None:  # accepted without saying where: look for it
            found = await self._find_sent(cid)
            if found is None:
                raise rec.malformed(
                    f"accepted {cid} without a Location header; it is matched on the next look-up",
                    order=cid,
                )
            return found
        self.ids.remember(cid, str(oid))
        return VenueOrder.acknowledged(order, str(oid))  # Schwab answers with the id only

    async def _orders(self, since: datetime) -> list[Mapping[str, Any]]:
        client, account = self.client, self.account_hash
        data = await self._json(
            lambda: client.get_orders_for_account(account, from_entered_datetime=since), "orders"
        )
        rows = rec.listed(data, "orders")
        return [rec.mapping(r, "order") for r in rows]

    async def _find_sent(self, cid: str) -> VenueOrder | None:
        """The order a send of unknown outcome made, if Schwab has it (see the module doc)."""
        spec, sent = self.ids.pending[cid]
        candidates = [
            row
            for row in await self._orders(sent - MATCH_SLACK)
            if same_order(spec, row)
            and str(row.get("orderId")) not in self.ids.ours
            and rec.entered_ns(row) >= int((sent - MATCH_SLACK).timestamp()) * 10**9
        ]
        if not candidates:
            return None
        row = min(candidates, key=rec.entered_ns)
        self.ids.remember(cid, str(row["orderId"]))
        return rec.read_order(row, cid)

    async def _raw_order(self, client_order_id: str) -> Mapping[str, Any] | None:
        oid = self.ids.venue_ids.get(client_order_id)
        if oid is None:
            return None
        try:
            data = await self._json(lambda: self.client.get_order(oid, self.account_hash), "order")
        except VenueError as exc:
            if exc.failure is Failure.NOT_FOUND:
                return None
            raise
        return rec.mapping(data, "order")

    async def get_order(self, client_order_id: str, symbol: str = "") -> VenueOrder | None:
        if client_order_id not in self.ids.venue_ids and client_order_id in self.ids.pending:
            return await self._find_sent(client_order_id)
        data = await self._raw_order(client_order_id)
        return None if data is None else rec.read_order(data, client_order_id)

    async def cancel_order(self, client_order_id: str, symbol: str = "") -> None:
        oid = self.ids.venue_ids.get(client_order_id) or await self.venue_order_id(client_order_id)
        await self._send(lambda: self.client.cancel_order(oid, self.account_hash))

    async def replace_order(
        self,
        client_order_id: str,
        new_client_order_id: str,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> VenueOrder:
        """Schwab replaces by cancelling the old order and making a new one (its id in the
        ``Location`` header), so the whole order is sent again with the changes."""
        if new_client_order_id in self.ids.venue_ids:
            raise VenueError(
                f"{self.name} already has order {new_client_order_id}",
                Failure.DUPLICATE,
                venue=self.name,
                order=new_client_order_id,
            )
        raw = await self._raw_order(client_order_id)
        if raw is None:
            raise missing_order(self.name, client_order_id)
        old = rec.read_order(raw, client_order_id)
        tif = {"DAY": TimeInForce.DAY, "GOOD_TILL_CANCEL": TimeInForce.GTC}.get(
            str(raw.get("duration"))
        )
        if tif is None:
            raise VenueError(
                f"{self.name} cannot replace {client_order_id}: its duration "
                f"{raw.get('duration')!r} is not DAY or GOOD_TILL_CANCEL",
                Failure.UNSUPPORTED,
                venue=self.name,
                order=client_order_id,
            )
        new = Order(
            new_client_order_id,
            "",
            old.symbol,
            old.side,
            quantity if quantity is not None else old.quantity,
            old.order_type,
            limit_price if limit_price is not None else old.limit_price,
            stop_price if stop_price is not None else old.stop_price,
            tif,
        )
        spec = order_spec(new)
        oid = old.venue_order_id
        self.ids.pending[new_client_order_id] = (spec, datetime.now(UTC))
        try:
            resp = await self._send(lambda: self.client.replace_order(self.account_hash, oid, spec))
        except VenueError as exc:
            if not exc.transient:
                self.ids.pending.pop(new_client_order_id, None)
            raise
        return await self._placed(new_client_order_id, new, resp)

    async def _listing(self) -> list[tuple[Mapping[str, Any], str | None]]:
        """The account's orders of the last 60 days with our client id where they are ours;
        of the others, only those this adapter could have placed (``rec.expressible``)."""
        out = []
        for row in await self._orders(datetime.now(UTC) - LOOKBACK):
            cid = self.ids.ours.get(str(row.get("orderId")))
            if cid is not None or rec.expressible(row):
                out.append((row, cid))
        return out

    async def open_orders(self) -> list[VenueOrder]:
        out = []
        for row, cid in await self._listing():
            order = rec.read_order(row, cid or "")
            if order.is_open:
                out.append(order)
        return out

    async def fills(self, since_ns: int, symbols: Sequence[str]) -> list[VenueFill]:
        out: list[VenueFill] = []
        for row, cid in await self._listing():
            out += rec.read_fills(row, cid, since_ns)
        return sorted(out, key=lambda f: f.ts)


def build_schwab(
    name: str,
    api_key: SecretStr,
    api_secret: SecretStr,
    paper: bool,
    base_url: str | None,
    extra: Mapping[str, str],
    timeout_s: float,
) -> SchwabBroker:
    """A Schwab adapter from ``[brokers.NAME]`` settings, every ``extra`` key checked."""
    known = {"token_path", "account_number", "account_hash", "order_ids_path"}
    unknown = sorted(set(extra) - known)
    if unknown:
        raise ConfigError(
            f"brokers.{name}.extra has unknown keys {unknown}; Schwab takes {sorted(known)}"
        )
    if base_url is not None:
        raise ConfigError(f"brokers.{name}.base_url is not used: schwab-py knows Schwab's endpoint")
    token = extra.get("token_path")
    if not token:
        raise ConfigError(
            f"brokers.{name}.extra.token_path is not set: name the schwab-py token file; "
            + TOKEN_HELP.format(path="schwab-token.json")
        )
    ids = extra.get("order_ids_path")
    return SchwabBroker(
        api_key,
        api_secret,
        Path(token).expanduser(),
        account_number=extra.get("account_number") or None,
        account_hash=extra.get("account_hash") or None,
        order_ids_path=Path(ids).expanduser() if ids else None,
        paper=paper,
        timeout_s=timeout_s,
        name=name,
    )
