"""**Generated** multi-venue quote streams for backtesting arbitrage. Nothing here was observed:
every price is drawn from a seeded random model stated below, and the same arguments always
give the same quotes. For recorded quotes use :func:`neural_trader.data.quotes.load_quotes`.

**The model.** Time runs in steps of ``step_ms`` from ``start_ns``.

* An **efficient price** follows a geometric random walk (a martingale): per step
  ``log P' = log P + σ·√dt·Z − σ²·dt/2`` with ``σ`` the annualised ``volatility`` over a
  365-day year of seconds (crypto trades around the clock) and ``Z`` standard normal.
* Each **market** (one venue's book of one pair) quotes it through a :class:`QuoteModel`: it
  sees the price ``lag_ms`` late (rounded to whole steps) and with a pricing error ``ε`` of its
  own, an AR(1) process in log terms with stationary standard deviation ``noise_bps`` and
  half-life ``noise_halflife_ms``, started from its stationary law, plus **shocks**: with
  probability ``shock_prob`` per step, ``ε`` jumps by ``±shock_bps`` (sign equally likely) and
  then decays at the same half-life. Its mid is ``P(t − lag)·e^ε``; it shows
  ``bid = mid·(1 − h)`` rounded down and ``ask = mid·(1 + h)`` rounded up to the price
  increment (at least one increment apart), ``h = half_spread_bps / 10_000``, each with a size
  drawn from an exponential law of mean ``mean_size``, rounded down to ``size_increment`` (at
  least one). It publishes a quote at a step with probability ``quote_prob`` (always at the
  first step), so markets update at different moments.

Lags and shocks make one market's quotes cross another's for a while (a lagging venue after a
move, for its lag; a shocked venue for some seconds, until its error has decayed below the
spreads): the dislocations an arbitrage trades. The defaults (a shock of 60 bps about every
100 s on the slower venue, half-life 3 s) cross the two books a fifth of the time, mostly by
less than the fees, and by more than 25 bps about 4 % of the time.

* :func:`cross_venue_quotes`: one efficient price, one market per venue, symbols
  ``NAME@venue``.
* :func:`triangular_quotes`: two efficient prices, of B and of A in the home currency H
  (correlated), and three markets: ``B-H`` and ``A-H`` quote them, ``A-B`` quotes their ratio
  ``P_A / P_B``, each with its own model, so the cross can be dislocated from the two direct
  pairs.

Random numbers come from ``numpy.random.SeedSequence(seed)``: one child stream for the
efficient prices and one per market, in the order given, each drawing its variables in a fixed
order, so a market's quotes do not change when another market's model does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from neural_trader.core.instruments import CryptoPair, InstrumentRegistry
from neural_trader.core.market_data import BarSeries, FloatArray, TickSeries
from neural_trader.data.quotes import quote_bars, quote_series
from neural_trader.errors import DataError

SECONDS_PER_YEAR = 365 * 86_400
MS = 1_000_000
START_NS = 1_704_067_200 * 10**9  # 2024-01-01 00:00 UTC


@dataclass(frozen=True)
class QuoteModel:
    """How one market quotes an efficient price (see the module doc for each parameter)."""

    lag_ms: float = 0.0
    half_spread_bps: float = 1.0
    noise_bps: float = 1.0
    noise_halflife_ms: float = 1_000.0
    shock_prob: float = 0.0
    shock_bps: float = 0.0
    quote_prob: float = 0.5
    mean_size: float = 1.0

    def __post_init__(self) -> None:
        checks = (
            ("lag_ms", self.lag_ms >= 0),
            ("half_spread_bps", 0 <= self.half_spread_bps < 10_000),
            ("noise_bps", self.noise_bps >= 0),
            ("noise_halflife_ms", self.noise_halflife_ms > 0),
            ("shock_prob", 0 <= self.shock_prob <= 1),
            ("shock_bps", self.shock_bps >= 0),
            ("quote_prob", 0 < self.quote_prob <= 1),
            ("mean_size", self.mean_size > 0),
        )
        for name, ok in checks:
            if not ok:
                raise DataError(
                    f"cannot generate quotes: QuoteModel {name} = {getattr(self, name)!r} is out "
                    "of range",
                    parameter=name,
                )


@dataclass(frozen=True)
class QuoteSet:
    """Generated quote streams with the instruments they were generated for (price and size
    increments, venue), ready for ``run_backtest(strategy, qs.bars(), ticks=qs.ticks,
    instruments=qs.instruments)``."""

    ticks: list[TickSeries]
    instruments: InstrumentRegistry = field(default_factory=InstrumentRegistry)

    @property
    def symbols(self) -> list[str]:
        return [t.symbol for t in self.ticks]

    def bars(self, interval: str = "1s") -> list[BarSeries]:
        """Mid bars of each stream, for the backtest to mark the equity curve by."""
        return [quote_bars(t, interval) for t in self.ticks]

    def until(self, ts: int) -> QuoteSet:
        """The streams as they stood at ``ts``: every quote stamped at or before it."""
        cut = [t.head(int(np.searchsorted(t.ts, ts, side="right"))) for t in self.ticks]
        return QuoteSet(cut, self.instruments)


def cross_venue_quotes(
    symbol: str = "BTC-USD",
    venues: Mapping[str, QuoteModel] | None = None,
    *,
    steps: int = 20_000,
    step_ms: float = 100.0,
    price: float = 30_000.0,
    volatility: float = 0.6,
    seed: int = 0,
    price_increment: Decimal = Decimal("0.01"),
    size_increment: Decimal = Decimal("0.0001"),
    start_ns: int = START_NS,
) -> QuoteSet:
    """Generated quotes of ``symbol`` on each venue (symbols ``symbol@venue``); by default a
    fast, tight venue and a lagging, wider one that is shocked now and then."""
    if venues is None:
        venues = {
            "binance": QuoteModel(half_spread_bps=0.5, noise_bps=0.5, quote_prob=0.8),
            "kraken": QuoteModel(
                lag_ms=300.0,
                half_spread_bps=1.5,
                noise_bps=0.5,
                noise_halflife_ms=3_000.0,
                shock_prob=0.001,
                shock_bps=60.0,
                quote_prob=0.4,
            ),
        }
    if not venues:
        raise DataError("cannot generate quotes: no venues given")
    _check_run(steps, step_ms, price, volatility)
    pair = symbol.replace("/", "-").split("-", 1)
    base, quote = (pair[0], pair[1]) if len(pair) == 2 else (symbol, "USD")
    streams = np.random.SeedSequence(seed).spawn(1 + len(venues))
    dt = step_ms / 1_000
    z = np.random.default_rng(streams[0]).standard_normal(steps)
    fair = _walk(price, volatility, dt, z)
    registry = InstrumentRegistry()
    ticks: list[TickSeries] = []
    for (venue, model), stream in zip(venues.items(), streams[1:], strict=True):
        name = f"{symbol}@{venue}"
        registry.add(
            CryptoPair(
                name,
                base_currency=base,
                currency=quote,
                price_increment=price_increment,
                venue=venue,
            )
        )
        rng = np.random.default_rng(stream)
        ticks.append(
            _market(name, fair, model, rng, step_ms, start_ns, price_increment, size_increment)
        )
    return QuoteSet(ticks, registry)


def triangular_quotes(
    models: Sequence[QuoteModel] | None = None,
    *,
    home: str = "USD",
    base: str = "BTC",
    other: str = "ETH",
    prices: tuple[float, float] = (30_000.0, 2_000.0),
    volatilities: tuple[float, float] = (0.6, 0.8),
    correlation: float = 0.8,
    steps: int = 20_000,
    step_ms: float = 100.0,
    seed: int = 0,
    venue: str = "SIM",
    increments: tuple[Decimal, Decimal, Decimal] = (
        Decimal("0.01"),
        Decimal("0.01"),
        Decimal("0.00001"),
    ),
    size_increment: Decimal = Decimal("0.0001"),
    start_ns: int = START_NS,
) -> QuoteSet:
    """Generated quotes of ``base-home``, ``other-home`` and ``other-base`` (``prices`` are
    those of ``base`` and ``other`` in ``home``); ``models`` in that order, by default tight
    direct pairs and a cross that lags and is shocked now and then."""
    if models is None:
        models = (
            QuoteModel(half_spread_bps=0.5, noise_bps=0.5, quote_prob=0.8),
            QuoteModel(half_spread_bps=0.5, noise_bps=0.5, quote_prob=0.8),
            QuoteModel(
                lag_ms=500.0,
                half_spread_bps=1.0,
                noise_bps=2.0,
                noise_halflife_ms=3_000.0,
                shock_prob=0.002,
                shock_bps=60.0,
                quote_prob=0.5,
            ),
        )
    if len(models) != 3:
        raise DataError(f"cannot generate quotes: a triangle has 3 pairs, got {len(models)}")
    if not -1 <= correlation <= 1:
        raise DataError(f"cannot generate quotes: correlation {correlation} is outside [-1, 1]")
    for p, vol in zip(prices, volatilities, strict=True):
        _check_run(steps, step_ms, p, vol)
    streams = np.random.SeedSequence(seed).spawn(4)
    z = np.random.default_rng(streams[0]).standard_normal((2, steps))
    z_other = correlation * z[0] + math.sqrt(1 - correlation**2) * z[1]
    dt = step_ms / 1_000
    p_base = _walk(prices[0], volatilities[0], dt, z[0])
    p_other = _walk(prices[1], volatilities[1], dt, z_other)
    suffix = f"@{venue}" if venue != "SIM" else ""
    pairs = (
        (f"{base}-{home}{suffix}", base, home, p_base),
        (f"{other}-{home}{suffix}", other, home, p_other),
        (f"{other}-{base}{suffix}", other, base, p_other / p_base),
    )
    registry = InstrumentRegistry()
    ticks: list[TickSeries] = []
    for (name, b, q, fair), model, inc, stream in zip(
        pairs, models, increments, streams[1:], strict=True
    ):
        registry.add(
            CryptoPair(name, base_currency=b, currency=q, price_increment=inc, venue=venue)
        )
        rng = np.random.default_rng(stream)
        ticks.append(_market(name, fair, model, rng, step_ms, start_ns, inc, size_increment))
    return QuoteSet(ticks, registry)


def _check_run(steps: int, step_ms: float, price: float, volatility: float) -> None:
    if steps < 1:
        raise DataError(f"cannot generate quotes: steps must be >= 1, got {steps}")
    if not step_ms > 0 or (step_ms * MS) % 1:
        raise DataError(
            f"cannot generate quotes: step_ms must be a positive whole ns, got {step_ms}"
        )
    if not price > 0:
        raise DataError(f"cannot generate quotes: price must be > 0, got {price}")
    if not volatility >= 0:
        raise DataError(f"cannot generate quotes: volatility must be >= 0, got {volatility}")


def _walk(start: float, volatility: float, dt: float, z: np.ndarray) -> FloatArray:
    """The efficient price at each step: a driftless geometric random walk from ``start``."""
    sigma = volatility * math.sqrt(dt / SECONDS_PER_YEAR)
    steps = sigma * z[1:] - sigma**2 / 2
    return start * np.exp(np.concatenate(([0.0], np.cumsum(steps))))


def _market(
    symbol: str,
    fair: FloatArray,
    model: QuoteModel,
    rng: np.random.Generator,
    step_ms: float,
    start_ns: int,
    tick: Decimal,
    lot: Decimal,
) -> TickSeries:
    """One market's quotes of ``fair`` under ``model`` (the variables drawn in a fixed order).

    scipy.signal is imported here, not with the module: it takes most of a second to load,
    and ``neural_trader.data`` is imported by every backtest, which rarely generates quotes.
    """
    from scipy.signal import lfilter

    n = len(fair)
    z = rng.standard_normal(n)
    jump = rng.random(n) < model.shock_prob
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    publish = rng.random(n) < model.quote_prob
    sizes = rng.exponential(model.mean_size, (2, n))
    rho = 0.5 ** (step_ms / model.noise_halflife_ms)
    sd = model.noise_bps / 10_000
    innovation = sd * math.sqrt(1 - rho**2) * z + np.where(jump, sign * model.shock_bps / 10_000, 0)
    innovation[0] = sd * z[0] + (sign[0] * model.shock_bps / 10_000 if jump[0] else 0.0)
    error = lfilter([1.0], [1.0, -rho], innovation)
    lag = round(model.lag_ms / step_ms)
    seen = fair[np.maximum(np.arange(n) - lag, 0)]
    mid = seen * np.exp(error)
    h = model.half_spread_bps / 10_000
    t = float(tick)
    bid_ticks = np.floor(mid * (1 - h) / t + 1e-9)
    ask_ticks = np.maximum(np.ceil(mid * (1 + h) / t - 1e-9), bid_ticks + 1)
    publish[0] = True
    rows = np.flatnonzero(publish)
    lots = np.maximum(np.floor(sizes[:, rows] / float(lot)), 1.0)
    return quote_series(
        symbol,
        start_ns + rows.astype(np.int64) * int(step_ms * MS),
        _on_grid(bid_ticks[rows], tick),
        _on_grid(ask_ticks[rows], tick),
        _on_grid(lots[0], lot),
        _on_grid(lots[1], lot),
    )


def _on_grid(units: np.ndarray, increment: Decimal) -> FloatArray:
    """``units`` whole increments as the nearest floats with no more decimals than the
    increment has, so a price or size reads back on the grid (``repr`` gives the decimal)."""
    exponent = increment.normalize().as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return np.round(np.round(units) * float(increment), decimals)
