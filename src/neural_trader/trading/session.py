"""A paper-trading session: the kernel on the simulated venue, persisted, resumable, replaying
bundled data through the live (asyncio, wall-clock) runner.

On start it restores cash, positions, open orders and the ids of every order already sent from
storage, then replays the data: bars up to the stored checkpoint only warm the strategies up
(no matching, no orders), later bars trade. Because order ids are derived from the data time a
decision was made at, a stretch replayed twice after a crash cannot send an order twice.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from neural_trader.brokers.paper import FeeModel, PaperVenue
from neural_trader.config import Settings
from neural_trader.core.bus import MessageBus
from neural_trader.core.clock import LiveClock
from neural_trader.core.events import (
    OrderDenied,
    OrderFilled,
    OrderRejected,
)
from neural_trader.core.instruments import InstrumentRegistry
from neural_trader.core.market_data import Bar, BarSeries, QuoteTick, TickSeries, TradeTick
from neural_trader.core.news import NewsItem
from neural_trader.core.portfolio import Portfolio
from neural_trader.core.venue import ExecutionVenue
from neural_trader.data import load_bars
from neural_trader.errors import ConfigError, StrategyError
from neural_trader.news import load_news
from neural_trader.risk.breaker import BreakerTripped
from neural_trader.risk.gate import PreTradeGate, limits_from
from neural_trader.storage import Store
from neural_trader.storage.store import AccountState
from neural_trader.strategies import strategy_class
from neural_trader.strategies.base import Strategy
from neural_trader.strategies.manager import ManagedStrategy, StrategyManager
from neural_trader.strategies.neural_forecast import ForecastSource
from neural_trader.strategies.services import StrategyServices, attach_services
from neural_trader.trading.backtest import derived_for, quotes_only, replay
from neural_trader.trading.breaker import BreakerMonitor, breaker_config
from neural_trader.trading.instruments import default_instrument
from neural_trader.trading.kernel import Kernel
from neural_trader.trading.recorder import LedgerRecorder
from neural_trader.trading.trades import TradeTracker

STREAM = "replay"
CHECKPOINT_EVERY_S = 1.0


@dataclass
class SessionStatus:
    """What the status view shows; updated by the runner, read by the view."""

    bars_total: int = 0
    bars_done: int = 0
    resumed_from: int | None = None
    data_ts: int = 0
    finished: bool = False
    fills: int = 0
    denials: int = 0
    rejections: int = 0
    events: deque[str] = field(default_factory=lambda: deque(maxlen=8))


class PaperSession:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        account: str = "paper",
        services: StrategyServices | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.account = account
        self.status = SessionStatus()
        run = settings.run
        start = None if run.start is None else str(run.start)
        self.series: list[BarSeries] = [load_bars(sym, start=start) for sym in run.symbols]
        self.news: list[NewsItem] = [] if run.news is None else load_news(run.news)
        self.instruments = InstrumentRegistry()
        for s in self.series:
            self.instruments.add(default_instrument(s.symbol))
        paper = settings.paper
        state = store.ensure_account(account, paper.currency, paper.starting_cash)
        self.bus = MessageBus()
        self.portfolio = Portfolio(state.starting_cash, self.instruments, state.currency)
        self.venue: ExecutionVenue = self._venue()
        gate = PreTradeGate(limits_from(settings.risk))
        self.kernel = Kernel(
            bus=self.bus, clock=LiveClock(), venue=self.venue, gate=gate, portfolio=self.portfolio
        )
        self.recorder = LedgerRecorder(self.bus, self.kernel, store, account)
        self.trades = TradeTracker(self.bus, self.instruments)
        breaker = breaker_config(settings.risk.circuit_breaker)
        self.breaker = None if breaker is None else BreakerMonitor(self.kernel, self.bus, breaker)
        self.manager = StrategyManager(self.kernel)
        given = services or local_services(settings, store)
        for name, share in settings.strategies.shares().items():
            params = settings.strategies.params.get(name, {})
            strategy = attach_services(strategy_class(name).from_params(params), given)
            self.manager.add(strategy, share)
            self.manager.start(strategy.id)
        self.ticks: list[TickSeries] = self._tick_streams()
        if self.news and self.ticks:
            raise ConfigError("run.news: news is replayed among bars, not with quote strategies")
        self._restore()
        self.bus.subscribe(OrderFilled, self._note_fill)
        self.bus.subscribe(OrderDenied, self._note_denial)
        self.bus.subscribe(OrderRejected, self._note_rejection)
        self.bus.subscribe(BreakerTripped, self._note_trip)

    def _venue(self) -> ExecutionVenue:
        """The simulated venue, matching orders against the replayed data."""
        paper = self.settings.paper
        return PaperVenue(
            self.bus,
            self.instruments,
            FeeModel(paper.commission_per_share, paper.commission_bps, paper.commission_min),
            paper.slippage_bps,
            paper.max_volume_participation,
        )

    def _restore_venue(self, saved: AccountState) -> None:
        assert isinstance(self.venue, PaperVenue)
        self.venue.restore(saved.client_order_ids, saved.open_orders)

    def _restore(self) -> None:
        saved = self.store.load_account(self.account)
        if saved is None:
            return
        self.portfolio.restore(saved.cash, saved.positions, saved.total_commissions)
        self.kernel.adopt(saved.client_order_ids, [o for o, _ in saved.open_orders])
        self._restore_venue(saved)
        for order, ts in saved.open_orders:
            self.recorder.remember(order, ts)
        self.status.resumed_from = self.store.load_checkpoint(self.account, STREAM)

    # -- status notes (off the per-bar path: only on order events) ----------------------------
    def _note_fill(self, event: OrderFilled) -> None:
        f = event.fill
        self.status.fills += 1
        self.status.events.append(
            f"fill {f.side.value} {f.quantity} {f.symbol} @ {f.price} ({f.client_order_id})"
        )

    def _note_denial(self, event: OrderDenied) -> None:
        self.status.denials += 1
        self.status.events.append(f"denied {event.order.client_order_id}: {event.reason}")

    def _note_rejection(self, event: OrderRejected) -> None:
        self.status.rejections += 1
        self.status.events.append(f"rejected {event.order.client_order_id}: {event.reason}")

    def _note_trip(self, event: BreakerTripped) -> None:
        self.status.events.append(f"circuit breaker tripped: {event.reason} {event.figures}")

    # -- the live runner ----------------------------------------------------------------------
    def bars(self) -> Iterator[Bar]:
        return replay(self.series)

    def _tick_streams(self) -> list[TickSeries]:
        """Derived ticks when the strategies quote (a market maker), else none: one session
        replays either bars or ticks, so every order sees the fill rules its strategy expects."""
        quoting = [m.inner.name for m in self.manager.managed.values() if quotes_only(m.inner)]
        if not quoting:
            return []
        if len(quoting) < len(self.manager.managed):
            raise ConfigError(
                f"strategies.enabled: {', '.join(quoting)} quote on ticks and the others trade "
                "bars; run them in separate sessions"
            )
        return [derived_for(s, self.instruments) for s in self.series]

    def events(self) -> Iterator[Bar | TradeTick | QuoteTick | NewsItem]:
        """What the session replays, in time order: ticks, or bars with news among them (an
        item stamped at or before a bar's time comes first)."""
        if self.ticks:
            yield from heapq.merge(*(t.events() for t in self.ticks), key=_ts)
            return
        items = self.news
        k = 0
        for bar in self.bars():
            while k < len(items) and items[k].ts <= bar.ts:
                yield items[k]
                k += 1
            yield bar

    def _dispatch(self, event: Bar | TradeTick | QuoteTick | NewsItem) -> None:
        kernel = self.kernel
        if isinstance(event, Bar):
            kernel.on_bar(event)
        elif isinstance(event, QuoteTick):
            kernel.on_quote(event)
        elif isinstance(event, TradeTick):
            kernel.on_trade(event)
        else:
            kernel.on_news(event)

    async def run(
        self,
        stop: asyncio.Event,
        speed: float,
        until_end: bool,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        """Replay at ``speed`` bars per second (0 = as fast as possible) until the data ends
        (then stop if ``until_end``, else wait) or ``stop`` is set; checkpoint as it goes."""
        kernel = self.kernel
        status = self.status
        status.bars_total = (
            sum(len(t) for t in self.ticks) if self.ticks else sum(len(s) for s in self.series)
        ) + len(self.news)
        resume = status.resumed_from
        kernel.start()
        started = time.monotonic()
        last_checkpoint = last_tick = started
        live_index = 0
        last_ts = resume or 0
        dispatch = self._dispatch
        recorder = self.recorder
        for event in self.events():
            if stop.is_set():
                break
            if recorder.failure is not None:
                recorder.flush()  # one more try; a second failure stops the session here
            status.bars_done += 1
            if resume is not None and event.ts <= resume:
                kernel.warming_up = True
                dispatch(event)
                kernel.warming_up = False
                continue
            await self._step(event)
            status.data_ts = last_ts = event.ts
            live_index += 1
            now = time.monotonic()
            if now - last_checkpoint >= CHECKPOINT_EVERY_S:
                recorder.flush()  # the checkpoint is never ahead of the ledger
                self.store.save_checkpoint(self.account, STREAM, last_ts)
                last_checkpoint = now
                kernel.retire_finished()  # stored: the session keeps their ids only
            if on_tick is not None and now - last_tick >= 0.25:
                on_tick()
                last_tick = now
            if speed > 0:
                delay = started + live_index / speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    await asyncio.sleep(0)
            elif live_index % 512 == 0:
                await asyncio.sleep(0)
        else:
            status.finished = True
        recorder.flush()
        if last_ts:
            self.store.save_checkpoint(self.account, STREAM, last_ts)
        if on_tick is not None:
            on_tick()
        if status.finished and not until_end:
            await stop.wait()

    async def _step(self, event: Bar | TradeTick | QuoteTick | NewsItem) -> None:
        """One replayed event after the warm-up (the simulated venue needs no waiting)."""
        self._dispatch(event)

    @property
    def symbols(self) -> list[str]:
        """The symbols the session replays."""
        return [series.symbol for series in self.series]

    def add_strategy(self, strategy: Strategy, allocation: float) -> ManagedStrategy:
        """Put one more strategy to work in the running session, with ``allocation`` of the
        account: it sees the data from the next event on (its indicators warm up on what
        follows). It must trade what the session replays: its symbols, and bars or ticks."""
        unknown = sorted(set(strategy.symbols or ()) - set(self.symbols))
        if unknown:
            raise StrategyError(
                f"{', '.join(unknown)}: not replayed by this session "
                f"(it replays {', '.join(self.symbols)})",
                strategy=strategy.name,
                parameter="symbols",
            )
        if quotes_only(strategy) != bool(self.ticks):
            replays, needs = ("ticks", "bars") if self.ticks else ("bars", "quotes and trades")
            raise StrategyError(
                f"{strategy.name} acts on {needs} and this session replays {replays}: run it "
                "in a session of its own",
                strategy=strategy.name,
            )
        managed = self.manager.add(strategy, allocation)
        self.manager.start(strategy.id)
        return managed

    def starting_cash(self) -> Decimal:
        return self.portfolio.starting_cash


def local_services(settings: Settings, store: Store | None = None) -> StrategyServices:
    """Services for strategies built outside the facade: a NeuralService on ``store`` (or on
    the configured database), made on first use only (no strategy that forecasts, no torch)."""
    made: list[ForecastSource] = []

    def forecasts() -> ForecastSource:
        if not made:
            from neural_trader.neural.service import NeuralService

            db = store or Store(settings.database.url, echo=settings.database.echo)
            made.append(NeuralService(settings.neural, db))
        return made[0]

    return StrategyServices(forecasts=forecasts)


def _ts(event: TradeTick | QuoteTick) -> int:
    return event.ts
