"""Names across the ccxt boundary: our crypto pair symbols ↔ ccxt's unified ``BASE/QUOTE``, and
our client order ids ↔ what each venue accepts in its client order id field.

**Symbols.** The platform writes a pair ``BASE/QUOTE`` or ``BASE-QUOTE``, optionally followed by
``@venue`` when the same pair is traded on several venues (``BTC-USD@kraken``, see
``trading/instruments.py``); ccxt writes every venue's pairs ``BTC/USD`` (Kraken's XBT is BTC).
Going out is a rewrite; coming back, the venue's pair is named as the platform names it: the
symbol an order was placed under, else the instrument registry's pair for this venue (an
``@venue`` symbol of this venue first, a plain one next; another venue's ``@`` symbols never),
else ccxt's own ``BASE/QUOTE``.

**Client order ids.** An id the venue's field accepts as it is goes as it is, so it maps back
with no state at all. One it does not (Kraken takes a UUID or at most 18 characters; the
kernel's ids are longer) goes as the UUID-5 of our id, a pure function of it: the same order is
always sent, looked up and cancelled under the same venue id, so idempotency holds across
restarts. Reports map such an id back to ours once this process has sent or looked up that
order (until then the report carries the venue's id).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection

from neural_trader.core.instruments import AssetClass, Instrument

_NAMESPACE = uuid.UUID("6f1c0a52-8d4e-5b7a-9c3e-2a41d5e0b9f7")


def unified(symbol: str) -> str | None:
    """``BTC-USD@kraken`` → ``BTC/USD``; None for a name that is not a pair."""
    name = symbol.partition("@")[0]
    for sep in ("/", "-"):
        base, found, quote = name.partition(sep)
        if found and base.isalnum() and quote.isalnum():
            return f"{base.upper()}/{quote.upper()}"
    return None


class SymbolMap:
    """``instruments`` may be a live view (``registry.by_symbol.values()``): instruments added
    later are seen. Symbols orders were placed under take precedence over the registry."""

    def __init__(self, venue: str, instruments: Collection[Instrument] = ()) -> None:
        self.venue = venue
        self._instruments = instruments
        self._learned: dict[str, str] = {}
        self._registry: dict[str, str] = {}
        self._seen = -1

    def _from_registry(self) -> dict[str, str]:
        if len(self._instruments) != self._seen:
            ranked: list[tuple[int, str, str]] = []
            for inst in list(self._instruments):
                pair = unified(inst.symbol) if inst.asset_class is AssetClass.CRYPTO else None
                at = inst.symbol.partition("@")[2]
                if pair is None or (at and at != self.venue):
                    continue
                ranked.append((0 if at or inst.venue == self.venue else 1, inst.symbol, pair))
            # best rank written last: an @venue symbol of this venue over a plain one
            self._registry = {pair: symbol for _, symbol, pair in sorted(ranked, reverse=True)}
            self._seen = len(self._instruments)
        return self._registry

    def learn(self, ours: str, pair: str) -> None:
        self._learned[pair] = ours

    def _known(self) -> dict[str, str]:
        return self._from_registry() | self._learned

    def to_ours(self, pair: str) -> str:
        return self._learned.get(pair) or self._from_registry().get(pair, pair)

    def for_asset(self, code: str, currency: str) -> str:
        """Our symbol for a holding of ``code``: a known pair of it quoted in ``currency``,
        else any known pair of it, else ``code/currency``."""
        mine = sorted(p for p in self._known() if p.partition("/")[0] == code)
        preferred = f"{code}/{currency}"
        pair = preferred if preferred in mine or not mine else mine[0]
        return self.to_ours(pair)


class ClientIds:
    def __init__(self, accepted: re.Pattern[str]) -> None:
        self.accepted = accepted
        self._ours: dict[str, str] = {}

    def to_venue(self, client_order_id: str) -> str:
        if self.accepted.fullmatch(client_order_id):
            return client_order_id
        venue_id = str(uuid.uuid5(_NAMESPACE, client_order_id))
        self._ours[venue_id] = client_order_id
        return venue_id

    def to_ours(self, venue_id: str | None) -> str:
        if not venue_id:
            return ""
        return self._ours.get(venue_id, venue_id)
