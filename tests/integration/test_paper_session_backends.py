"""The same paper session on SQLite and on PostgreSQL stores the same book of record."""

from __future__ import annotations

from pathlib import Path

import pytest

from neural_trader.storage import Store
from neural_trader.trader import NeuralTrader

pytestmark = pytest.mark.integration


async def run_session(url: str) -> tuple[dict[str, object], list[tuple[object, ...]]]:
    nt = NeuralTrader.new(**{"database.url": url, "run.symbols": ["SPX", "XOM"]})
    final = await nt.start_trading(speed=0, until_end=True)
    await nt.shutdown()
    store = Store(url)
    keys = ("fill_id", "quantity", "price", "commission")
    fills = [tuple(f[k] for k in keys) for f in store.list_fills("paper")]
    store.close()
    return final, fills


async def test_sqlite_and_postgres_agree(tmp_path: Path, pg_url: str) -> None:
    lite, lite_fills = await run_session(f"sqlite:///{tmp_path / 'nt.db'}")
    pg, pg_fills = await run_session(pg_url)
    assert len(lite_fills) > 50
    assert pg_fills == lite_fills
    assert pg == lite
