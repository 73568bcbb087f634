"""Instrument definitions for symbols that arrive as plain data (bundled sets, user files)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from neural_trader.core.instruments import AssetClass, CryptoPair, Equity, Instrument

INDICES = {"SPX", "IXIC"}
FX_PAIRS = {"EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "USDCHF", "USDCAD", "NZDUSD"}
CRYPTO_QUOTES = ("USDT", "USDC", "USD", "BTC", "EUR")


def default_instrument(symbol: str) -> Instrument:
    """Ticks and lots by asset class: cents and whole shares for stocks and indices, 1e-5 and
    whole units for FX, 0.01 and 1e-8 for crypto pairs written BASE-QUOTE or BASE/QUOTE.

    ``NAME@venue`` (``BTC-USD@kraken``) is ``NAME`` quoted on ``venue``: the same instrument
    type, ticks and lots under its own symbol, with ``venue`` set (the arbitrage strategies
    trade one instrument on two venues as two such symbols)."""
    name, at, venue = symbol.partition("@")
    if at and name and venue:
        return replace(default_instrument(name), symbol=symbol, venue=venue)
    sym = symbol.upper()
    if sym in INDICES:
        return Instrument(symbol, AssetClass.INDEX)
    if sym in FX_PAIRS:
        return Instrument(
            symbol, AssetClass.FX, currency=sym[3:], price_increment=Decimal("0.00001")
        )
    for sep in ("-", "/"):
        if sep in sym:
            base, quote = sym.split(sep, 1)
            if quote in CRYPTO_QUOTES:
                return CryptoPair(symbol, base_currency=base, currency=quote)
    return Equity(symbol)
