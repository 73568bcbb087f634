"""The backtest runner: replays bar series, or trade and quote ticks, through the kernel on a
simulated clock.

The loops below are the whole hot path of a backtest: they turn columns into ``Bar`` (or
``TradeTick``/``QuoteTick``) objects one at a time and hand them to the kernel; equity is
rebuilt afterwards at the bars' closes. No pandas, I/O or logging happens inside them.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from neural_trader.analytics.metrics import PerformanceSummary, summarize
from neural_trader.brokers.paper import FeeModel, PaperVenue
from neural_trader.core.bus import MessageBus
from neural_trader.core.clock import SimulatedClock
from neural_trader.core.events import OrderDenied, OrderRejected
from neural_trader.core.instruments import InstrumentRegistry
from neural_trader.core.market_data import Bar, BarSeries, QuoteTick, TickSeries, TradeTick
from neural_trader.core.news import NewsItem
from neural_trader.core.orders import Order
from neural_trader.core.portfolio import Portfolio
from neural_trader.data.ticks import derived_ticks
from neural_trader.errors import DataError
from neural_trader.risk.breaker import BreakerConfig, BreakerTripped
from neural_trader.risk.gate import PreTradeGate, RiskLimits
from neural_trader.strategies.base import Strategy, overrides
from neural_trader.trading.breaker import BreakerMonitor
from neural_trader.trading.equity import EquityRecorder
from neural_trader.trading.instruments import default_instrument
from neural_trader.trading.kernel import Kernel
from neural_trader.trading.trades import Trade, TradeTracker

Progress = Callable[[int, int], None]


@dataclass
class BacktestConfig:
    starting_cash: Decimal = Decimal(100_000)
    currency: str = "USD"
    fees: FeeModel = field(default_factory=FeeModel)
    # Fees of instruments quoted on a named venue (NAME@venue), by venue; others pay ``fees``.
    venue_fees: dict[str, FeeModel] = field(default_factory=dict)
    slippage_bps: Decimal = Decimal(0)
    max_volume_participation: float | None = None
    limits: RiskLimits = field(
        default_factory=lambda: RiskLimits(Decimal("1e18"), Decimal("1e18"), False)
    )
    breaker: BreakerConfig | None = None


@dataclass
class BacktestResult:
    strategy: str
    params: dict[str, object]
    symbols: list[str]
    timestamps: np.ndarray
    equity: np.ndarray
    in_market: np.ndarray
    trades: list[Trade]
    orders: list[Order]
    denials: list[OrderDenied]
    rejections: list[OrderRejected]
    breaker_trips: list[BreakerTripped]
    portfolio: Portfolio
    summary: PerformanceSummary
    bars_processed: int
    ticks_processed: int = 0

    @property
    def final_equity(self) -> float:
        return float(self.equity[-1]) if len(self.equity) else float(self.portfolio.starting_cash)


def merge_order(series: Sequence[BarSeries]) -> tuple[np.ndarray, np.ndarray]:
    """Replay order across several series: by timestamp, ties in the order given (stable)."""
    ts = np.concatenate([s.ts for s in series])
    which = np.concatenate([np.full(len(s), i, dtype=np.int64) for i, s in enumerate(series)])
    idx = np.concatenate([np.arange(len(s), dtype=np.int64) for s in series])
    order = np.argsort(ts, kind="stable")
    return which[order], idx[order]


def run_backtest(
    strategy: Strategy,
    series: Sequence[BarSeries],
    config: BacktestConfig | None = None,
    progress: Progress | None = None,
    instruments: InstrumentRegistry | None = None,
    ticks: Sequence[TickSeries] | None = None,
    news: Sequence[NewsItem] | None = None,
) -> BacktestResult:
    """Replay ``series`` through a fresh kernel with ``strategy`` on the simulated venue.

    With ``ticks``, their trades and quotes are replayed instead of the bars (the venue
    matches on them, resting limits through its queue model) and the bars only mark the
    equity curve at their closes, so every symbol with ticks needs its bars. A strategy that
    quotes (it handles quotes or trades, not bars) given bars alone runs on ticks derived
    from them (:func:`neural_trader.data.derived_ticks`, a spread of two price increments).
    ``news`` items reach the strategies in time order among the bars: an item stamped at or
    before a bar's time comes before that bar (it was known when the bar closed).
    """
    config = config or BacktestConfig()
    if not series or not any(len(s) for s in series):
        raise DataError("no bars to backtest on", symbols=[s.symbol for s in series])
    if ticks is not None:
        unmarked = sorted({t.symbol for t in ticks} - {s.symbol for s in series})
        if unmarked:
            raise DataError("ticks without bars to mark them by", symbols=unmarked)
    if instruments is None:
        instruments = InstrumentRegistry()
        for s in series:
            instruments.add(default_instrument(s.symbol))
    if ticks is None and quotes_only(strategy):
        ticks = [derived_for(s, instruments) for s in series]
    bus = MessageBus()
    clock = SimulatedClock()
    portfolio = Portfolio(config.starting_cash, instruments, config.currency)
    venue = PaperVenue(
        bus,
        instruments,
        config.fees,
        config.slippage_bps,
        config.max_volume_participation,
        venue_fees=config.venue_fees,
    )
    kernel = Kernel(
        bus=bus, clock=clock, venue=venue, gate=PreTradeGate(config.limits), portfolio=portfolio
    )
    tracker = TradeTracker(bus, instruments)
    monitor = None if config.breaker is None else BreakerMonitor(kernel, bus, config.breaker)
    denials: list[OrderDenied] = []
    rejections: list[OrderRejected] = []
    bus.subscribe(OrderDenied, denials.append)
    bus.subscribe(OrderRejected, rejections.append)
    kernel.add_strategy(strategy)
    kernel.start()

    recorder = EquityRecorder(bus, float(config.starting_cash))
    if news and ticks is not None:
        raise DataError("news is replayed among bars; it cannot be combined with ticks yet")
    if news:
        n = _replay_with_news(kernel, clock, series, news, progress)
    else:
        n = _replay(kernel, clock, series, progress) if ticks is None else 0
    n_ticks = 0 if ticks is None else _replay_ticks(kernel, clock, ticks, progress)
    ts_out, eq_out, exp_out = recorder.curve(series, instruments)

    pnls = np.array([float(t.pnl) for t in tracker.trades], dtype=np.float64)
    summary = summarize(eq_out, ts_out, pnls, exp_out)
    return BacktestResult(
        strategy=strategy.name or type(strategy).__name__,
        params=dict(strategy.params),
        symbols=[s.symbol for s in series],
        timestamps=ts_out,
        equity=eq_out,
        in_market=exp_out,
        trades=tracker.trades,
        orders=list(kernel.orders.values()),
        denials=denials,
        rejections=rejections,
        breaker_trips=[] if monitor is None else monitor.breaker.trips,
        portfolio=portfolio,
        summary=summary,
        bars_processed=n,
        ticks_processed=n_ticks,
    )


def _replay(
    kernel: Kernel,
    clock: SimulatedClock,
    series: Sequence[BarSeries],
    progress: Progress | None,
) -> int:
    """Feed every bar to the kernel in time order; returns how many it fed."""
    on_bar = kernel.on_bar
    n = sum(len(s) for s in series)
    step = max(n // 200, 1)
    if len(series) == 1:
        s = series[0]
        sym = s.symbol
        rows = zip(
            s.ts.tolist(),
            s.open.tolist(),
            s.high.tolist(),
            s.low.tolist(),
            s.close.tolist(),
            s.volume.tolist(),
            strict=True,
        )
        if progress is None:
            for t, o, h, lo, c, v in rows:
                clock.ts = t
                on_bar(Bar(sym, t, o, h, lo, c, v))
        else:
            for i, (t, o, h, lo, c, v) in enumerate(rows):
                clock.ts = t
                on_bar(Bar(sym, t, o, h, lo, c, v))
                if i % step == 0:
                    progress(i, n)
    else:
        for i, bar in enumerate(replay(series)):
            clock.ts = bar.ts
            on_bar(bar)
            if progress is not None and i % step == 0:
                progress(i, n)
    if progress is not None:
        progress(n, n)
    return n


def _replay_with_news(
    kernel: Kernel,
    clock: SimulatedClock,
    series: Sequence[BarSeries],
    news: Sequence[NewsItem],
    progress: Progress | None,
) -> int:
    """The bar replay with news merged in: items up to each bar's time go before it."""
    items = sorted(news, key=_news_time)  # stable: equal times keep the given order
    n = sum(len(s) for s in series)
    step = max(n // 200, 1)
    k = 0
    for i, bar in enumerate(replay(series)):
        while k < len(items) and items[k].ts <= bar.ts:
            clock.ts = max(clock.ts, items[k].ts)
            kernel.on_news(items[k])
            k += 1
        clock.ts = bar.ts
        kernel.on_bar(bar)
        if progress is not None and i % step == 0:
            progress(i, n)
    if progress is not None:
        progress(n, n)
    return n


def _news_time(item: NewsItem) -> int:
    return item.ts


def quotes_only(strategy: Strategy | type[Strategy]) -> bool:
    """True for a strategy that acts on quotes or trades and not on bars (a market maker):
    it says so with ``replays_ticks``, or it handles ticks and leaves ``on_bar`` alone."""
    kind = strategy if isinstance(strategy, type) else type(strategy)
    if getattr(kind, "replays_ticks", False):
        return True
    ticks = overrides(kind, "quote") or overrides(kind, "trade")
    return ticks and not overrides(kind, "bar")


def derived_for(bars: BarSeries, instruments: InstrumentRegistry) -> TickSeries:
    """The ticks a quoting strategy replays when only bars exist: spread two increments."""
    increment = instruments.get(bars.symbol).price_increment
    exponent = increment.normalize().as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return derived_ticks(bars, spread=float(2 * increment), decimals=decimals)


def _replay_ticks(
    kernel: Kernel,
    clock: SimulatedClock,
    ticks: Sequence[TickSeries],
    progress: Progress | None,
) -> int:
    """Feed every trade and quote to the kernel in time order; returns how many it fed."""
    on_trade, on_quote = kernel.on_trade, kernel.on_quote
    n = sum(len(t) for t in ticks)
    step = max(n // 200, 1)
    stream: Iterable[TradeTick | QuoteTick]
    if len(ticks) == 1:
        stream = ticks[0].events()
    else:  # heapq.merge is stable: ties keep the order the series are given in
        stream = heapq.merge(*(t.events() for t in ticks), key=_tick_time)
    for i, tick in enumerate(stream):
        clock.ts = tick.ts
        if isinstance(tick, TradeTick):
            on_trade(tick)
        else:
            on_quote(tick)
        if progress is not None and i % step == 0:
            progress(i, n)
    if progress is not None:
        progress(n, n)
    return n


def _tick_time(tick: TradeTick | QuoteTick) -> int:
    return tick.ts


def replay(series: Sequence[BarSeries]) -> Iterator[Bar]:
    """All bars of ``series`` in time order (ties in the order the series are given)."""
    which, idx = merge_order(series)
    cols = [
        (
            s.symbol,
            s.ts.tolist(),
            s.open.tolist(),
            s.high.tolist(),
            s.low.tolist(),
            s.close.tolist(),
            s.volume.tolist(),
        )
        for s in series
    ]
    for w, j in zip(which.tolist(), idx.tolist(), strict=True):
        sym, ts, op, hi, lo, cl, vol = cols[w]
        yield Bar(sym, ts[j], op[j], hi[j], lo[j], cl[j], vol[j])
