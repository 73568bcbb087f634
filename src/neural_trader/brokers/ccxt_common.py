"""What the ccxt adapters (Binance, Coinbase, Kraken) share: the transport each client gets,
how ccxt's exceptions and unified order states map onto ours, and exact numbers.

* **Transport.** ccxt's sync client sends through a ``requests`` session. Each client's
  session gets a :class:`CcxtTransport`, which never retries (the pool backs off per venue),
  records the HTTP status of every reply (ccxt's exception class alone cannot tell a 429 or a
  5xx whose body it did not recognise) and refuses a 2xx reply that is not JSON (ccxt would pass
  the raw text on to its parsers). ccxt's own throttle is off: the pool rate-limits.
* **Errors.** :func:`translate` tries, first match wins: the venue's own rules (message
  fragments ccxt files under a broader class, e.g. Binance's "Duplicate order sent." is only an
  ``InvalidOrder`` to ccxt), then the HTTP status, then ccxt's exception class (:data:`CLASSES`).
* **States.** ccxt reduces a venue's order states to ``open``/``closed``/``canceled``/
  ``expired``/``rejected``; a state ccxt does not know it passes through as the venue wrote it,
  and one the venue's table does not list either is surfaced as ``UNKNOWN_STATE``.
* **Secrets.** ccxt logs each request's headers (with the API key) at DEBUG: clients log to a
  logger that drops everything. Error messages carry the venue's words with query strings (where
  Binance puts its signatures) cut and the key and secret blanked, should a venue echo them.
* **Numbers.** After the markets are loaded a client parses numbers as strings
  (``number = str``), so prices, quantities and balances reach :func:`exact` as the venue wrote
  them and become exact Decimals.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import ccxt
import requests
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

from neural_trader.brokers.base import ErrorRule, Failure, StatusTable, VenueError
from neural_trader.core.orders import OrderStatus

S = OrderStatus
# ccxt's unified order states (https://docs.ccxt.com/#/README?id=order-structure).
UNIFIED_STATES: dict[str, OrderStatus] = {
    "open": S.ACCEPTED,  # fills refine it: PARTIALLY_FILLED or FILLED
    "closed": S.FILLED,
    "canceled": S.CANCELED,
    "canceling": S.ACCEPTED,  # a cancel was asked for and is not done: still working
    "expired": S.EXPIRED,
    "rejected": S.REJECTED,
}

# ccxt's exception classes, most specific first (subclasses before their bases).
CLASSES: tuple[tuple[type[Exception], Failure], ...] = (
    (ccxt.DuplicateOrderId, Failure.DUPLICATE),
    (ccxt.OrderNotFound, Failure.NOT_FOUND),
    (ccxt.InsufficientFunds, Failure.INSUFFICIENT_FUNDS),
    (ccxt.BadSymbol, Failure.INVALID),
    (ccxt.InvalidOrder, Failure.REJECTED),  # price/lot filters, minimum notional, ...
    (ccxt.AuthenticationError, Failure.AUTH),  # also PermissionDenied, AccountSuspended
    (ccxt.NotSupported, Failure.UNSUPPORTED),
    (ccxt.BadRequest, Failure.INVALID),
    (ccxt.ArgumentsRequired, Failure.INVALID),
    (ccxt.RateLimitExceeded, Failure.RATE_LIMITED),
    (ccxt.DDoSProtection, Failure.RATE_LIMITED),
    (ccxt.RequestTimeout, Failure.TIMEOUT),
    (ccxt.BadResponse, Failure.MALFORMED),  # also NullResponse
    (ccxt.NetworkError, Failure.UNAVAILABLE),  # ExchangeNotAvailable, OnMaintenance, InvalidNonce
    (ccxt.OperationFailed, Failure.UNAVAILABLE),
    (ccxt.ExchangeError, Failure.REJECTED),  # the venue said no, for the reason it gave
)
# Rules every venue shares, tried after the venue's own.
COMMON_RULES = (
    ErrorRule(Failure.RATE_LIMITED, status=429),
    ErrorRule(Failure.RATE_LIMITED, status=418),  # Binance: IP banned for ignoring 429s
    ErrorRule(Failure.TIMEOUT, status=504),
    ErrorRule(Failure.TIMEOUT, status=408),
    ErrorRule(Failure.DUPLICATE, contains="duplicate order"),
)
_QUERY = re.compile(r"(https?://[^\s?]+)\?\S*")


def venue_states(venue: str, extra: Mapping[str, OrderStatus] | None = None) -> StatusTable:
    """ccxt's unified states plus the venue's states ccxt passes through unmapped."""
    return StatusTable(venue, {**UNIFIED_STATES, **(extra or {})})


class MalformedReplyError(Exception):
    """A 2xx reply whose body is not JSON (raised in the transport, below ccxt)."""


class CcxtTransport(HTTPAdapter):
    """One attempt per request, bounded by ccxt's timeout; see the module doc."""

    def __init__(self) -> None:
        super().__init__(max_retries=0)
        self.last_status: int | None = None
        self.last_body: str | None = None

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> Response:
        self.last_status = self.last_body = None  # a transport failure leaves them unset
        response = super().send(
            request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
        )
        self.last_status = response.status_code
        self.last_body = response.content[:4000].decode("utf-8", "replace")
        if 200 <= response.status_code < 300 and response.status_code != 204:
            try:
                json.loads(response.content)
            except ValueError:
                raise MalformedReplyError(
                    f"HTTP {response.status_code} reply is not JSON"
                ) from None
        return response


