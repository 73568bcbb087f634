"""Leg risk for arbitrages: several orders sent together that are only worth having together.

An arbitrage is a set of legs (two for a cross-venue spread, three for a triangle) whose fills
cancel out in every currency but the home one. Venues fill each leg on its own, so the legs can
come back unequal; this module holds one attempt (:class:`Arbitrage`) and the one rule that
decides what happens then. For each leg, ``fraction = filled / planned``.

1. **Entry.** Every leg is sent at once as an IOC or FOK limit at the limit the strategy set
   from the quotes when it saw the opportunity. A leg the risk gate or the venue refuses on
   the spot cancels the others, so nothing is left half done by a refusal.
2. **Matched.** When no order is working and every leg reached the same fraction (to the lot),
   the attempt is over: fully filled, partly filled alike, or not filled at all.
3. **Hedge.** Otherwise the legs behind are completed up to the fraction of the leg furthest
   ahead: each one's remainder is sent again as an IOC at its *original* limit price, whenever
   the current quote of its symbol shows that price again, so a hedged attempt keeps the
   profit it was entered for.
4. **Unwind.** Once the open leg is older than ``max_leg_age`` (measured from the attempt's
   first fill), or its value exceeds ``max_open_notional`` (the absolute net holding in every
   currency but the home one, at the latest mids), working hedges are canceled and each leg's
   fill beyond the fraction of the leg furthest behind is reversed by a market order on its own
   symbol. The book then holds only matched legs (up to one lot of rounding per leg).
5. **Refusals.** A hedge the gate or venue refuses starts the unwind at once. An unwind order
   it refuses ends the attempt as ``STUCK``: the open leg stays in the book and the strategy
   opens no new arbitrage (a gate that refuses orders which only reduce exposure is halted;
   retrying on every quote would only spam it).

Targets are rounded down to the lot. Money is exact: every fill moves the attempt's ``flows``
(balance change per currency: the base by the signed quantity, the quote by minus the signed
notional and the commission, which the paper venue charges in the quote currency) in Decimal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Protocol

from neural_trader.core.events import Fill
from neural_trader.core.orders import Order, OrderSide, OrderStatus, TimeInForce

ZERO = Decimal(0)
REFUSED = frozenset({OrderStatus.DENIED, OrderStatus.REJECTED})


class Phase(StrEnum):
    OPENING = "opening"  # entry legs working
    HEDGING = "hedging"
    UNWINDING = "unwinding"
    DONE = "done"


class Outcome(StrEnum):
    FILLED = "filled"  # every leg filled alike on entry
    NONE = "none"  # nothing filled
    HEDGED = "hedged"  # legs behind were completed at their original prices
    UNWOUND = "unwound"  # legs ahead were reversed at market
    STUCK = "stuck"  # a hedge or unwind order was refused; the open leg stays


class LegPort(Protocol):
    """What an attempt needs from the strategy that runs it."""

    def send_leg(
        self,
        symbol: str,
        side: OrderSide,
        quantity: Decimal,
        limit: Decimal | None,
        tif: TimeInForce,
    ) -> Order | None: ...

    def cancel_leg(self, order: Order) -> None: ...

    def touch(self, symbol: str, side: OrderSide) -> float | None:
        """The price ``side`` would trade at now (the ask for a buy, the bid for a sell)."""

    def value(self, currency: str) -> float:
        """Value of one unit of ``currency`` in the home currency, at the latest quotes."""

    def round_lot(self, symbol: str, quantity: Fraction) -> Decimal:
        """The largest whole number of lots of ``symbol`` not above ``quantity``."""


@dataclass
class Leg:
    """One side of an arbitrage: planned quantity, the touch it was seen at (``quoted``), the
    limit it was sent with, its fills."""

    symbol: str
    side: OrderSide
    quantity: Decimal
    quoted: Decimal
    limit: Decimal
    base: str
    quote: str
    filled: Decimal = ZERO  # net, in the leg's own direction (unwinds subtract)
    orders: list[Order] = field(default_factory=list)

    @property
    def fraction(self) -> Fraction:
        return Fraction(self.filled) / Fraction(self.quantity)


@dataclass
class Arbitrage:
    """One attempt: its legs, phase, outcome and exact balance changes per currency."""

    legs: list[Leg]
    home: str
    opened_ts: int  # decision time
    expected_edge: Decimal  # what the strategy computed at entry (per unit or per cycle)
    phase: Phase = Phase.OPENING
    outcome: Outcome | None = None
    first_fill_ts: int | None = None
    closed_ts: int | None = None
    hedges_sent: int = 0
    unwinds_sent: int = 0
    flows: dict[str, Decimal] = field(default_factory=dict)
    _live: list[Order] = field(default_factory=list, repr=False)  # sent, not seen finished
    _targets: list[Decimal] | None = field(default=None, repr=False)

    # -- entry --------------------------------------------------------------------------------
    def start(self, port: LegPort, tif: TimeInForce) -> list[Order]:
        """Send every leg; cancel them all when one is refused on the spot (rule 1)."""
        sent: list[Order] = []
        refused = False
        for leg in self.legs:
            order = port.send_leg(leg.symbol, leg.side, leg.quantity, leg.limit, tif)
            if order is None or order.status in REFUSED:
                refused = True
                break
            leg.orders.append(order)
            self._live.append(order)
            sent.append(order)
        if refused:
            for order in sent:
                if order.is_open:
                    port.cancel_leg(order)
        return sent

    # -- fills --------------------------------------------------------------------------------
    def on_fill(self, fill: Fill) -> None:
        """Book one fill of one of this attempt's orders (entry, hedge or unwind). The legs of
        an attempt trade distinct symbols, so the symbol names the leg, even for a fill that
        arrives before the venue's answer to the submit has returned."""
        leg = next(lg for lg in self.legs if lg.symbol == fill.symbol)
        signed = fill.quantity if fill.side is OrderSide.BUY else -fill.quantity
        leg.filled += fill.quantity if fill.side is leg.side else -fill.quantity
        flows = self.flows
        flows[leg.base] = flows.get(leg.base, ZERO) + signed
        flows[leg.quote] = flows.get(leg.quote, ZERO) - signed * fill.price - fill.commission
        if self.first_fill_ts is None:
            self.first_fill_ts = fill.ts

    @property
    def profit(self) -> Decimal:
        """Change of the home-currency balance so far (the arbitrage's PnL once matched)."""
        return self.flows.get(self.home, ZERO)

    def exposure(self, port: LegPort) -> float:
        """Home-currency value of the absolute net holding in every other currency."""
        return sum(
            abs(float(q)) * port.value(c) for c, q in self.flows.items() if c != self.home and q
        )

    # -- the rule -----------------------------------------------------------------------------
    def step(self, port: LegPort, now: int, max_age_ns: int, max_open: float) -> bool:
        """Move the attempt on after a quote; True once it is over (rules 2 to 5)."""
        if self.phase is Phase.DONE:
            return True
        self._live = [o for o in self._live if o.is_open]
        if self._live:
            if self.phase is Phase.HEDGING and self._overdue(port, now, max_age_ns, max_open):
                self._enter(Phase.UNWINDING)
                for order in self._live:
                    port.cancel_leg(order)
            return False
        if self.phase is Phase.OPENING:
            self._enter(Phase.HEDGING)
        if self.phase is Phase.HEDGING:
            gaps = [max(t - leg.filled, ZERO) for leg, t in self._targets_for(port, ahead=True)]
            if not any(gaps):
                return self._finish(now, self._entry_outcome())
            if not self._overdue(port, now, max_age_ns, max_open):
                return self._hedge(port, gaps)
            self._enter(Phase.UNWINDING)
        gaps = [min(t - leg.filled, ZERO) for leg, t in self._targets_for(port, ahead=False)]
        if not any(gaps):
            return self._finish(now, Outcome.UNWOUND)
        return self._unwind(port, gaps, now)

    def _enter(self, phase: Phase) -> None:
        self.phase = phase
        self._targets = None

    def _overdue(self, port: LegPort, now: int, max_age_ns: int, max_open: float) -> bool:
        if self.first_fill_ts is None:
            return False
        return now - self.first_fill_ts > max_age_ns or self.exposure(port) > max_open

    def _targets_for(self, port: LegPort, *, ahead: bool) -> list[tuple[Leg, Decimal]]:
        """Each leg with the filled quantity it is to reach in this phase: the fraction of the
        leg furthest ahead (hedging) or furthest behind (unwinding) of its planned quantity,
        rounded down to the lot. Fixed when the phase starts, so that rounding one leg cannot
        make another one the new reference and the legs chase each other lot by lot."""
        if self._targets is None:
            fractions = [leg.fraction for leg in self.legs]
            ref = max(fractions) if ahead else min(fractions)
            self._targets = [
                leg.filled if f == ref else port.round_lot(leg.symbol, ref * Fraction(leg.quantity))
                for leg, f in zip(self.legs, fractions, strict=True)
            ]
        return list(zip(self.legs, self._targets, strict=True))

    def _hedge(self, port: LegPort, gaps: Sequence[Decimal]) -> bool:
        for leg, gap in zip(self.legs, gaps, strict=True):
            if gap <= 0:
                continue
            touch = port.touch(leg.symbol, leg.side)
            if touch is None:
                continue
            limit = float(leg.limit)
            if (touch > limit) if leg.side is OrderSide.BUY else (touch < limit):
                continue  # the original price is not shown: wait for it
            order = port.send_leg(leg.symbol, leg.side, gap, leg.limit, TimeInForce.IOC)
            self.hedges_sent += 1
            if order is None or order.status in REFUSED:
                self._enter(Phase.UNWINDING)  # on the next quote, once nothing is working
                for working in self._live:
                    port.cancel_leg(working)
                return False
            leg.orders.append(order)
            self._live.append(order)
        return False

    def _unwind(self, port: LegPort, gaps: Sequence[Decimal], now: int) -> bool:
        for leg, gap in zip(self.legs, gaps, strict=True):
            if gap >= 0:
                continue
            back = OrderSide.SELL if leg.side is OrderSide.BUY else OrderSide.BUY
            order = port.send_leg(leg.symbol, back, -gap, None, TimeInForce.GTC)
            self.unwinds_sent += 1
            if order is None or order.status in REFUSED:
                return self._finish(now, Outcome.STUCK)
            leg.orders.append(order)
            self._live.append(order)
        return False

    def _entry_outcome(self) -> Outcome:
        if self.hedges_sent:
            return Outcome.HEDGED
        return Outcome.FILLED if self.legs[0].filled > 0 else Outcome.NONE

    def _finish(self, now: int, outcome: Outcome) -> bool:
        self.phase = Phase.DONE
        self.outcome = outcome
        self.closed_ts = now
        return True


def pair_currencies(symbol: str) -> tuple[str, str] | None:
    """(base, quote) of a pair written ``BASE-QUOTE`` or ``BASE/QUOTE``, optionally followed by
    ``@venue`` (``BTC-USD@kraken``); None for a name that is not a pair."""
    bare = venue_free(symbol)
    for sep in ("-", "/"):
        base, found, quote = bare.partition(sep)
        if found and base.isalnum() and quote.isalnum():
            return base.upper(), quote.upper()
    return None


def venue_free(symbol: str) -> str:
    """The instrument's name without its ``@venue`` suffix."""
    return symbol.partition("@")[0]
