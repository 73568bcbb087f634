"""Trade the news: Loughran–McDonald headline sentiment per symbol, decayed over time.

Every news item about a symbol adds its headline's LM polarity (in [−1, 1]) to that symbol's
sentiment ``S``, which halves every ``half_life_hours`` (:class:`DecayedSentiment`). On each
bar's close the strategy reads ``S`` at the bar's time:

* flat and ``S > entry`` → buy ``fraction`` of equity; with ``allow_short``, flat and
  ``S < −entry`` → sell short;
* long and ``S < exit`` → close; short and ``S > −exit`` → close.

News stamped at or before a bar's time is known at its close; an item that arrives later
cannot change the decision (the kernel replays news and bars in time order). Orders fill at
the next bar's open at the earliest.
"""

from __future__ import annotations

from neural_trader.core.market_data import Bar
from neural_trader.core.news import NewsItem
from neural_trader.errors import StrategyError
from neural_trader.news.sentiment import DecayedSentiment, headline_score
from neural_trader.strategies.base import Param, Strategy

HOUR_NS = 3_600 * 10**9


class Sentiment(Strategy):
    name = "sentiment"

    half_life_hours: float = Param(24.0, gt=0, description="hours for sentiment to halve")
    entry: float = Param(0.5, gt=0, description="decayed sentiment that opens a position")
    exit: float = Param(0.0, description="decayed sentiment below which a long is closed")
    fraction: float = Param(1.0, gt=0, le=1, description="fraction of equity per position")
    allow_short: bool = Param(False, description="mirror the rules for short positions")

    def check_params(self) -> None:
        if self.exit >= self.entry:
            raise StrategyError(
                f"sentiment: parameter 'exit' ({self.exit}) must be below 'entry' ({self.entry})",
                strategy=self.name,
                parameter="exit",
            )

    def on_start(self) -> None:
        self.sentiment = DecayedSentiment(round(self.half_life_hours * HOUR_NS))
        self.scored: list[tuple[int, str, float]] = []  # (ts, headline, score)

    def on_news(self, item: NewsItem) -> None:
        score = headline_score(item.headline)
        self.scored.append((item.ts, item.headline, score))
        if score == 0.0:
            return
        for symbol in item.symbols:
            if self.symbols is None or symbol in self.symbols:
                self.sentiment.add(symbol, item.ts, score)

    def on_bar(self, bar: Bar) -> None:
        sym = bar.symbol
        if self.ctx.open_orders(self.id, sym):
            return
        s = self.sentiment.value(sym, bar.ts)
        held = self.position(sym)
        if held > 0:
            if s < self.exit:
                self.close(sym)
        elif held < 0:
            if s > -self.exit:
                self.close(sym)
        elif s > self.entry:
            self.buy(sym, fraction=self.fraction)
        elif self.allow_short and s < -self.entry:
            self.sell(sym, fraction=self.fraction)
