"""Robinhood equities through ``robin-stocks`` (sync, over ``requests``), run in a worker thread
by :class:`~neural_trader.brokers.base.SyncCalls`.

robin-stocks keeps **one global session** (``robin_stocks.robinhood.globals.SESSION``: the
bearer token, the login state); two logins in one process would share and overwrite it. So
there is one equities client per process: a second one refuses to connect while the first is
open (the broker's ``max_connections`` is 1 for the same reason).

What the adapter changes around the library, and why:

* **Failures.** robin-stocks prints an HTTP error and returns ``None`` (or a partial list). A
  transport adapter mounted on its session records every failed exchange of a call; after the
  call the first one is raised as a :class:`VenueError`, so nothing is swallowed. The same
  adapter gives every request ``timeout_s`` (the library's GETs have none) and never retries.
* **Login** (username, password, TOTP code from the MFA secret through ``pyotp``) never writes
  a session pickle unless ``session_path`` is set: otherwise the library runs against a
  throwaway directory, so it neither creates ``~/.tokens`` nor deletes a pickle found there.
  Robinhood's device-verification workflow (approve in the app, or type an SMS code) needs a
  person; robin-stocks would block on ``input()``, so the adapter stops it and says so.
* **Orders** are posted with the payload robin-stocks' ``order()`` builds (form version 4),
  except that ``ref_id`` is the UUID-5 of our client order id instead of a random one, so a retry
  is recognised by the venue, and prices go as exact decimal strings. A market buy is sent the
  way robin-stocks and the app send it, a limit collared 5 % over the ask.
  Lookup by our id: the venue id seen at placement, else a scan of the newest orders for the
  ``ref_id`` (:data:`SCAN_PAGES` pages).
* **Fills** are the ``executions`` inside each order, each with the venue's own id.
"""

from __future__ import annotations

import functools
import io
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import pyotp
import requests
import robin_stocks.robinhood as rh
import robin_stocks.robinhood.helper as rh_helper
from pydantic import SecretStr
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

from neural_trader.brokers.base import (
    Account,
    ErrorRule,
    Failure,
    StatusTable,
    SyncCalls,
    VenueError,
    VenueFill,
    VenueOrder,
    VenuePosition,
    classify,
    decimal_field,
    iso_ns,
    missing_order,
    optional_decimal,
    reply_object,
)
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce

T = TypeVar("T")
VENUE = "robinhood"
API = "https://api.robinhood.com"
SCAN_PAGES = 3
OPEN_LOOKBACK_S = 91 * 86400  # Robinhood expires GTC orders after 90 days
S = OrderStatus
# Robinhood's equity order states (robin-stocks' docs and the orders API's replies).
STATUSES = StatusTable(
    VENUE,
    {
        "queued": S.SUBMITTED,
        "unconfirmed": S.SUBMITTED,
        "confirmed": S.ACCEPTED,
        "partially_filled": S.PARTIALLY_FILLED,
        "filled": S.FILLED,
        "cancelled": S.CANCELED,
        "canceled": S.CANCELED,
        "voided": S.CANCELED,  # withdrawn by Robinhood (corporate action, halted symbol)
        "rejected": S.REJECTED,
        "failed": S.REJECTED,
    },
)
# Replies: {"detail": "..."} or {"non_field_errors": ["..."]} or {"field": ["..."]}.
ERRORS = (
    ErrorRule(Failure.DUPLICATE, contains="ref_id"),  # we always send a valid UUID: it is taken
    ErrorRule(Failure.INSUFFICIENT_FUNDS, contains="buying power"),
    ErrorRule(Failure.INSUFFICIENT_FUNDS, contains="not enough shares"),
    ErrorRule(Failure.AUTH, contains="unable to log in"),
    ErrorRule(Failure.RATE_LIMITED, status=429),
    ErrorRule(Failure.AUTH, status=401),
    ErrorRule(Failure.AUTH, status=403, contains="credentials"),
    ErrorRule(Failure.REJECTED, status=403),
    ErrorRule(Failure.NOT_FOUND, status=404),
    ErrorRule(Failure.REJECTED, status=400),
)
_NAMESPACE = uuid.UUID("3c1e9a7b-2d5f-5e8a-b4c6-7f0d1e2a3b4c")
_SIDES = {"buy": OrderSide.BUY, "sell": OrderSide.SELL}
_TYPES = {
    ("market", "immediate"): OrderType.MARKET,
    ("limit", "immediate"): OrderType.LIMIT,
    ("market", "stop"): OrderType.STOP,
    ("limit", "stop"): OrderType.STOP_LIMIT,
}
_TIF = {TimeInForce.GTC: "gtc", TimeInForce.DAY: "gfd"}
_log = logging.getLogger(__name__)
_owner_lock = threading.Lock()
_owner: list[StocksClient] = []  # the one client that holds robin-stocks' session


