"""Generated multi-venue quotes (``data/venue_quotes.py``) against the closed forms of their
stated model: the geometric walk's volatility, each market's lag, AR(1) error (standard
deviation and half-life), shocks, half spread, grid, sizes and publication rate; seeding;
dislocations that come and go; the triangle's consistency. Then mid bars of quotes, and the
recorded-quote loader (``data/quotes.py``) with bad rows reported by file and line.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neural_trader.core.instruments import CryptoPair
from neural_trader.core.market_data import QUOTE, TickSeries
from neural_trader.data import (
    QuoteModel,
    cross_venue_quotes,
    load_quotes,
    quote_bars,
    triangular_quotes,
)
from neural_trader.data.quotes import quote_series
from neural_trader.data.venue_quotes import START_NS
from neural_trader.errors import DataError

D = Decimal
MS = 1_000_000
YEAR_S = 365 * 86_400
CLEAN = QuoteModel(half_spread_bps=0.0, noise_bps=0.0, quote_prob=1.0)


def mids(t: TickSeries) -> np.ndarray:
    return (t.bid + t.ask) / 2


def test_the_same_seed_gives_the_same_quotes_and_each_market_draws_on_its_own() -> None:
    one, two = cross_venue_quotes(seed=5, steps=2_000), cross_venue_quotes(seed=5, steps=2_000)
    for a, b in zip(one.ticks, two.ticks, strict=True):
        assert a.symbol == b.symbol
        for col in ("ts", "bid", "ask", "bid_size", "ask_size"):
            assert np.array_equal(getattr(a, col), getattr(b, col))
    other = cross_venue_quotes(seed=6, steps=2_000)
    assert not np.array_equal(one.ticks[0].bid[:100], other.ticks[0].bid[:100])
    # Changing the second venue's model leaves the first venue's quotes as they were.
    changed = cross_venue_quotes(
        venues={
            "binance": QuoteModel(half_spread_bps=0.5, noise_bps=0.5, quote_prob=0.8),
            "kraken": QuoteModel(lag_ms=900.0, noise_bps=9.0),
        },
        seed=5,
        steps=2_000,
    )
    assert np.array_equal(changed.ticks[0].bid, one.ticks[0].bid)
    assert not np.array_equal(changed.ticks[1].bid[:100], one.ticks[1].bid[:100])


def test_the_efficient_price_is_a_driftless_geometric_walk_with_the_stated_volatility() -> None:
    vol, step_s, n = 2.0, 1.0, 20_000
    qs = cross_venue_quotes(
        venues={"x": CLEAN}, steps=n, step_ms=step_s * 1_000, volatility=vol, seed=1
    )
    r = np.diff(np.log(mids(qs.ticks[0])))
    sigma = vol * math.sqrt(step_s / YEAR_S)  # per step: 3.56e-4
    assert np.std(r) == pytest.approx(sigma, rel=0.02)  # standard error ~0.5 %
    # Mean log step -σ²/2 (the walk is a martingale in price), within 4 standard errors.
    assert abs(np.mean(r) + sigma**2 / 2) < 4 * sigma / math.sqrt(n)


def test_a_lagging_market_shows_the_same_price_lag_steps_late() -> None:
    lagged = QuoteModel(lag_ms=300.0, half_spread_bps=0.0, noise_bps=0.0, quote_prob=1.0)
    fast, slow = cross_venue_quotes(venues={"a": CLEAN, "b": lagged}, steps=3_000, seed=2).ticks
    assert np.array_equal(slow.bid[3:], fast.bid[:-3])  # 300 ms = 3 steps of 100 ms
    assert np.array_equal(slow.ask[3:], fast.ask[:-3])
    assert np.all(slow.bid[:3] == fast.bid[0])  # before it has seen anything: the start


def test_the_pricing_error_is_ar1_with_the_stated_deviation_and_half_life() -> None:
    noisy = QuoteModel(
        half_spread_bps=0.0, noise_bps=5.0, noise_halflife_ms=1_000.0, quote_prob=1.0
    )
    ref, obs = cross_venue_quotes(
        venues={"ref": CLEAN, "obs": noisy}, steps=40_000, seed=3, price_increment=D("0.0001")
    ).ticks
    err = np.log(mids(obs) / mids(ref))
    rho = 0.5 ** (100 / 1_000)  # per 100 ms step
    assert np.std(err) == pytest.approx(5e-4, rel=0.08)  # ~1,400 effective observations
    assert np.corrcoef(err[1:], err[:-1])[0, 1] == pytest.approx(rho, abs=0.01)


def test_shocks_jump_the_error_by_shock_bps_at_the_stated_rate_then_decay() -> None:
    shocked = QuoteModel(
        half_spread_bps=0.0,
        noise_bps=0.0,
        shock_prob=0.01,
        shock_bps=50.0,
        noise_halflife_ms=1_000.0,
        quote_prob=1.0,
    )
    n = 40_000
    ref, obs = cross_venue_quotes(
        venues={"ref": CLEAN, "obs": shocked}, steps=n, seed=4, price_increment=D("0.0001")
    ).ticks
    err = np.log(mids(obs) / mids(ref))
    rho = 0.5 ** (100 / 1_000)
    innovation = err[1:] - rho * err[:-1]
    jumps = innovation[np.abs(innovation) > 25e-4]
    expected = 0.01 * (n - 1)
    assert abs(len(jumps) - expected) < 4 * math.sqrt(expected * 0.99)  # binomial, 4 sd
    assert np.allclose(np.abs(jumps), 50e-4, atol=1e-6)  # each exactly ±50 bps
    assert abs(np.mean(np.sign(jumps))) < 0.15  # both signs alike
    quiet = np.abs(innovation) <= 25e-4
    assert np.max(np.abs(innovation[quiet])) < 1e-6  # between shocks: pure decay


def test_quotes_sit_on_the_grid_at_the_half_spread_with_exponential_sizes() -> None:
    model = QuoteModel(half_spread_bps=2.0, noise_bps=0.0, quote_prob=1.0, mean_size=0.5)
    [t] = cross_venue_quotes(venues={"v": model}, steps=20_000, seed=5).ticks
    tick, lot = D("0.01"), D("0.0001")
    for i in range(0, len(t), 997):
        for px in (t.bid[i], t.ask[i]):
            assert D(repr(float(px))) % tick == 0
        for sz in (t.bid_size[i], t.ask_size[i]):
            assert D(repr(float(sz))) % lot == 0 and sz >= float(lot)
    # bid = mid·(1 - h) rounded down, ask = mid·(1 + h) rounded up: the gap is 2h·mid plus
    # at most two ticks.
    gap = t.ask - t.bid - 2 * 2e-4 * mids(t)
    assert np.all(gap >= -0.01) and np.all(gap <= 0.02 + 1e-9)
    # Exponential sizes of mean 0.5 rounded down to 0.0001: mean 0.5 - 0.00005, sd 0.5.
    sizes = np.concatenate([t.bid_size, t.ask_size])
    assert np.mean(sizes) == pytest.approx(0.49995, rel=0.02)
    assert np.std(sizes) == pytest.approx(0.5, rel=0.03)


def test_each_market_publishes_at_each_step_with_its_quote_probability() -> None:
    n, p = 20_000, 0.3
    model = QuoteModel(quote_prob=p)
    [t] = cross_venue_quotes(venues={"v": model}, steps=n, seed=6, step_ms=250.0).ticks
    assert abs(len(t) - p * n) < 4 * math.sqrt(n * p * (1 - p)) + 1
    assert t.ts[0] == START_NS  # the first step is always published
    assert np.all((t.ts - START_NS) % (250 * MS) == 0) and np.all(np.diff(t.ts) > 0)
    assert np.all(t.kind == QUOTE) and np.all(np.isnan(t.price))


def test_the_default_venues_cross_now_and_then_but_only_briefly() -> None:
    qs = cross_venue_quotes(seed=0)
    a, b = qs.ticks
    for t in (a, b):
        assert np.all(t.ask > t.bid)  # each venue's own book is never crossed
    # Latest quote of each venue at every step, then: one venue's bid above the other's ask.
    grid = np.arange(START_NS, START_NS + 20_000 * 100 * MS, 100 * MS)
    ia = np.searchsorted(a.ts, grid, side="right") - 1
    ib = np.searchsorted(b.ts, grid, side="right") - 1
    crossed = (b.bid[ib] > a.ask[ia]) | (a.bid[ia] > b.ask[ib])
    gap = np.maximum(b.bid[ib] - a.ask[ia], a.bid[ia] - b.ask[ib]) / a.ask[ia]
    assert 0.05 < crossed.mean() < 0.4
    assert 0.01 < (gap > 25e-4).mean() < 0.1  # by more than two 10 bps fees and 5 bps
    edges = np.flatnonzero(np.diff(np.concatenate(([0], crossed.astype(int), [0]))))
    runs = edges[1::2] - edges[::2]
    assert len(runs) >= 20 and runs.max() * 0.1 < 60  # they come and go within a minute


def test_the_triangle_quotes_the_cross_as_the_ratio_of_the_direct_pairs() -> None:
    qs = triangular_quotes(
        (CLEAN, CLEAN, CLEAN),
        steps=20_000,
        step_ms=1_000.0,
        volatilities=(1.5, 2.0),
        correlation=0.8,
        increments=(D("0.0001"), D("0.0001"), D("0.00000001")),
        seed=8,
    )
    bh, ah, ab = qs.ticks
    assert qs.symbols == ["BTC-USD", "ETH-USD", "ETH-BTC"]
    ratio = mids(ah) / mids(bh)
    # Each zero-spread quote's mid is within half a tick of its fair price: relative errors of
    # 0.00005/30000, 0.00005/2000 and 0.000000005/0.0667, 1.0e-7 together.
    assert np.max(np.abs(mids(ab) / ratio - 1)) < 1.1e-7
    rb, ra = np.diff(np.log(mids(bh))), np.diff(np.log(mids(ah)))
    assert np.corrcoef(rb, ra)[0, 1] == pytest.approx(0.8, abs=0.02)
    assert np.std(ra) == pytest.approx(2.0 * math.sqrt(1 / YEAR_S), rel=0.03)
    inst = qs.instruments.get("ETH-BTC")
    assert isinstance(inst, CryptoPair)
    assert (inst.base_currency, inst.currency) == ("ETH", "BTC")
    assert inst.price_increment == D("0.00000001")


def test_the_default_triangle_is_dislocated_now_and_then() -> None:
    qs = triangular_quotes(seed=0)
    grid = np.arange(START_NS, START_NS + 20_000 * 100 * MS, 100 * MS)
    last = [np.searchsorted(t.ts, grid, side="right") - 1 for t in qs.ticks]
    (bh, ah, ab), (i, j, k) = qs.ticks, last
    forward = ah.bid[j] / (bh.ask[i] * ab.ask[k])  # before fees
    reverse = ab.bid[k] * bh.bid[i] / ah.ask[j]
    best = np.maximum(forward, reverse)
    assert np.all(forward * reverse < 1)  # both at once never: spreads are paid twice
    assert 0.001 < (best > 1.004).mean() < 0.1  # worth more than three 10 bps fees + 10 bps


def test_instruments_name_each_venue_and_until_cuts_at_t() -> None:
    qs = cross_venue_quotes(steps=500, seed=9)
    assert qs.symbols == ["BTC-USD@binance", "BTC-USD@kraken"]
    kraken = qs.instruments.get("BTC-USD@kraken")
    assert isinstance(kraken, CryptoPair) and kraken.venue == "kraken"
    assert kraken.base_currency == "BTC" and kraken.currency == "USD"
    t = int(qs.ticks[1].ts[40])
    cut = qs.until(t)
    for whole, part in zip(qs.ticks, cut.ticks, strict=True):
        assert np.all(part.ts <= t) and len(part) == int(np.sum(whole.ts <= t))
        assert np.array_equal(part.bid, whole.bid[: len(part)])


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: QuoteModel(quote_prob=0.0), "quote_prob"),
        (lambda: QuoteModel(noise_halflife_ms=0.0), "noise_halflife_ms"),
        (lambda: QuoteModel(lag_ms=-1.0), "lag_ms"),
        (lambda: QuoteModel(shock_prob=1.5), "shock_prob"),
        (lambda: cross_venue_quotes(steps=0), "steps"),
        (lambda: cross_venue_quotes(step_ms=0.0), "step_ms"),
        (lambda: cross_venue_quotes(price=-1.0), "price"),
        (lambda: cross_venue_quotes(venues={}), "no venues"),
        (lambda: triangular_quotes(correlation=1.5), "correlation"),
        (lambda: triangular_quotes((CLEAN, CLEAN)), "3 pairs"),
    ],
)
def test_bad_generator_arguments_are_refused(make: object, name: str) -> None:
    with pytest.raises(DataError, match="cannot generate quotes") as info:
        make()  # type: ignore[operator]
    assert name in str(info.value)


# -- mid bars ---------------------------------------------------------------------------------


def test_quote_bars_are_the_mid_ohlc_of_each_bucket_stamped_at_its_last_quote() -> None:
    s = 10**9
    t0 = START_NS
    ticks = quote_series(
        "X",
        np.array([t0, t0 + s // 2, t0 + s - 1, t0 + 3 * s, t0 + 3 * s + 10]),
        np.array([99.0, 100.0, 98.0, 101.0, 102.0]),
        np.array([101.0, 104.0, 100.0, 103.0, 102.0]),
        np.ones(5),
        np.ones(5),
    )
    bars = quote_bars(ticks, "1s")
    # Mids 100, 102, 99 | (nothing at 1 s or 2 s) | 102, 102.
    assert bars.ts.tolist() == [t0 + s - 1, t0 + 3 * s + 10]
    assert bars.open.tolist() == [100.0, 102.0] and bars.close.tolist() == [99.0, 102.0]
    assert bars.high.tolist() == [102.0, 102.0] and bars.low.tolist() == [99.0, 102.0]
    assert bars.interval == "1s" and bars.volume.tolist() == [0.0, 0.0]


# -- recorded quotes from a file ----------------------------------------------------------------

HEADER = "time,symbol,bid,ask,bid_size,ask_size\n"
GOOD = [
    "2024-01-01T00:00:00.000Z,BTC-USD@kraken,30000.10,30000.90,0.5,0.7",
    "2024-01-01T00:00:00.100Z,BTC-USD@binance,30000.00,30000.20,1.2,0.9",
    "2024-01-01T00:00:00.100Z,BTC-USD@kraken,30000.30,30001.00,0.4,0.6",
    "2024-01-01T00:00:00.250Z,BTC-USD@binance,30000.40,30000.60,1.0,1.0",
]


def write(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "quotes.csv"
    path.write_text(header + "\n".join(rows) + "\n")
    return path


def test_load_quotes_reads_interleaved_symbols_in_order_of_first_appearance(
    tmp_path: Path,
) -> None:
    kraken, binance = load_quotes(write(tmp_path, GOOD))
    ms = MS
    assert (kraken.symbol, binance.symbol) == ("BTC-USD@kraken", "BTC-USD@binance")
    assert (kraken.ts - START_NS).tolist() == [0, 100 * ms]
    assert (binance.ts - START_NS).tolist() == [100 * ms, 250 * ms]
    assert kraken.bid.tolist() == [30000.10, 30000.30] and kraken.ask_size.tolist() == [0.7, 0.6]
    assert binance.ask.tolist() == [30000.20, 30000.60] and binance.bid_size.tolist() == [1.2, 1.0]
    assert np.all(kraken.kind == QUOTE)


def test_generated_quotes_round_trip_through_a_recorded_file(tmp_path: Path) -> None:
    qs = cross_venue_quotes(steps=300, seed=10)
    frames = [
        pd.DataFrame(
            {
                "timestamp": pd.to_datetime(t.ts, unit="ns", utc=True).strftime(
                    "%Y-%m-%dT%H:%M:%S.%f"
                ),
                "Symbol": t.symbol,
                "BID": t.bid,
                "ask": t.ask,
                "bid_size": t.bid_size,
                "ask_size": t.ask_size,
                "venue_seq": np.arange(len(t)),  # other columns are ignored
            }
        )
        for t in qs.ticks
    ]
    path = tmp_path / "generated.csv"
    pd.concat(frames).sort_values("timestamp", kind="stable").to_csv(path, index=False)
    loaded = load_quotes(path)
    assert [t.symbol for t in loaded] == qs.symbols
    for a, b in zip(loaded, qs.ticks, strict=True):
        for col in ("ts", "bid", "ask", "bid_size", "ask_size"):
            assert np.array_equal(getattr(a, col), getattr(b, col))


@pytest.mark.parametrize(
    ("line", "row", "reason"),
    [
        (3, "yesterday,BTC-USD@binance,1,2,1,1", "cannot parse timestamp 'yesterday'"),
        (4, "2024-01-01T00:00:01Z,BTC-USD@kraken,abc,2,1,1", "not a number: 'abc' in bid"),
        (3, "2024-01-01T00:00:01Z,,1,2,1,1", "empty symbol"),
        (4, "2024-01-01T00:00:01Z,BTC-USD@kraken,2,1.5,1,1", "ask 1.5 is below the bid 2.0"),
        (3, "2024-01-01T00:00:01Z,BTC-USD@binance,0,1,1,1", "bid 0.0 is not positive"),
        (4, "2024-01-01T00:00:01Z,BTC-USD@kraken,1,2,-1,1", "negative bid_size -1.0"),
        (3, "2024-01-01T00:00:01Z,BTC-USD@binance,1,2,1,", "empty value in ask_size"),
        (3, "2024-01-01T00:00:01Z,BTC-USD@binance,1,inf,1,1", "ask is not a finite number"),
        # Earlier than the same symbol's previous row (line 2, kraken at 00:00:00).
        (4, "2023-12-31T23:59:59Z,BTC-USD@kraken,1,2,1,1", "is before the same symbol's"),
    ],
)
def test_bad_rows_name_the_file_and_line(tmp_path: Path, line: int, row: str, reason: str) -> None:
    rows = [GOOD[0]] + ([row, GOOD[1]] if line == 3 else [GOOD[1], row])
    path = write(tmp_path, rows)
    with pytest.raises(DataError) as info:
        load_quotes(path)
    assert str(info.value).startswith(f"quotes.csv line {line}: ")
    assert reason in str(info.value)
    assert info.value.context["file"] == str(path) and info.value.context["line"] == line


def test_rows_of_another_symbol_may_be_earlier_and_equal_times_keep_file_order(
    tmp_path: Path,
) -> None:
    rows = [
        "2024-01-01T00:00:02Z,X,1,2,1,1",
        "2024-01-01T00:00:01Z,Y,3,4,1,1",  # earlier than X's row: another symbol, fine
        "2024-01-01T00:00:02Z,X,5,6,1,1",  # same time as X's previous row: kept after it
    ]
    x, y = load_quotes(write(tmp_path, rows))
    assert x.bid.tolist() == [1.0, 5.0] and y.bid.tolist() == [3.0]


def test_a_file_without_the_columns_or_rows_is_refused_by_name(tmp_path: Path) -> None:
    path = write(tmp_path, ["2024-01-01T00:00:00Z,X,1,2"], header="time,symbol,bid,ask\n")
    with pytest.raises(DataError, match=r"quotes.csv: missing column\(s\) bid_size, ask_size"):
        load_quotes(path)
    with pytest.raises(DataError, match="no data rows"):
        load_quotes(write(tmp_path, [], header=HEADER))
    with pytest.raises(DataError, match="quote file not found"):
        load_quotes(tmp_path / "absent.csv")
