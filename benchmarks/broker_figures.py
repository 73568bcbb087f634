"""Broker-pool benchmarks for `make bench`.

* pool_orders_with_persistence — market orders through kernel → risk gate → BrokerPool →
  the paper venue behind the port, in waves of ``WAVE`` per bar, each filled on the next bar,
  with every order event and fill written by the ledger recorder to SQLite (a file in a
  temporary directory; one transaction per event-loop step): orders/s from the first submit
  to the last fill stored.
* pool_added_latency — the pool's cost per order: ``BrokerPool.submit`` awaited (tracking,
  routing, rate limit, breaker, idempotency) against the same paper adapter's
  ``place_order`` awaited directly, both on the same loop, in turn.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from neural_trader.brokers.execution import PoolVenue
from neural_trader.brokers.paper_adapter import PaperBroker
from neural_trader.brokers.pool import BrokerPool, PoolSettings
from neural_trader.brokers.routing import Router
from neural_trader.core.bus import MessageBus
from neural_trader.core.clock import LiveClock
from neural_trader.core.instruments import Equity, InstrumentRegistry
from neural_trader.core.market_data import Bar
from neural_trader.core.orders import Order, OrderSide, OrderStatus
from neural_trader.core.portfolio import Portfolio
from neural_trader.risk.gate import PreTradeGate, RiskLimits
from neural_trader.storage import Store
from neural_trader.trading.kernel import Kernel
from neural_trader.trading.recorder import LedgerRecorder

ORDERS = 2_000
# Orders decided per bar: each wave is submitted, accepted, then filled by the next bar, as a
# live session works (the risk gate's cost grows with the orders working at once).
WAVE = 100
TARGET_ORDERS_PER_S = 5_000
TARGET_ADDED_US = 50.0
SETTINGS = PoolSettings(health_check_interval_s=3600)


def _pool(bus: MessageBus, ledger: Portfolio, paper: PaperBroker) -> BrokerPool:
    router = Router.from_rules({}, ["paper"])
    return BrokerPool(
        bus, {"paper": [paper]}, router, ledger, SETTINGS, rng=random.Random(1),
        requests_per_s={"paper": 1e9},
    )  # fmt: skip


async def _through_the_pool(db: Path, n: int) -> dict[str, Any]:
    instruments = InstrumentRegistry()
    instruments.add(Equity("AAPL"))
    bus = MessageBus()
    ledger = Portfolio(Decimal(10**9), instruments)
    ledger.last_price["AAPL"] = 100.0
    paper = PaperBroker(instruments, Decimal(10**9))
    pool = _pool(bus, ledger, paper)
    kernel = Kernel(
        bus=bus, clock=LiveClock(), venue=PoolVenue(pool), gate=PreTradeGate(RiskLimits()),
        portfolio=ledger,
    )  # fmt: skip
    store = Store(f"sqlite:///{db}")
    store.ensure_account("bench", "USD", Decimal(10**9))
    LedgerRecorder(bus, kernel, store, "bench")
    await pool.start()
    orders = [Order(f"b{i}", "bench", "AAPL", OrderSide.BUY, Decimal(1)) for i in range(n)]
    t0 = time.perf_counter()
    for start in range(0, n, WAVE):
        wave = orders[start : start + WAVE]
        for order in wave:
            kernel.submit(order)
        while any(o.status is not OrderStatus.ACCEPTED for o in wave):
            await asyncio.sleep(0)
        paper.on_bar(Bar("AAPL", time.time_ns(), 100.0, 101.0, 99.0, 100.0, 1e12))
        while any(o.status is not OrderStatus.FILLED for o in wave):
            await asyncio.sleep(0)
    await asyncio.sleep(0)  # the last step's ledger writes
    seconds = time.perf_counter() - t0
    stored = len(store.list_fills("bench"))
    await pool.stop()
    store.close()
    return {
        "orders": n,
        "fills_stored": stored,
        "seconds": round(seconds, 3),
        "orders_per_s": round(n / seconds),
        "target_orders_per_s": TARGET_ORDERS_PER_S,
        "ratio_to_target": round(n / seconds / TARGET_ORDERS_PER_S, 3),
        "orders_per_bar": WAVE,
        "storage": "sqlite file",
    }


async def _added_latency(n: int) -> dict[str, Any]:
    instruments = InstrumentRegistry()
    instruments.add(Equity("AAPL"))
    bus = MessageBus()
    ledger = Portfolio(Decimal(10**9), instruments)
    paper = PaperBroker(instruments, Decimal(10**9))
    direct = PaperBroker(instruments, Decimal(10**9))
    await direct.connect()
    pool = _pool(bus, ledger, paper)
    await pool.start()
    pooled, alone = np.empty(n), np.empty(n)
    for i in range(n):
        a = Order(f"p{i}", "bench", "AAPL", OrderSide.BUY, Decimal(1))
        a.transition(OrderStatus.SUBMITTED, 1)
        b = Order(f"d{i}", "bench", "AAPL", OrderSide.BUY, Decimal(1))
        b.transition(OrderStatus.SUBMITTED, 1)
        t0 = time.perf_counter()
        await pool.submit(a)
        t1 = time.perf_counter()
        await direct.place_order(b)
        alone[i] = time.perf_counter() - t1
        pooled[i] = t1 - t0
    await pool.stop()
    await direct.close()
    added = (np.median(pooled) - np.median(alone)) * 1e6
    return {
        "orders": n,
        "pool_submit_p50_us": round(float(np.median(pooled)) * 1e6, 2),
        "direct_place_p50_us": round(float(np.median(alone)) * 1e6, 2),
        "added_p50_us": round(float(added), 2),
        "target_added_us": TARGET_ADDED_US,
    }


def broker_figures() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        through = asyncio.run(_through_the_pool(Path(tmp) / "bench.db", ORDERS))
    return {
        "pool_orders_with_persistence": through,
        "pool_added_latency": asyncio.run(_added_latency(5_000)),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(broker_figures(), indent=2))