def ref_id(client_order_id: str) -> str:
    """The UUID the venue knows our order by."""
    return str(uuid.uuid5(_NAMESPACE, client_order_id))


def _malformed(what: str) -> VenueError:
    return VenueError(f"{VENUE} equities {what}", Failure.MALFORMED, venue=VENUE)


_mapping = functools.partial(reply_object, venue=VENUE, label=f"{VENUE} equities")


def _list(data: Any, what: str) -> list[Any]:
    if not isinstance(data, list) or None in data:
        raise _malformed(f"{what} is not a list")
    return data


def translate_response(response: Response) -> VenueError:
    message = response.text[:300]
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        parts = []
        for key, value in body.items():
            text = "; ".join(map(str, value)) if isinstance(value, list) else str(value)
            parts.append(text if key in ("detail", "non_field_errors") else f"{key}: {text}")
        message = "; ".join(parts) or message
    failure = classify(ERRORS, response.status_code, None, message)
    return VenueError(
        f"{VENUE} equities: {message[:300]}", failure, venue=VENUE, status=response.status_code
    )


def translate(exc: Exception) -> VenueError:
    """A library or transport exception as one of ours (never a header or a payload)."""
    if isinstance(exc, requests.Timeout):
        return VenueError(f"{VENUE} timed out: {type(exc).__name__}", Failure.TIMEOUT, venue=VENUE)
    if isinstance(exc, requests.ConnectionError):
        return VenueError(f"{VENUE} connection failed", Failure.UNAVAILABLE, venue=VENUE)
    if isinstance(exc, ValueError):  # requests' JSONDecodeError: a reply that is not JSON
        return _malformed("sent a reply that is not JSON")
    if "can only be called when logged in" in str(exc):
        return VenueError(f"{VENUE} equities is not logged in", Failure.AUTH, venue=VENUE)
    return _malformed(f"reply could not be read: {type(exc).__name__}")


class _Recorder(HTTPAdapter):
    """Bounds every request and remembers the failures robin-stocks would swallow."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(max_retries=0)
        self.timeout_s = timeout_s
        self.failures: list[VenueError] = []

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> Response:
        try:
            response = super().send(
                request, stream, self.timeout_s, verify, cert, dict(proxies or {})
            )
        except requests.RequestException as exc:
            self.failures.append(translate(exc))
            raise
        if response.status_code >= 400:
            self.failures.append(translate_response(response))
        elif request.url == rh.urls.login_url() and "verification_workflow" in response.text:
            failure = VenueError(
                f"{VENUE} asks to verify this device (approve it in the Robinhood app or log in "
                "once interactively with a session_path); a server cannot answer the challenge",
                Failure.AUTH,
                venue=VENUE,
            )
            self.failures.append(failure)
            raise failure  # robin-stocks would otherwise wait on input()
        return response


class _DebugStream(io.TextIOBase):
    """robin-stocks' printed messages, as debug log lines."""

    def write(self, text: str) -> int:
        if text.strip():
            _log.debug("robin-stocks: %s", text.strip())
        return len(text)


def _order_type(d: Mapping[str, Any]) -> OrderType | None:
    return _TYPES.get((str(d.get("type")), str(d.get("trigger") or "immediate")))


