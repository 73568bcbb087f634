"""Triangular arbitrage: trade around three crypto pairs when converting through them returns
more than the three taker fees plus a threshold.

All three legs are sent at once as IOC or FOK limits set from the quotes; what happens when
they fill unequally is the rule of :mod:`.arbitrage_legs` (hedge at the original limits while
the open leg is young and small, then unwind it at market).

Three pairs over three currencies, such as ``BTC-USD`` (B/H), ``ETH-USD`` (A/H) and
``ETH-BTC`` (A/B); the home currency H is the one two of them are quoted in, whatever order
the symbols come in. With ``f = fee_bps / 10_000`` the taker fee on every leg, charged in the
pair's quote currency as the simulated venue charges it, spending one unit of H on a buy at
``ask`` yields ``1 / (ask · (1 + f))`` of the base; selling one unit of base at ``bid`` yields
``bid · (1 − f)``. Around the two cycles ::

    forward  H→B→A→H:  bid_AH · (1 − f) / (ask_BH · (1 + f) · ask_AB · (1 + f))
    reverse  H→A→B→H:  bid_AB · (1 − f) · bid_BH · (1 − f) / (ask_AH · (1 + f))

and an attempt is entered when a cycle's value exceeds ``1 + threshold_bps / 10_000``. Each
buy limit is the ask times, and each sell limit the bid divided by, ``(value / hurdle) **
(limit_slack / 3)``, so with every leg at its limit the cycle is still worth
``value · (hurdle / value) ** limit_slack`` >= the hurdle.

Size (``q`` units of A): the displayed sizes of the three touches and ``max_notional`` of H
spent, priced at the limits (the worst the legs can fill at), in whole lots. The A legs are
both ``q``, so A nets exactly. Forward, the B/H leg buys ``qb`` lots first and ``q`` is the
most A that ``qb`` pays for at ``lim_AB·(1+f)``; reverse, the B/H leg sells ``q·lim_AB·(1−f)``
rounded down. Either way the B left over is >= 0 (no B is ever sold short), under a lot plus
the fee budgeted and price improvement (``balances`` shows the residue exactly).

The platform's ledger is in one currency: the A/B leg's cash flows, which are in B, are booked
there as if they were in H, so a triangular backtest's equity curve is not its PnL. The
strategy's own ``balances`` (exact, per currency, from its fills) are; value them at the last
quotes for the PnL in H.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from neural_trader.core.market_data import QuoteTick
from neural_trader.core.orders import OrderSide
from neural_trader.strategies.arbitrage_base import ArbitrageStrategy, as_decimal
from neural_trader.strategies.arbitrage_legs import Arbitrage, Leg, pair_currencies
from neural_trader.strategies.base import Param

BPS = Decimal(10_000)
ONE = Decimal(1)
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def cycle_values(
    bh: tuple[Decimal, Decimal],
    ah: tuple[Decimal, Decimal],
    ab: tuple[Decimal, Decimal],
    fee_bps: Decimal,
) -> tuple[Decimal, Decimal]:
    """(forward H→B→A→H, reverse H→A→B→H): home currency back per unit spent, net of a taker
    fee on every leg, from the (bid, ask) of the B/H, A/H and A/B pairs."""
    f = fee_bps / BPS
    buy, sell = ONE + f, ONE - f
    forward = ah[0] * sell / (bh[1] * buy * ab[1] * buy)
    reverse = ab[0] * sell * bh[0] * sell / (ah[1] * buy)
    return forward, reverse


class TriangularArbitrage(ArbitrageStrategy):
    """Trade around a triangle of pairs when converting through it returns more than it costs
    after three taker fees and a threshold (see the module doc)."""

    name = "triangular_arbitrage"
    legs_needed = 3

    fee_bps: float = Param(10.0, ge=0, le=1_000, description="taker fee on every leg (bps)")
    max_notional: float = Param(1_000.0, gt=0, description="largest home-currency outlay per cycle")

    def _check_symbols(self, symbols: list[str]) -> None:
        roles = triangle_roles(symbols)
        if isinstance(roles, str):
            self._bad_symbols(roles)

    def _assign(self, symbols: list[str], given: bool) -> None:
        roles = triangle_roles(symbols)
        assert not isinstance(roles, str)  # _check_symbols refused it otherwise
        self._bh, self._ah, self._ab, self._home, self._b, self._a = roles
        self._f = Decimal(repr(self.fee_bps)) / BPS
        self._fee = Decimal(repr(self.fee_bps))
        self._hurdle = ONE + Decimal(repr(self.threshold_bps)) / BPS
        self._slack = Decimal(repr(self.limit_slack)) / 3
        f = self.fee_bps / 10_000
        self._buy_f, self._sell_f = 1.0 + f, 1.0 - f
        self._hurdle_f = float(self._hurdle) * (1 - 1e-9)  # below it by far more than float error
        self.currencies = {
            self._bh: (self._b, self._home),
            self._ah: (self._a, self._home),
            self._ab: (self._a, self._b),
        }

    def value(self, currency: str) -> float:
        if currency == self._home:
            return 1.0
        return self.mid(self._bh if currency == self._b else self._ah)

    def _scan(self, quote: QuoteTick) -> Arbitrage | None:
        if self.fresh(quote.ts) is None:
            return None
        last = self._last
        bh, ah, ab = last[self._bh], last[self._ah], last[self._ab]
        # A float screen first, so most quotes cost a few multiplications; the decision
        # itself is taken on the exact Decimal values below.
        buy, sell = self._buy_f, self._sell_f
        forward_f = ah.bid * sell / (bh.ask * buy * ab.ask * buy)
        reverse_f = ab.bid * sell * bh.bid * sell / (ah.ask * buy)
        if max(forward_f, reverse_f) < self._hurdle_f:
            return None
        ctx = self.ctx
        touch: dict[str, tuple[Decimal, Decimal]] = {}
        for sym in (self._bh, self._ah, self._ab):
            q = last[sym]
            touch[sym] = (ctx.round_price(sym, q.bid), ctx.round_price(sym, q.ask))
        forward, reverse = cycle_values(
            touch[self._bh], touch[self._ah], touch[self._ab], self._fee
        )
        if forward > self._hurdle:
            return self._forward(touch, forward, quote.ts)
        if reverse > self._hurdle:
            return self._reverse(touch, reverse, quote.ts)
        return None

    def _forward(
        self, touch: dict[str, tuple[Decimal, Decimal]], value: Decimal, now: int
    ) -> Arbitrage | None:
        """Buy B with H, buy A with B, sell A for H; sized at the limits (the worst prices the
        legs can fill at), B first, so the B the A/B leg can cost never exceeds the B bought."""
        bh, ah, ab = self._bh, self._ah, self._ab
        up = self._room(value)
        lim_bh = self._limit(bh, touch[bh][1] * up)
        lim_ab = self._limit(ab, touch[ab][1] * up)
        lim_ah = self._limit(ah, touch[ah][0] / up)
        b_per_a = Fraction(lim_ab * (ONE + self._f))  # most B one unit of A can cost
        h_per_b = Fraction(lim_bh * (ONE + self._f))
        last = self._last
        cap_a = min(
            as_decimal(last[ah].bid_size),
            as_decimal(last[ab].ask_size),
            as_decimal(last[bh].ask_size) / b_per_a,
            as_decimal(self.max_notional) / (h_per_b * b_per_a),
        )
        qb = self.round_lot(bh, cap_a * b_per_a)
        qa = self._lots_of_a(Fraction(qb) / b_per_a)
        if qa <= 0 or qb <= 0:
            return None
        legs = [
            Leg(bh, BUY, qb, touch[bh][1], lim_bh, self._b, self._home),
            Leg(ab, BUY, qa, touch[ab][1], lim_ab, self._a, self._b),
            Leg(ah, SELL, qa, touch[ah][0], lim_ah, self._a, self._home),
        ]
        return Arbitrage(legs, self._home, now, value)

    def _reverse(
        self, touch: dict[str, tuple[Decimal, Decimal]], value: Decimal, now: int
    ) -> Arbitrage | None:
        """Buy A with H, sell A for B, sell B for H; the B sold is at most what the A/B leg
        brings in at its limit, net of its fee."""
        bh, ah, ab = self._bh, self._ah, self._ab
        up = self._room(value)
        lim_ah = self._limit(ah, touch[ah][1] * up)
        lim_ab = self._limit(ab, touch[ab][0] / up)
        lim_bh = self._limit(bh, touch[bh][0] / up)
        b_per_a = Fraction(lim_ab * (ONE - self._f))  # least B one unit of A brings in
        last = self._last
        cap_a = min(
            as_decimal(last[ah].ask_size),
            as_decimal(last[ab].bid_size),
            as_decimal(last[bh].bid_size) / b_per_a,
            as_decimal(self.max_notional) / Fraction(lim_ah * (ONE + self._f)),
        )
        qa = self._lots_of_a(cap_a)
        qb = self.round_lot(bh, Fraction(qa) * b_per_a)
        if qa <= 0 or qb <= 0:
            return None
        legs = [
            Leg(ah, BUY, qa, touch[ah][1], lim_ah, self._a, self._home),
            Leg(ab, SELL, qa, touch[ab][0], lim_ab, self._a, self._b),
            Leg(bh, SELL, qb, touch[bh][0], lim_bh, self._b, self._home),
        ]
        return Arbitrage(legs, self._home, now, value)

    def _room(self, value: Decimal) -> Decimal:
        """Factor each buy limit is raised by (and each sell limit divided by): with every leg
        at its limit the cycle is worth ``value · (hurdle / value) ** limit_slack``."""
        return (value / self._hurdle) ** self._slack if self._slack else ONE

    def _limit(self, symbol: str, price: Decimal) -> Decimal:
        return self.ctx.round_price(symbol, float(price))

    def _lots_of_a(self, size: Fraction) -> Decimal:
        """Whole lots of A valid on both pairs that trade it."""
        if size <= 0:
            return Decimal(0)
        return min(self.round_lot(self._ah, size), self.round_lot(self._ab, size))


def triangle_roles(symbols: list[str]) -> tuple[str, str, str, str, str, str] | str:
    """(B/H, A/H, A/B symbols, H, B, A) of three pairs forming a triangle, or why they do not.

    H is the currency two of the pairs are quoted in; B the quote currency of the third pair
    and A its base (``BTC-USD``, ``ETH-USD``, ``ETH-BTC``: H = USD, B = BTC, A = ETH).
    """
    pairs = {s: pair_currencies(s) for s in symbols}
    unnamed = [s for s, p in pairs.items() if p is None]
    if unnamed:
        return f"{unnamed[0]!r} is not a pair written BASE-QUOTE or BASE/QUOTE"
    named = {s: p for s, p in pairs.items() if p is not None}
    quotes = [q for _, q in named.values()]
    homes = {q for q in quotes if quotes.count(q) == 2}
    if len(named) != 3 or len(homes) != 1:
        return f"{symbols!r} are not three pairs, two of them quoted in the same currency"
    home = homes.pop()
    (cross, (a, b)) = next((s, p) for s, p in named.items() if p[1] != home)
    by_base = {p[0]: s for s, p in named.items() if p[1] == home}
    if set(by_base) != {a, b}:
        return f"{symbols!r} do not close a triangle: need {a}-{home}, {b}-{home} and {a}-{b}"
    return by_base[b], by_base[a], cross, home, b, a
