"""The session trading through the BrokerPool (``run.venue = "pool"``, the paper adapter behind
the port) against the same session on the in-process simulated venue: the same fills, to the
cent, and the same stored book. And graceful degradation: a venue going down halts, at the
gate, the strategies it serves (their symbols have no venue up); they resume when it is back."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from neural_trader.brokers.events import BrokerDown, BrokerUp, OrderUnresolved
from neural_trader.brokers.paper_adapter import PaperBroker
from neural_trader.config import Settings, load_settings
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType
from neural_trader.risk.gate import TradingState
from neural_trader.storage import Store
from neural_trader.trading.pool_session import PoolSession, session_for
from neural_trader.trading.session import PaperSession


def settings(venue: str, **extra: Any) -> Settings:
    overrides = {
        "run.venue": venue,
        "run.symbols": ["SPX"],
        "run.start": "2012-01-01",
        "strategies.enabled": ["sma_cross"],
        **extra,
    }
    return load_settings(None, overrides, env={})


def book(store: Store) -> tuple[Any, ...]:
    fills = [
        (f["symbol"], f["side"], Decimal(f["quantity"]), Decimal(f["price"]))
        for f in store.list_fills("paper")
    ]
    state = store.load_account("paper")
    assert state is not None
    return state.cash, tuple(fills), {p.symbol: p.quantity for p in state.positions}


def test_the_pool_session_trades_as_the_simulated_venue(tmp_path: Path) -> None:
    books = {}
    for venue in ("sim", "pool"):
        store = Store(f"sqlite:///{tmp_path / venue}.db")
        session = session_for(settings(venue), store)
        assert isinstance(session, PoolSession) is (venue == "pool")
        asyncio.run(session.run(asyncio.Event(), 0, True))
        books[venue] = book(store)
        store.close()
    cash, fills, _ = books["pool"]
    assert len(fills) > 10 and cash != Decimal(100_000)
    assert books["pool"] == books["sim"]


def test_a_venue_down_halts_the_strategies_it_serves_until_it_is_back(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'nt.db'}")
    session = session_for(settings("pool", **{"brokers.reconnect_max_s": 0.05}), store)
    assert isinstance(session, PoolSession)
    gate = session.kernel.gate
    seen: list[Any] = []
    session.bus.subscribe(BrokerDown, seen.append)
    session.bus.subscribe(BrokerUp, seen.append)

    async def outage() -> None:
        await session.pool.start()
        adapter = session.pool.venue("paper").writer
        assert isinstance(adapter, PaperBroker)
        await adapter.close()  # the connection drops
        assert await session.pool.check("paper") is False
        assert gate.strategy_state("sma_cross") is TradingState.HALTED
        assert session.pool.health()["status"] == "down"  # its only venue
        async with asyncio.timeout(30):
            while gate.strategy_state("sma_cross") is not TradingState.ACTIVE:
                await asyncio.sleep(0.01)  # the reconnect loop brings it back
        await session.pool.stop()

    asyncio.run(outage())
    assert [type(e).__name__ for e in seen][-2:] == ["BrokerDown", "BrokerUp"]
    assert any("halted" in e for e in session.status.events)
    assert any("resumed" in e for e in session.status.events)
    store.close()


def test_the_simulated_venue_stays_the_default(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'nt.db'}")
    session = session_for(load_settings(None, {}, env={}), store)
    assert type(session) is PaperSession
    store.close()


def test_a_restart_looks_up_the_stored_open_orders_at_their_venue(tmp_path: Path) -> None:
    """A limit order working when the session stopped is stored open; the next session tracks
    it at its venue, and the start-up reconciliation asks the venue for it. The paper adapter
    starts empty (a real venue would still hold it), so it is reported, not sent again."""
    url = f"sqlite:///{tmp_path / 'nt.db'}"
    cfg = settings("pool", **{"strategies.enabled": []})

    async def first() -> str:
        store = Store(url)
        session = session_for(cfg, store)
        assert isinstance(session, PoolSession)
        await session.pool.start()
        session.portfolio.last_price["SPX"] = 2000.0
        order = session.kernel.submit(
            Order(
                "resting-1",
                "api",
                "SPX",
                OrderSide.BUY,
                Decimal(1),
                OrderType.LIMIT,
                limit_price=Decimal("1.00"),
            )
        )
        async with asyncio.timeout(10):
            while order.status is not OrderStatus.ACCEPTED:
                await asyncio.sleep(0.01)
        await session.pool.stop()
        session.recorder.flush()
        store.close()
        return order.client_order_id

    cid = asyncio.run(first())
    store = Store(url)
    state = store.load_account("paper")
    assert state is not None and [o.client_order_id for o, _ in state.open_orders] == [cid]
    session = session_for(cfg, store)
    assert isinstance(session, PoolSession)
    unresolved: list[OrderUnresolved] = []
    session.bus.subscribe(OrderUnresolved, unresolved.append)

    async def second() -> None:
        await session.pool.start()
        adapter = session.pool.venue("paper").writer
        assert isinstance(adapter, PaperBroker)
        assert await adapter.open_orders() == []  # looked up, never sent again
        await session.pool.stop()

    asyncio.run(second())
    assert [u.order.client_order_id for u in unresolved] == [cid]
    assert "no such order" in unresolved[0].reason
    store.close()
