"""Paper sessions of quoting and news strategies: a market maker on ticks derived from the
bundled EURUSD (stopped and resumed with nothing lost or doubled), sentiment on a news file,
and a clear error for a session that mixes tick and bar strategies."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from neural_trader.config import Settings, load_settings
from neural_trader.core.events import OrderFilled
from neural_trader.core.orders import Order
from neural_trader.errors import ConfigError
from neural_trader.storage import Store
from neural_trader.trading.session import PaperSession

MM = {"run.symbols": "EURUSD", "run.start": "2017-12-01", "strategies.enabled": "market_making"}
KEYS = ("fill_id", "side", "quantity", "price", "commission")


def settings(**overrides: Any) -> Settings:
    return load_settings(None, {k: v for k, v in overrides.items()})


async def run(session: PaperSession, stop_after_fills: int | None = None) -> None:
    stop = asyncio.Event()
    if stop_after_fills is not None:
        seen = []

        def count(_: OrderFilled) -> None:
            seen.append(1)
            if len(seen) >= stop_after_fills:
                stop.set()

        session.bus.subscribe(OrderFilled, count)
    await session.run(stop, speed=0, until_end=True)


def decided(order: Order) -> int:
    """The data time an order was decided at (its id carries it; the order's own times are
    the session's live clock)."""
    return int(order.client_order_id.split("-")[-2])


def fills(store: Store, account: str) -> list[tuple[Any, ...]]:
    return [tuple(f[k] for k in KEYS) for f in store.list_fills(account)]


def test_a_market_maker_paper_trades_ticks_and_resumes_to_the_same_book(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'nt.db'}")
    try:
        whole = PaperSession(settings(**MM), store, "whole")
        asyncio.run(run(whole))
        assert whole.status.finished and whole.ticks
        assert whole.status.bars_total == sum(len(t) for t in whole.ticks)
        reference = fills(store, "whole")
        sides = {f[1] for f in reference}
        assert len(reference) > 20 and sides == {"buy", "sell"}
        first = PaperSession(settings(**MM), store, "split")
        asyncio.run(run(first, stop_after_fills=10))
        assert not first.status.finished
        second = PaperSession(settings(**MM), store, "split")
        asyncio.run(run(second))
        assert second.status.finished
        split = fills(store, "split")
        # Up to the stop the two runs are the same; after it the market maker quotes afresh
        # (its resting quotes were restored at the venue), so later fills may differ. Nothing
        # is lost or doubled, and the stored book is exactly what its fills say.
        assert split[:10] == reference[:10]
        assert len({f[0] for f in split}) == len(split) > 10
        held = sum((f[2] if f[1] == "buy" else -f[2] for f in split), Decimal(0))
        spent = sum(((f[2] if f[1] == "buy" else -f[2]) * f[3] + f[4] for f in split), Decimal(0))
        account = store.load_account("split")
        stored = {p.symbol: p.quantity for p in account.positions}
        assert stored.get("EURUSD", Decimal(0)) == held
        assert account.cash == account.starting_cash - spent
    finally:
        store.close()


def test_a_sentiment_session_reads_its_news_file(tmp_path: Path) -> None:
    news = tmp_path / "news.jsonl"
    news.write_text(
        '{"time": "2015-03-02T14:30:00Z", "symbols": ["AAPL"], '
        '"headline": "Margins improve on strong demand"}\n'
        '{"time": "2015-03-10T15:00:00Z", "symbols": ["AAPL"], '
        '"headline": "Sales decline as losses widen"}\n',
        encoding="utf-8",
    )
    store = Store(f"sqlite:///{tmp_path / 'nt.db'}")
    try:
        s = settings(
            **{"run.symbols": "AAPL", "run.start": "2015-02-01", "run.news": str(news)},
            **{"strategies.enabled": "sentiment"},
        )
        session = PaperSession(s, store)
        asyncio.run(run(session))
        orders = sorted(session.kernel.orders.values(), key=decided)
        days = [pd.Timestamp(decided(o), tz="UTC").date().isoformat() for o in orders]
        assert days == ["2015-03-02", "2015-03-10"]
        assert [o.side.value for o in orders] == ["buy", "sell"]
        assert len(store.list_fills("paper")) == 2
    finally:
        store.close()


def test_a_session_cannot_mix_tick_and_bar_strategies(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'nt.db'}")
    try:
        mixed = {**MM, "strategies.enabled": "market_making,sma_cross"}
        with pytest.raises(ConfigError, match="market_making quote on ticks and the others"):
            PaperSession(settings(**mixed), store)
        news = tmp_path / "n.csv"
        news.write_text("time,symbols,headline\n2017-12-01,EURUSD,Euro gains\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=r"run\.news"):
            PaperSession(settings(**MM, **{"run.news": str(news)}), store)
    finally:
        store.close()