class StocksClient:
    """The equities side of the Robinhood broker (see the module doc)."""

    def __init__(
        self,
        username: str,
        password: SecretStr,
        mfa_secret: SecretStr | None = None,
        account_number: str | None = None,
        session_path: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        if not username:
            raise VenueError(f"{VENUE} equities needs a username", Failure.AUTH, venue=VENUE)
        if mfa_secret is not None:
            try:
                pyotp.TOTP(mfa_secret.get_secret_value()).now()
            except (ValueError, TypeError):  # binascii.Error is a ValueError
                raise VenueError(
                    f"{VENUE} MFA secret must be the base32 TOTP key Robinhood showed when "
                    "two-factor authentication was set up (at least 112 bits)",
                    Failure.AUTH,
                    venue=VENUE,
                ) from None
        self._username = username
        self._password = password
        self._mfa = mfa_secret
        self._chosen_account = account_number  # None: the login's default account
        self._account_number = account_number
        self._session_path = session_path
        self.calls = SyncCalls(VENUE, translate, timeout_s)
        self._recorder = _Recorder(timeout_s)
        self._account_url: str | None = None
        self._instruments: dict[str, str] = {}  # symbol -> instrument url
        self._symbols: dict[str, str] = {}  # instrument url -> symbol
        self._ours: dict[str, str] = {}  # ref_id -> our client order id
        self._venue_ids: dict[str, str] = {}  # our client order id -> venue order id

    def __repr__(self) -> str:
        return f"StocksClient(account={self._account_number!r})"

    # -- running library calls -----------------------------------------------------------
    def _checked(self, fn: Callable[..., T], *args: Any) -> T:
        self._recorder.failures.clear()
        try:
            result = fn(*args)
        except Exception:
            if self._recorder.failures:
                raise self._recorder.failures[0] from None
            raise
        if self._recorder.failures:
            raise self._recorder.failures[0]
        return result

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.calls.run(self._checked, fn, *args)

    # -- session -------------------------------------------------------------------------
    def _login(self) -> None:
        # A reconnect must not pass on the previous login's state if this one fails.
        rh_helper.set_login_state(False)
        rh.update_session("Authorization", None)
        code = None if self._mfa is None else pyotp.TOTP(self._mfa.get_secret_value()).now()
        password = self._password.get_secret_value()
        if self._session_path:
            rh.login(self._username, password, store_session=True, mfa_code=code,
                     pickle_path=self._session_path)  # fmt: skip
        else:
            with tempfile.TemporaryDirectory(prefix="nt-robinhood-") as scratch:
                rh.login(self._username, password, store_session=False, mfa_code=code,
                         pickle_path=scratch)  # fmt: skip
        if not rh_helper.LOGGED_IN:
            raise VenueError(
                f"{VENUE} login failed: the reply carried no access token (is the MFA secret "
                "set and right?)",
                Failure.AUTH,
                venue=VENUE,
            )

    async def connect(self) -> None:
        with _owner_lock:
            if _owner and _owner[0] is not self:
                raise VenueError(
                    "robin-stocks keeps one global session: one Robinhood equities client per "
                    "process",
                    Failure.UNSUPPORTED,
                    venue=VENUE,
                )
            _owner[:] = [self]
        rh_helper.set_output(_DebugStream())
        rh.globals.SESSION.mount("https://", self._recorder)
        try:
            await self.run(self._login)
            profile = await self._profile()
        except BaseException:
            await self.close()
            raise
        self._account_url = str(profile["url"])

    async def close(self) -> None:
        with _owner_lock:
            if not _owner or _owner[0] is not self:
                return
            _owner.clear()
        rh.globals.SESSION.mount("https://", HTTPAdapter())  # the library's own transport again
        if rh_helper.LOGGED_IN:
            rh_helper.set_login_state(False)
            rh.update_session("Authorization", None)

    # -- account -------------------------------------------------------------------------
    async def _profile(self) -> Mapping[str, Any]:
        if self._chosen_account:  # the library would look for "results" in a single account
            raw = await self.run(rh.load_account_profile, self._chosen_account, None, "regular")
        else:
            raw = await self.run(rh.load_account_profile)
        d = _mapping(raw, "account profile")
        if not d.get("url") or not d.get("account_number"):
            raise _malformed("account profile lacks url or account_number")
        self._account_number = str(d["account_number"])
        return d

    async def account(self) -> Account:
        d = await self._profile()
        unified = _mapping(await self.run(rh.load_phoenix_account), "unified account")
        equity = _mapping(unified.get("total_equity"), "unified account total_equity")
        return Account(
            venue=VENUE,
            currency=str(equity.get("currency_code") or "USD"),
            cash=decimal_field(d, "cash", VENUE),
            buying_power=decimal_field(d, "buying_power", VENUE),
            equity=decimal_field(equity, "amount", VENUE),
        )

    async def _symbol(self, instrument_url: str) -> str:
        if instrument_url not in self._symbols:
            symbol = await self.run(rh.get_symbol_by_url, instrument_url)
            if not isinstance(symbol, str) or not symbol:
                raise _malformed(f"instrument {instrument_url} has no symbol")
            self._symbols[instrument_url] = symbol
        return self._symbols[instrument_url]

    async def positions(self) -> list[VenuePosition]:
        rows = _list(await self.run(rh.get_open_stock_positions, self._account_number), "positions")
        out = []
        for row in rows:
            d = _mapping(row, "position")
            symbol = d.get("symbol") or await self._symbol(str(d.get("instrument")))
            qty = decimal_field(d, "quantity", VENUE)
            out.append(
                VenuePosition(str(symbol), qty, optional_decimal(d, "average_buy_price", VENUE))
            )
        return out

    # -- orders --------------------------------------------------------------------------
    def _name(self, venue_ref: str) -> str:
        return self._ours.get(venue_ref, venue_ref)

    async def parse_order(self, data: Any) -> VenueOrder:
        d = _mapping(data, "order")
        side = _SIDES.get(str(d.get("side")))
        kind = _order_type(d)
        if side is None or kind is None or not d.get("id") or "state" not in d:
            raise _malformed("order lacks id, state, a known side or type")
        symbol = d.get("symbol") or await self._symbol(str(d.get("instrument")))
        qty = decimal_field(d, "quantity", VENUE)
        filled = decimal_field(d, "cumulative_quantity", VENUE, "0")
        cid = self._name(str(d.get("ref_id") or ""))
        raw = str(d["state"])
        stamp = d.get("updated_at") or d.get("created_at")
        return VenueOrder(
            client_order_id=cid,
            venue_order_id=str(d["id"]),
            symbol=str(symbol),
            side=side,
            quantity=qty,
            filled_quantity=filled,
            status=STATUSES.map(raw, qty, filled, cid),
            venue_status=raw,
            order_type=kind,
            avg_price=optional_decimal(d, "average_price", VENUE),
            limit_price=optional_decimal(d, "price", VENUE) if d.get("type") == "limit" else None,
            stop_price=optional_decimal(d, "stop_price", VENUE),
            ts=iso_ns(stamp, VENUE) if stamp else 0,
            reason=str(d.get("reject_reason") or ""),
        )

    async def _instrument(self, symbol: str) -> str:
        if symbol not in self._instruments:
            urls = _list(
                await self.run(rh.get_instruments_by_symbols, symbol, "url"), "instruments"
            )
            if not urls:
                raise VenueError(
                    f"{VENUE} knows no instrument {symbol!r}", Failure.REJECTED, venue=VENUE
                )
            self._instruments[symbol] = str(urls[0])
            self._symbols[str(urls[0])] = symbol
        return self._instruments[symbol]

    async def order_payload(self, order: Order) -> dict[str, Any]:
        """The body robin-stocks' ``order()`` sends, with our ``ref_id`` and exact prices."""
        where = {"venue": VENUE, "order": order.client_order_id}
        tif = _TIF.get(order.time_in_force)
        if tif is None:
            raise VenueError(
                f"{VENUE} equities take gtc or day orders, not {order.time_in_force.value}",
                Failure.UNSUPPORTED,
                **where,
            )
        symbol = order.symbol.upper().strip()
        instrument = await self._instrument(symbol)
        quotes = _list(await self.run(rh.get_quotes, symbol), "quotes")
        if not quotes:
            raise VenueError(f"{VENUE} has no quote for {symbol}", Failure.REJECTED, **where)
        quote = _mapping(quotes[0], "quote")
        ask = decimal_field(quote, "ask_price", VENUE)
        bid = decimal_field(quote, "bid_price", VENUE)
        kind = order.order_type
        venue_ref = ref_id(order.client_order_id)
        self._ours[venue_ref] = order.client_order_id
        payload: dict[str, Any] = {
            "account": self._account_url,
            "instrument": instrument,
            "symbol": symbol,
            "ask_price": str(ask),
            "bid_price": str(bid),
            "bid_ask_timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
            "quantity": str(order.quantity),
            "ref_id": venue_ref,
            "type": "limit" if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else "market",
            "time_in_force": tif,
            "trigger": "stop" if kind in (OrderType.STOP, OrderType.STOP_LIMIT) else "immediate",
            "side": order.side.value,
            "market_hours": "regular_hours",
            "extended_hours": False,
            "order_form_version": 4,
        }
        if order.limit_price is not None:
            payload["price"] = str(order.limit_price)
        if order.stop_price is not None:
            payload["stop_price"] = str(order.stop_price)
            if kind is OrderType.STOP and order.side is OrderSide.BUY:
                payload["price"] = str(order.stop_price)
        if kind is OrderType.MARKET and order.side is OrderSide.BUY:
            payload |= {"type": "limit", "price": str(ask), "preset_percent_limit": "0.05"}
        return payload

    async def place_order(self, order: Order) -> VenueOrder:
        payload = await self.order_payload(order)
        url = rh.urls.orders_url()
        reply = await self.run(rh.request_post, url, payload, self._recorder.timeout_s, True)
        placed = await self.parse_order(reply)
        self._venue_ids[order.client_order_id] = placed.venue_order_id
        return placed

    async def _find(self, client_order_id: str) -> Any | None:
        venue_ref = ref_id(client_order_id)
        self._ours[venue_ref] = client_order_id
        known = self._venue_ids.get(client_order_id)
        if known is not None:
            return await self.run(rh.get_stock_order_info, known)
        url: str | None = rh.urls.orders_url()
        for _ in range(SCAN_PAGES):
            if url is None:
                break
            page = _mapping(await self.run(rh.request_get, url), "orders page")
            for row in _list(page.get("results"), "orders page results"):
                if _mapping(row, "order").get("ref_id") == venue_ref:
                    self._venue_ids[client_order_id] = str(row.get("id"))
                    return row
            url = page.get("next") or None
        return None

    async def get_order(self, client_order_id: str) -> VenueOrder | None:
        try:
            raw = await self._find(client_order_id)
        except VenueError as exc:
            if exc.failure is Failure.NOT_FOUND:
                return None
            raise
        return None if raw is None else await self.parse_order(raw)

    async def cancel_order(self, client_order_id: str) -> None:
        found = await self.get_order(client_order_id)
        if found is None:
            raise missing_order(VENUE, client_order_id)
        await self.run(rh.cancel_stock_order, found.venue_order_id)

    async def _orders_since(self, since_s: float) -> list[Any]:
        start = datetime.fromtimestamp(since_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return _list(
            await self.run(rh.get_all_stock_orders, None, self._account_number, start), "orders"
        )

    async def open_orders(self) -> list[VenueOrder]:
        """Orders still cancellable, among those updated within the GTC lifetime (listing the
        whole history at every poll would be far too slow)."""
        rows = await self._orders_since(time.time() - OPEN_LOOKBACK_S)
        working = [r for r in rows if _mapping(r, "order").get("cancel") is not None]
        return [await self.parse_order(row) for row in working]

    async def fills(self, since_ns: int) -> list[VenueFill]:
        out: list[VenueFill] = []
        for row in await self._orders_since(since_ns / 1e9):
            order = await self.parse_order(row)
            executions = _mapping(row, "order").get("executions") or []
            for item in _list(executions, f"order {order.venue_order_id} executions"):
                e = _mapping(item, "execution")
                if not e.get("id"):
                    raise _malformed(f"order {order.venue_order_id} has an execution with no id")
                ts = iso_ns(e.get("timestamp"), VENUE)
                if ts < since_ns:
                    continue
                out.append(
                    VenueFill(
                        fill_id=str(e["id"]),
                        venue_order_id=order.venue_order_id,
                        client_order_id=order.client_order_id,
                        symbol=order.symbol,
                        side=order.side,
                        quantity=decimal_field(e, "quantity", VENUE),
                        price=decimal_field(e, "price", VENUE),
                        commission=Decimal(0),  # commission-free; regulatory fees are in "fees"
                        ts=ts,
                    )
                )
        return sorted(out, key=lambda f: (f.ts, f.fill_id))
