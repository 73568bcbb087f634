"""The simulated venue's queue model: where a resting limit order stands at its price, and how
trades and quotes move it forward.

Replayed market data does not contain our orders, so the venue keeps, for each resting limit
order, the size **ahead** of it at its price (``QueueSpot.ahead``) and infers the rest:

* **Joining.** An order joins the back of the queue at its price when the venue accepts it.
  The size ahead is the size displayed at that price in the last quote the venue saw: the
  displayed size when its price is the touch on its side (the bid for a buy, the ask for a
  sell); nothing when it improves on the touch (it opens a new level); and, when the level is
  not displayed (behind the touch) or no quote has been seen, the stated assumption
  ``QueueModel.unknown_depth`` — by default the size displayed at the touch on that side (the
  book assumed as deep at every level as at the touch), 0 without any quote.
  Our own earlier orders at the same price stay ahead of it (time priority).
* **Trades at its price** first consume the market's size ahead, then our orders in the order
  they joined, so a trade can fill an order partly. A trade whose aggressor is on the order's
  own side (a buyer's trade for a resting buy) did not take that side's liquidity and does not
  move it; an unknown aggressor counts for both sides.
* **Trades through its price** (below a resting buy's limit, above a resting sell's) mean the
  whole level was taken: the order fills completely, whatever the trade's size.
* **Quotes** only ever shorten the queue: when the order's price is the touch on its side, the
  size ahead is at most the displayed size (cancellations ahead of it); when the touch on its
  side is worse than its price, the level ahead of it has gone and it is first. A touch better
  than its price says nothing about its level.

Fills from the queue are at the order's limit price, as maker fills. Timing (nothing fills
on data stamped at or before the decision) and the quote-crossing rule are the venue's.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from neural_trader.core.market_data import QuoteTick, TradeTick
from neural_trader.errors import ConfigError


@dataclass(frozen=True)
class QueueModel:
    """The venue's stated assumption for levels whose displayed size it cannot see."""

    unknown_depth: float | None = None

    def __post_init__(self) -> None:
        if self.unknown_depth is not None and not self.unknown_depth >= 0:
            raise ConfigError(f"queue unknown_depth must be >= 0, got {self.unknown_depth}")

    def join(self, buy: bool, price: float, eps: float, quote: QuoteTick | None) -> float:
        """Size ahead of an order joining the level ``price`` now, given the last quote."""
        if quote is None:
            return 0.0 if self.unknown_depth is None else self.unknown_depth
        touch, size = (quote.bid, quote.bid_size) if buy else (quote.ask, quote.ask_size)
        if abs(touch - price) <= eps:
            return size
        improves = price > touch if buy else price < touch
        if improves:
            return 0.0
        return size if self.unknown_depth is None else self.unknown_depth


class QueueSpot:
    """One resting order's place at its level: its side, price and the market size ahead."""

    __slots__ = ("ahead", "buy", "eps", "price")

    def __init__(self, buy: bool, price: float, eps: float, ahead: float) -> None:
        self.buy = buy
        self.price = price
        # Prices within ``eps`` (half a tick) of ours are at our level.
        self.eps = eps
        self.ahead = ahead

    def on_quote(self, quote: QuoteTick) -> None:
        """Shorten the queue to what the quote shows of our level (never lengthen it)."""
        touch, size = (quote.bid, quote.bid_size) if self.buy else (quote.ask, quote.ask_size)
        if abs(touch - self.price) <= self.eps:
            if size < self.ahead:
                self.ahead = size
        elif (touch < self.price) if self.buy else (touch > self.price):
            self.ahead = 0.0

    def traded_through(self, trade: TradeTick) -> bool:
        """The trade printed beyond our price: the whole level, us included, was taken."""
        if self.buy:
            return trade.price < self.price - self.eps
        return trade.price > self.price + self.eps

    def takes_level(self, trade: TradeTick) -> bool:
        """The trade printed at our price against our side of the book."""
        if abs(trade.price - self.price) > self.eps:
            return False
        own = "buy" if self.buy else "sell"
        return trade.aggressor != own


class LevelTrade:
    """One trade's volume walking down the queue of one level, our orders in time priority.

    Feed it the level's resting orders oldest first (``allot`` for each); it hands each the
    volume that reaches it and moves its spot forward by what passed it.
    """

    __slots__ = ("ours_ahead", "ours_filled", "volume")

    def __init__(self, volume: float) -> None:
        self.volume = volume
        self.ours_ahead = 0.0  # leaves of our earlier orders at this level, before the trade
        self.ours_filled = 0.0  # what this trade gave our earlier orders at this level

    def allot(self, spot: QueueSpot, leaves: Decimal) -> float:
        """Volume that reaches the order (before rounding to lots, capped at its leaves)."""
        left = float(leaves)
        reach = self.volume - spot.ahead - self.ours_ahead
        # Everything the trade did not give to our orders ahead went to the market's size.
        spot.ahead = max(spot.ahead - (self.volume - self.ours_filled), 0.0)
        self.ours_ahead += left
        return min(max(reach, 0.0), left)

    def filled(self, quantity: Decimal) -> None:
        """Record what the order just allotted actually filled (rounded down to lots)."""
        self.ours_filled += float(quantity)


def ahead_of_our_last(spots: list[QueueSpot], buy: bool, price: float, eps: float) -> float:
    """The market size ahead of our newest order at this level: a new order of ours at the
    same price cannot stand before it (time priority)."""
    ahead = 0.0
    for s in spots:
        if s.buy is buy and abs(s.price - price) <= eps and s.ahead > ahead:
            ahead = s.ahead
    return ahead
