"""Cross-venue spread arbitrage: buy an instrument where it is cheap and sell it where it is
dear, when the spread across two venues beats both venues' taker fees plus a threshold.

Both legs are sent at once as IOC or FOK limits set from the quotes; what happens when they
fill unequally is the rule of :mod:`.arbitrage_legs` (hedge at the original limits while the
open leg is young and small, then unwind it at market).

**Fees** are taker fees in basis points of each leg's notional, charged in the pair's quote
currency, as the simulated venue charges them (``FeeModel.bps``; a backtest charges each venue
its own with ``BacktestConfig.venue_fees``). ``f = fee_bps / 10_000``.

The same instrument on two venues is two symbols, written ``NAME@venue`` (``BTC-USD@binance``,
``BTC-USD@kraken``; default instruments type them by ``NAME``, see ``trading/instruments.py``).
``fee_a_bps`` is the first symbol's venue's fee, ``fee_b_bps`` the second's (the order of
``symbols``; inferred from the quotes: alphabetical). Buying one unit at the cheap venue's ask
and selling it at the dear venue's bid earns, per unit, ::

    edge = bid · (1 − f_sell) − ask · (1 + f_buy)

and an attempt is entered exactly when ``edge > ask · threshold_bps / 10_000``: the crossed
spread beats both fees plus the threshold. The legs' limits concede ``limit_slack`` of the
excess ``edge − ask · threshold`` as room, half to each leg net of its fee (buy limit
``ask + room / (1 + f_buy)``, sell limit ``bid − room / (1 − f_sell)``, ``room = slack ·
excess / 2``, to the nearest tick), so with both legs at their limits the edge is still the
threshold (``slack = 1``) or more; fills are at the touch or better. Room matters because the
simulated venue matches a taker order on the next quote after the decision, not on the one it
was decided on.

Size: the smaller displayed size of the two touches, at most ``max_order_size``, and no more
than keeps each venue's position within ``±max_inventory`` (buying on one venue and selling on
the other leaves inventory on each that only an opportunity the other way reduces; no transfer
between venues is modelled).
"""

from __future__ import annotations

from decimal import Decimal

from neural_trader.core.market_data import QuoteTick
from neural_trader.core.orders import OrderSide
from neural_trader.errors import StrategyError
from neural_trader.strategies.arbitrage_base import ArbitrageStrategy, as_decimal
from neural_trader.strategies.arbitrage_legs import Arbitrage, Leg, pair_currencies, venue_free
from neural_trader.strategies.base import Param

BPS = Decimal(10_000)
ONE = Decimal(1)
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def spread_edge(ask: Decimal, bid: Decimal, buy_fee_bps: Decimal, sell_fee_bps: Decimal) -> Decimal:
    """Profit per unit of buying at ``ask`` on one venue and selling at ``bid`` on the other,
    after both taker fees (negative when the spread does not pay for them)."""
    return bid * (ONE - sell_fee_bps / BPS) - ask * (ONE + buy_fee_bps / BPS)


class CrossVenueArbitrage(ArbitrageStrategy):
    """Buy where the instrument is cheap and sell where it is dear, when the spread across the
    two venues beats both venues' fees plus a threshold (see the module doc)."""

    name = "cross_venue_arbitrage"

    fee_a_bps: float = Param(10.0, ge=0, le=1_000, description="taker fee, first venue (bps)")
    fee_b_bps: float = Param(10.0, ge=0, le=1_000, description="taker fee, second venue (bps)")
    max_order_size: float = Param(1.0, gt=0, description="largest arbitrage (base units)")
    max_inventory: float = Param(5.0, gt=0, description="largest |position| per venue")

    def check_params(self) -> None:
        if self.max_inventory < self.max_order_size:
            raise StrategyError(
                f"{self.name}: parameter 'max_inventory' ({self.max_inventory}) must be at least "
                f"'max_order_size' ({self.max_order_size}), or a full-size arbitrage could never "
                "be placed",
                strategy=self.name,
                parameter="max_inventory",
            )

    def _check_symbols(self, symbols: list[str]) -> None:
        a, b = symbols
        pa, pb = pair_currencies(a), pair_currencies(b)
        same = pa == pb if pa is not None and pb is not None else True
        if "@" in a and "@" in b:
            same = same and venue_free(a) == venue_free(b)
        if not same:
            self._bad_symbols(f"{a!r} and {b!r} are not the same instrument on two venues")

    def _assign(self, symbols: list[str], given: bool) -> None:
        a, b = symbols if given else sorted(symbols)
        self._a, self._b = a, b
        self._fee = {a: Decimal(repr(self.fee_a_bps)), b: Decimal(repr(self.fee_b_bps))}
        self._threshold = Decimal(repr(self.threshold_bps)) / BPS
        self._max_inv = Decimal(repr(self.max_inventory))
        self._slack = Decimal(repr(self.limit_slack))
        pair = pair_currencies(a)
        base, self._home = pair if pair is not None else (venue_free(a), "")
        self.currencies = {a: (base, self._home), b: (base, self._home)}

    def value(self, currency: str) -> float:
        """The base is worth the mean of the two venues' mids; the home currency is 1."""
        if currency == self._home:
            return 1.0
        return (self.mid(self._a) + self.mid(self._b)) / 2

    def _scan(self, quote: QuoteTick) -> Arbitrage | None:
        quotes = self.fresh(quote.ts)
        if quotes is None:
            return None
        qa, qb = quotes if quotes[0].symbol == self._a else quotes[::-1]
        for cheap, dear in ((qa, qb), (qb, qa)):
            if dear.bid > cheap.ask:  # crossed: at most one direction can be
                return self._attempt_for(cheap, dear, quote.ts)
        return None

    def _attempt_for(self, cheap: QuoteTick, dear: QuoteTick, now: int) -> Arbitrage | None:
        ctx = self.ctx
        buy, sell = cheap.symbol, dear.symbol
        ask, bid = ctx.round_price(buy, cheap.ask), ctx.round_price(sell, dear.bid)
        fee_buy, fee_sell = self._fee[buy], self._fee[sell]
        edge = spread_edge(ask, bid, fee_buy, fee_sell)
        excess = edge - ask * self._threshold
        if excess <= 0:
            return None
        room_buy = float(self._max_inv - ctx.position(buy))
        room_sell = float(self._max_inv + ctx.position(sell))
        size = min(self.max_order_size, cheap.ask_size, dear.bid_size, room_buy, room_sell)
        if size <= 0:
            return None
        qty = min(self.round_lot(buy, as_decimal(size)), self.round_lot(sell, as_decimal(size)))
        if qty <= 0:
            return None
        # Limit room: each leg may give up half the conceded excess, net of its fee.
        give = excess * self._slack / 2
        buy_limit = ctx.round_price(buy, float(ask + give / (ONE + fee_buy / BPS)))
        sell_limit = ctx.round_price(sell, float(bid - give / (ONE - fee_sell / BPS)))
        base, home = self.currencies[buy]
        legs = [
            Leg(buy, BUY, qty, ask, buy_limit, base, home),
            Leg(sell, SELL, qty, bid, sell_limit, base, home),
        ]
        return Arbitrage(legs, home, now, edge)
