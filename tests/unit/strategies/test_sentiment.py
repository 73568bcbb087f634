"""The sentiment strategy: decisions on hand-built bars and headlines, the decayed sum against
an explicit numpy sum, no look-ahead, and news fetched from Alpaca (respx) into a backtest."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import respx
from pydantic import SecretStr

from neural_trader.config import load_settings
from neural_trader.core.market_data import BarSeries
from neural_trader.core.news import NewsItem
from neural_trader.core.orders import OrderSide
from neural_trader.errors import DataError, StrategyError
from neural_trader.news import headline_score
from neural_trader.news.alpaca import BASE_URL, AlpacaNews
from neural_trader.strategies.sentiment import Sentiment
from neural_trader.trader import NeuralTrader
from neural_trader.trading.backtest import run_backtest

HOUR = 3_600 * 10**9
DAY = 24 * HOUR
T0 = 19_000 * DAY + 21 * HOUR  # bar closes at 21:00 UTC
GOOD = "Margins improve on strong demand"  # LM: 2 positive, 0 negative
BAD = "Sales decline as losses widen"  # LM: 0 positive, 2 negative


def bars(n: int, symbol: str = "TEST") -> BarSeries:
    close = 100 + np.arange(n, dtype=np.float64)
    ts = T0 + DAY * np.arange(n, dtype=np.int64)
    return BarSeries(symbol, "1d", ts, close, close, close, close, np.full(n, 1e6))


def test_buys_on_good_news_and_closes_when_bad_news_turns_it() -> None:
    news = [NewsItem(T0 + 2 * DAY, ("TEST",), GOOD), NewsItem(T0 + 5 * DAY - HOUR, ("TEST",), BAD)]
    strat = Sentiment(half_life_hours=24, entry=0.5, exit=0.0)
    result = run_backtest(strat, [bars(8)], news=news)
    decided = [((o.ts_created - T0) // DAY, o.side) for o in result.orders]
    # day 2: S = 1 > 0.5 buys; day 5: S = 2^-(71/24) - 1 < 0 closes
    assert decided == [(2, OrderSide.BUY), (5, OrderSide.SELL)]
    assert [round(s, 6) for _, _, s in strat.scored] == [round(1 / (1 + 1e-6 / 2), 6), -1.0]


def test_decisions_follow_the_explicit_decayed_sum() -> None:
    rng = np.random.default_rng(11)
    n = 120
    times = np.sort(rng.integers(T0 - DAY, T0 + n * DAY, 60))
    heads = rng.choice([GOOD, BAD, "Board meets on Tuesday"], 60, p=[0.45, 0.35, 0.2])
    news = [NewsItem(int(t), ("TEST",), str(h)) for t, h in zip(times, heads, strict=True)]
    scores = np.array([headline_score(h) for h in heads])
    strat = Sentiment(half_life_hours=36, entry=0.6, exit=-0.1, allow_short=True)
    result = run_backtest(strat, [bars(n)], news=news)
    # Replay the rules on S(t) = sum of score * 2^-(t - t_i)/h over items with t_i <= t.
    held, expected = 0, []
    for i in range(n):
        t = T0 + i * DAY
        known = times <= t
        s = float(np.sum(scores[known] * 2.0 ** (-(t - times[known]) / (36 * HOUR))))
        if (held > 0 and s < -0.1) or (held < 0 and s > 0.1):
            expected.append((i, OrderSide.SELL if held > 0 else OrderSide.BUY))
            held = 0
        elif held == 0 and s > 0.6:
            expected.append((i, OrderSide.BUY))
            held = 1
        elif held == 0 and s < -0.6:
            expected.append((i, OrderSide.SELL))
            held = -1
    got = [((o.ts_created - T0) // DAY, o.side) for o in result.orders]
    assert got == expected and len(got) >= 4


def test_news_after_t_changes_nothing_decided_before_t() -> None:
    base = [NewsItem(T0 + 2 * DAY, ("TEST",), GOOD)]
    later = [*base, NewsItem(T0 + 6 * DAY + HOUR, ("TEST",), BAD)]
    a = run_backtest(Sentiment(), [bars(10)], news=base)
    b = run_backtest(Sentiment(), [bars(10)], news=later)
    before = [(o.side, o.ts_created) for o in a.orders if o.ts_created <= T0 + 6 * DAY]
    assert before == [(o.side, o.ts_created) for o in b.orders if o.ts_created <= T0 + 6 * DAY]
    assert len(b.orders) == len(a.orders) + 1  # the later bad news closes on day 7


def test_items_about_other_symbols_are_not_read() -> None:
    strat = Sentiment(symbols=["TEST"])
    run_backtest(strat, [bars(5)], news=[NewsItem(T0 + DAY, ("OTHER",), GOOD)])
    assert strat.scored == []
    with pytest.raises(StrategyError, match="parameter 'exit'"):
        Sentiment(entry=0.3, exit=0.3)


@respx.mock
def test_alpaca_news_drives_a_backtest_on_bundled_data(tmp_path: Path) -> None:
    page = {
        "news": [
            {
                "id": 1, "headline": GOOD, "created_at": "2015-03-02T14:30:00Z",
                "symbols": ["AAPL"], "source": "benzinga", "summary": "", "author": "",
                "updated_at": "2015-03-02T14:30:00Z", "url": "", "images": [], "content": "",
            },
            {
                "id": 2, "headline": BAD, "created_at": "2015-03-10T15:00:00Z",
                "symbols": ["AAPL"], "source": "benzinga", "summary": "", "author": "",
                "updated_at": "2015-03-10T15:00:00Z", "url": "", "images": [], "content": "",
            },
        ],
        "next_page_token": None,
    }  # fmt: skip
    respx.get(f"{BASE_URL}/v1beta1/news").mock(return_value=httpx.Response(200, json=page))
    items = AlpacaNews(SecretStr("k"), SecretStr("s")).fetch(["AAPL"], "2015-03-01", "2015-03-31")
    settings = load_settings(None, {"database.url": f"sqlite:///{tmp_path / 'nt.db'}"})
    nt = NeuralTrader(settings)
    try:
        run = nt.backtest("sentiment", "AAPL", start="2015-02-01", end="2015-04-30", news=items)
        with pytest.raises(DataError, match="cannot read news file"):
            nt.backtest("sentiment", "AAPL", start="2015-02-01", news=tmp_path / "none.csv")
    finally:
        asyncio.run(nt.shutdown())
    orders = run.result.orders
    days = [pd.Timestamp(o.ts_created, tz="UTC").date().isoformat() for o in orders]
    assert [o.side for o in orders] == [OrderSide.BUY, OrderSide.SELL]
    assert days == ["2015-03-02", "2015-03-10"]  # decided at those days' closes