class _Silent(logging.Logger):
    """Drops every record: ccxt's request log holds the API key in its headers."""

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging's name
        return False


SILENT = _Silent("neural_trader.brokers.ccxt_wire")


def new_exchange(
    exchange_id: str,
    api_key: str,
    secret: str,
    timeout_s: float,
    options: Mapping[str, Any],
) -> tuple[Any, CcxtTransport]:
    """A ccxt sync client of ``exchange_id`` with our transport, logger and no throttle."""
    cls = getattr(ccxt, exchange_id)
    exchange = cls(
        {
            "apiKey": api_key,
            "secret": secret,
            "timeout": int(timeout_s * 1000),
            "enableRateLimit": False,
            "options": dict(options),
        }
    )
    exchange.logger = SILENT
    transport = CcxtTransport()
    exchange.session.mount("https://", transport)
    exchange.session.mount("http://", transport)
    return exchange, transport


# -- errors -----------------------------------------------------------------------------------
def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` without query strings and without any of ``secrets``."""
    out = _QUERY.sub(r"\1", text)
    for secret in secrets:
        if secret:
            out = out.replace(secret, "***")
    return out


def venue_words(reply: str | None) -> tuple[str | None, str | None]:
    """The error code and text of a venue's JSON error reply, read the way Binance
    (``{"code": -2010, "msg": ...}``), Kraken (``{"error": [...]}``) and Coinbase (``{"error":
    ..., "message": ...}``, or ``error_response`` for order rejections) write theirs."""
    try:
        body = json.loads(reply or "")
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    nested = body.get("error_response")
    if isinstance(nested, dict):  # Coinbase order rejections
        body = nested
    errors = body.get("error")
    text = body.get("msg") or body.get("message") or body.get("error_details")
    if isinstance(errors, list) and errors:  # Kraken: {"error": ["EOrder:Insufficient funds"]}
        text = "; ".join(str(e) for e in errors)
    elif not text and errors:
        text = errors
    code = body.get("code", errors if isinstance(errors, str) else None)
    return (None if code is None else str(code)), (None if not text else str(text))


def classify_exception(
    exc: Exception,
    rules: Sequence[ErrorRule],
    status: int | None,
    code: str | None,
    message: str,
) -> Failure:
    """The failure ``exc`` means (see the module doc for the order of the tables)."""
    for rule in (*rules, *COMMON_RULES):
        if rule.matches(status, code, message):
            return rule.failure
    if status is not None and status >= 500:
        return Failure.UNAVAILABLE
    cause = exc.__cause__
    if (
        isinstance(exc, ccxt.ExchangeError)
        and isinstance(cause, requests.RequestException)
        and not isinstance(cause, requests.HTTPError)
    ):
        return (
            Failure.UNAVAILABLE
        )  # a transport failure (TLS, redirects) ccxt filed as ExchangeError
    for cls, failure in CLASSES:
        if isinstance(exc, cls):
            return failure
    return Failure.MALFORMED  # not ccxt's: its parsers choked on the reply


def translate(
    exc: Exception,
    venue: str,
    rules: Sequence[ErrorRule],
    secrets: Iterable[str],
    status: int | None = None,
    reply: str | None = None,
    ccxt_id: str = "",
) -> VenueError:
    """``exc`` as a VenueError whose message is the venue's (from its ``reply`` when that is
    a JSON error, else ccxt's words), never a header or a secret."""
    if isinstance(exc, VenueError):
        return exc
    hidden = list(secrets)
    if isinstance(exc, MalformedReplyError):
        return VenueError(
            f"{venue} sent a reply that is not JSON", Failure.MALFORMED, venue=venue, status=status
        )
    code, text = venue_words(scrub(reply or "", hidden))
    if isinstance(exc, ccxt.BaseError):
        raw = scrub(str(exc), hidden)
        words = text or raw.removeprefix(f"{ccxt_id} ")  # ccxt starts its messages with its id
    else:  # ccxt's parsers choked on the reply (or on what a proxy sent instead)
        raw = scrub(f"{type(exc).__name__}: {exc}", hidden)[:200]
        words = text or f"reply could not be read ({raw})"
    failure = classify_exception(exc, rules, status, code, f"{raw} {text or ''}")
    return VenueError(
        f"{venue}: {words[:300]}",
        failure,
        venue=venue,
        status=status,
        code=code,
        error=type(exc).__name__,
    )


# -- numbers ----------------------------------------------------------------------------------
def exact(value: Any, what: str, venue: str) -> Decimal:
    """A number from a ccxt structure (a string, as the venue wrote it) as an exact Decimal."""
    if value is None or value == "":
        raise VenueError(f"{venue} reply lacks {what}", Failure.MALFORMED, venue=venue, key=what)
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise VenueError(
            f"{venue} reply has a non-numeric {what}: {value!r}", Failure.MALFORMED, venue=venue
        ) from None
    if not out.is_finite():
        raise VenueError(f"{venue} reply has {what}={value}", Failure.MALFORMED, venue=venue)
    return out


def optional_exact(value: Any, what: str, venue: str) -> Decimal | None:
    return None if value is None or value == "" else exact(value, what, venue)


def ms_to_ns(value: Any) -> int:
    """ccxt's millisecond timestamps as our nanoseconds (0 when the venue gave none)."""
    return 0 if value is None else int(Decimal(str(value)) * 1_000_000)
