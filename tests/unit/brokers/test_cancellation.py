"""Stopping the pool must end every task it runs. Python 3.11's ``asyncio.wait_for`` drops a
cancellation that arrives while the awaited call is completing; the pool's update stream then
polled on and ``BrokerPool.stop`` waited for it forever (seen as a hung CI run)."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

from neural_trader.brokers.base import SyncCalls, VenueError
from neural_trader.brokers.paper_adapter import PaperBroker
from neural_trader.brokers.pool import BrokerPool
from neural_trader.brokers.routing import Router
from neural_trader.core.bus import MessageBus
from neural_trader.core.instruments import Equity, InstrumentRegistry


def _translate(exc: Exception) -> VenueError:
    raise AssertionError(f"the quick call does not fail: {exc}")


async def test_a_cancel_reaches_a_sync_call_loop_whenever_it_arrives() -> None:
    """Cancel a loop of quick worker-thread calls at 300 random moments: each time, the one
    cancel ends it (with wait_for, hundreds of cancels went missing in the same loop)."""
    calls = SyncCalls("v", _translate, timeout_s=5.0)
    rng = random.Random(11)

    async def poll() -> None:
        while True:
            await calls.run(sum, range(200))

    ended = 0
    for _ in range(300):
        task = asyncio.create_task(poll())
        await asyncio.sleep(rng.random() * 0.002)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=1.0)
        while not task.done():  # the cancel went missing: end the loop before failing
            task.cancel()
            await asyncio.wait([task], timeout=0.1)
        if not done:
            break
        ended += 1
    assert ended == 300


async def test_stop_ends_a_task_that_swallowed_its_cancellation() -> None:
    instruments = InstrumentRegistry()
    instruments.add(Equity("AAPL"))
    pool = BrokerPool(
        MessageBus(),
        {"paper": [PaperBroker(instruments, Decimal(1000))]},
        Router.from_rules({}, ["paper"]),
    )
    await pool.start()
    swallowed = []

    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed.append(True)  # the first cancellation goes missing

    task = pool.spawn(stubborn())
    await asyncio.sleep(0)
    await pool.stop()
    assert task.cancelled() and swallowed == [True]
