"""Ticks derived from bars (``data/ticks.py``): the four path points, their times, sizes,
aggressors and quotes on hand-built bars, worked out by hand from the module's rules; the
refusals; and prefix stability on the bundled EURUSD (truncating bars truncates ticks)."""

from __future__ import annotations

import numpy as np
import pytest

from neural_trader.core.market_data import QUOTE, TRADE, BarSeries, QuoteTick, TradeTick
from neural_trader.data import derived_ticks, load_bars
from neural_trader.data.ticks import interval_ns
from neural_trader.errors import DataError

SEC = 10**9
T = 1_500_000_000 * SEC


def bars(rows: list[tuple[int, float, float, float, float, float]]) -> BarSeries:
    ts, o, h, lo, c, v = (np.array(col) for col in zip(*rows, strict=True))
    return BarSeries("EURUSD", "1h", ts.astype(np.int64), o, h, lo, c, v)


def as_rows(ticks: list[TradeTick | QuoteTick]) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for t in ticks:
        if isinstance(t, TradeTick):
            out.append(("T", (t.ts - T) // SEC, t.price, t.size, t.aggressor))
        else:
            out.append(("Q", (t.ts - T) // SEC, t.bid, t.ask, t.bid_size, t.ask_size))
    return out


def test_each_bar_becomes_four_trades_with_their_quotes_along_the_intrabar_path() -> None:
    series = bars(
        [
            # low nearer the open: open, low, high, close
            (T, 1.10000, 1.10100, 1.09950, 1.10050, 400.0),
            # open equally far from both extremes, close below the open: the high first;
            # three hours after the previous bar, so the points are an interval's quarter apart
            (T + 3 * 3600 * SEC, 1.10050, 1.10100, 1.10000, 1.10020, 80.0),
            # only 20 minutes after the previous bar: points 5 minutes apart
            (T + 3 * 3600 * SEC + 1200 * SEC, 1.10020, 1.10020, 1.10020, 1.10020, 4.0),
        ]
    )
    ticks = derived_ticks(series, spread=0.0002, decimals=5)
    assert len(ticks) == 24
    assert ticks.kind.tolist() == [TRADE, QUOTE] * 12
    h3 = 3 * 3600
    assert as_rows(list(ticks.events())) == [
        ("T", -2700, 1.10000, 100.0, ""),
        ("Q", -2700, 1.09990, 1.10010, 100.0, 100.0),
        ("T", -1800, 1.09950, 100.0, "sell"),
        ("Q", -1800, 1.09940, 1.09960, 100.0, 100.0),
        ("T", -900, 1.10100, 100.0, "buy"),
        ("Q", -900, 1.10090, 1.10110, 100.0, 100.0),
        ("T", 0, 1.10050, 100.0, "sell"),
        ("Q", 0, 1.10040, 1.10060, 100.0, 100.0),
        ("T", h3 - 2700, 1.10050, 20.0, ""),  # the open is the previous close: no move
        ("Q", h3 - 2700, 1.10040, 1.10060, 20.0, 20.0),
        ("T", h3 - 1800, 1.10100, 20.0, "buy"),
        ("Q", h3 - 1800, 1.10090, 1.10110, 20.0, 20.0),
        ("T", h3 - 900, 1.10000, 20.0, "sell"),
        ("Q", h3 - 900, 1.09990, 1.10010, 20.0, 20.0),
        ("T", h3, 1.10020, 20.0, "buy"),
        ("Q", h3, 1.10010, 1.10030, 20.0, 20.0),
        ("T", h3 + 1200 - 900, 1.10020, 1.0, ""),
        ("Q", h3 + 1200 - 900, 1.10010, 1.10030, 1.0, 1.0),
        ("T", h3 + 1200 - 600, 1.10020, 1.0, ""),
        ("Q", h3 + 1200 - 600, 1.10010, 1.10030, 1.0, 1.0),
        ("T", h3 + 1200 - 300, 1.10020, 1.0, ""),
        ("Q", h3 + 1200 - 300, 1.10010, 1.10030, 1.0, 1.0),
        ("T", h3 + 1200, 1.10020, 1.0, ""),
        ("Q", h3 + 1200, 1.10010, 1.10030, 1.0, 1.0),
    ]


def test_a_tie_goes_to_the_low_first_when_the_bar_closed_at_or_above_its_open() -> None:
    ticks = derived_ticks(bars([(T, 1.10050, 1.10100, 1.10000, 1.10080, 4.0)]), spread=0.0)
    assert ticks.price[0::2].tolist() == [1.10050, 1.10000, 1.10100, 1.10080]
    # In floats 1.3 - 1.1 is a few ulps below 1.1 - 0.9; within a billionth it is still a tie.
    tie = derived_ticks(bars([(T, 1.1, 1.3, 0.9, 1.2, 4.0)]), spread=0.0)
    assert tie.price[0::2].tolist() == [1.1, 0.9, 1.3, 1.2]
    assert ticks.bid[1::2].tolist() == ticks.price[0::2].tolist()  # no spread: bid = ask = price


def test_bars_without_volume_need_a_stated_size() -> None:
    series = bars([(T, 1.1, 1.1, 1.1, 1.1, 8.0), (T + 3600 * SEC, 1.1, 1.1, 1.1, 1.1, 0.0)])
    with pytest.raises(DataError, match="bar 1 of EURUSD has no volume"):
        derived_ticks(series, spread=0.0)
    ticks = derived_ticks(series, spread=0.0, size_if_no_volume=1_000.0)
    assert ticks.size[0::2].tolist() == [2.0] * 4 + [1_000.0] * 4


def test_refusals() -> None:
    with pytest.raises(DataError, match="spread must be >= 0"):
        derived_ticks(bars([(T, 1.1, 1.1, 1.1, 1.1, 8.0)]), spread=-0.0001)
    close = bars([(T, 1.1, 1.1, 1.1, 1.1, 8.0), (T + 3, 1.1, 1.1, 1.1, 1.1, 8.0)])
    with pytest.raises(DataError, match="bar 1 is 3 ns after the previous one"):
        derived_ticks(close, spread=0.0)
    assert interval_ns("15m") == 900 * SEC
    assert interval_ns("500ms") == 500_000_000
    with pytest.raises(DataError, match="bar interval '1M'"):
        interval_ns("1M")


def test_derivation_is_prefix_stable_on_bundled_eurusd() -> None:
    full = load_bars("EURUSD")
    assert bool(np.all(full.volume > 0))  # every bundled EURUSD bar has a volume
    ticks = derived_ticks(full, spread=0.00002, decimals=5)
    assert len(ticks) == 8 * len(full)
    assert bool(np.all(np.diff(ticks.ts) >= 0))
    closes = ticks.ts[7::8]
    assert np.array_equal(closes, full.ts)  # the close point sits at the bar's own time
    assert np.array_equal(ticks.price[6::8], full.close)
    m = 1_000
    part = derived_ticks(full.slice_time(end_ns=int(full.ts[m - 1])), spread=0.00002, decimals=5)
    head = ticks.head(8 * m)
    for column in ("ts", "kind", "price", "size", "aggressor", "bid", "ask", "bid_size"):
        assert np.array_equal(getattr(part, column), getattr(head, column), equal_nan=True)
