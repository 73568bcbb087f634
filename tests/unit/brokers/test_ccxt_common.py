"""What the ccxt adapters share, on its own: ccxt's exception classes onto our failures (the
classes ccxt raises for each venue's error bodies), the venue words read from each venue's
documented error format, secrets and signed query strings cut from messages, client order
ids that survive a restart, and the transport's refusal of a 2xx reply that is not JSON."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import ccxt
import pytest
import requests
import responses

from neural_trader.brokers.base import Failure
from neural_trader.brokers.ccxt_common import (
    CcxtTransport,
    MalformedReplyError,
    scrub,
    translate,
    venue_words,
)
from neural_trader.brokers.ccxt_ids import ClientIds, SymbolMap, unified
from neural_trader.core.instruments import CryptoPair, Equity


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (ccxt.InsufficientFunds("binance insufficient"), Failure.INSUFFICIENT_FUNDS),
        (ccxt.InvalidOrder("kraken EOrder:Order minimum not met"), Failure.REJECTED),
        (ccxt.OrderNotFound("binance -2013"), Failure.NOT_FOUND),
        (ccxt.DuplicateOrderId("x"), Failure.DUPLICATE),
        (ccxt.RateLimitExceeded("x"), Failure.RATE_LIMITED),
        (ccxt.DDoSProtection("x"), Failure.RATE_LIMITED),
        (ccxt.ExchangeNotAvailable("x"), Failure.UNAVAILABLE),
        (ccxt.OnMaintenance("x"), Failure.UNAVAILABLE),
        (ccxt.RequestTimeout("x"), Failure.TIMEOUT),
        (ccxt.AuthenticationError("x"), Failure.AUTH),
        (ccxt.PermissionDenied("x"), Failure.AUTH),
        (ccxt.BadSymbol("x"), Failure.INVALID),
        (ccxt.BadRequest("x"), Failure.INVALID),
        (ccxt.NetworkError("x"), Failure.UNAVAILABLE),
        (ccxt.BadResponse("x"), Failure.MALFORMED),
        (ccxt.NotSupported("x"), Failure.UNSUPPORTED),
        (ccxt.ExchangeError("x"), Failure.REJECTED),
        (TypeError("'NoneType' object is not subscriptable"), Failure.MALFORMED),
        (MalformedReplyError("HTTP 200 reply is not JSON"), Failure.MALFORMED),
    ],
)
def test_ccxt_classes_map_onto_failures(exc: Exception, failure: Failure) -> None:
    error = translate(exc, "v", (), secrets=())
    assert error.failure is failure and error.context["venue"] == "v"


def test_the_http_status_says_more_than_the_class() -> None:
    """A 429 or 5xx whose body ccxt did not recognise still means what the status says."""
    plain = ccxt.ExchangeError("coinbase {}")
    assert translate(plain, "v", (), (), status=429).failure is Failure.RATE_LIMITED
    assert translate(plain, "v", (), (), status=500).failure is Failure.UNAVAILABLE
    assert translate(plain, "v", (), (), status=504).failure is Failure.TIMEOUT
    assert translate(plain, "v", (), (), status=400).failure is Failure.REJECTED


@pytest.mark.parametrize(
    ("reply", "code", "text"),
    [
        ('{"code":-2010,"msg":"Duplicate order sent."}', "-2010", "Duplicate order sent."),
        ('{"error":["EOrder:Insufficient funds"]}', None, "EOrder:Insufficient funds"),
        ('{"error":"NOT_FOUND","error_details":"x","message":"order was not found"}', "NOT_FOUND",
         "order was not found"),
        ('{"success":false,"error_response":{"error":"INSUFFICIENT_FUND","message":"Low"}}',
         "INSUFFICIENT_FUND", "Low"),
        ("<html>502 Bad Gateway</html>", None, None),
    ],
)  # fmt: skip
def test_venue_words_from_each_documented_error_format(
    reply: str, code: str | None, text: str | None
) -> None:
    assert venue_words(reply) == (code, text)


def test_scrub_cuts_query_strings_and_blanks_secrets() -> None:
    message = "binance GET https://api.binance.com/api/v3/account?timestamp=1&signature=abc KEY1"
    assert scrub(message, ["KEY1", ""]) == "binance GET https://api.binance.com/api/v3/account ***"


def test_client_ids_the_venue_accepts_go_as_they_are_others_as_a_stable_uuid() -> None:
    short = re.compile(r"[A-Za-z0-9_-]{1,18}")
    ids = ClientIds(short)
    assert ids.to_venue("sma-7") == "sma-7" and ids.to_ours("sma-7") == "sma-7"
    long_id = "sma_cross-1700000000000000000-12"
    sent = ids.to_venue(long_id)
    assert uuid.UUID(sent).version == 5 and ids.to_ours(sent) == long_id
    # after a restart the same order is looked up under the same venue id
    assert ClientIds(short).to_venue(long_id) == sent
    assert ids.to_ours(None) == "" and ids.to_ours("foreign") == "foreign"


def test_symbols_prefer_this_venues_own_name_and_learn_from_orders() -> None:
    assert unified("btc-usd@kraken") == "BTC/USD" and unified("AAPL") is None
    registry = {
        "BTC-USD": CryptoPair("BTC-USD", base_currency="BTC", currency="USD"),
        "BTC-USD@binance": CryptoPair("BTC-USD@binance", base_currency="BTC", currency="USD"),
        "AAPL": Equity("AAPL"),
    }
    symbols = SymbolMap("kraken", registry.values())
    assert symbols.to_ours("BTC/USD") == "BTC-USD"  # binance's own symbol is not kraken's
    registry["BTC-USD@kraken"] = CryptoPair("BTC-USD@kraken", base_currency="BTC", currency="USD")
    assert symbols.to_ours("BTC/USD") == "BTC-USD@kraken"  # the registry is read live
    symbols.learn("btc/usd", "BTC/USD")
    assert symbols.to_ours("BTC/USD") == "btc/usd"  # an order's own symbol wins
    assert symbols.for_asset("ETH", "USD") == "ETH/USD" and symbols.to_ours("ETH/EUR") == "ETH/EUR"


@pytest.fixture
def session() -> Iterator[tuple[requests.Session, CcxtTransport, responses.RequestsMock]]:
    transport = CcxtTransport()
    s = requests.Session()
    s.mount("https://", transport)
    with responses.RequestsMock() as http:
        yield s, transport, http


def test_transport_refuses_a_2xx_that_is_not_json_and_records_error_replies(
    session: tuple[requests.Session, CcxtTransport, responses.RequestsMock],
) -> None:
    s, transport, http = session
    http.get("https://venue.test/a", body="<html>maintenance</html>", status=200)
    with pytest.raises(MalformedReplyError):
        s.get("https://venue.test/a")
    assert transport.last_status == 200
    http.get("https://venue.test/b", json={"error": ["EService:Busy"]}, status=503)
    assert s.get("https://venue.test/b").status_code == 503
    assert transport.last_body == '{"error": ["EService:Busy"]}'
    http.get("https://venue.test/c", body=requests.exceptions.ConnectionError("reset"))
    with pytest.raises(requests.exceptions.ConnectionError):
        s.get("https://venue.test/c")
    assert transport.last_status is None and transport.last_body is None
