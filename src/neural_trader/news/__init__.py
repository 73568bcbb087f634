"""News as market events: from files and Alpaca's news API, scored with a finance lexicon."""

from neural_trader.core.news import NewsItem
from neural_trader.news.files import load_news
from neural_trader.news.sentiment import DecayedSentiment, headline_score

__all__ = ["DecayedSentiment", "NewsItem", "headline_score", "load_news"]
