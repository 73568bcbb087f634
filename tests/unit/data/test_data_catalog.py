"""The bundled datasets and ``load_bars``: complete, clean, and equal to their sources."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import arch.data.nasdaq
import arch.data.sp500
import numpy as np
import pandas as pd
import pytest

from neural_trader.data import DatasetInfo, list_datasets, load_bars
from neural_trader.errors import DataError

LARGE_CAPS = {
    "AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO",
    "LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM",
}  # fmt: skip
DATASETS = list_datasets()
NY = "America/New_York"


def utc(ns: int) -> pd.Timestamp:
    return pd.Timestamp(int(ns), unit="ns", tz="UTC")


def test_catalog_lists_every_bundled_symbol() -> None:
    symbols = [d.symbol for d in DATASETS]
    assert len(symbols) == len(set(symbols)) == 23
    assert set(symbols) == {"SPX", "IXIC", "EURUSD"} | LARGE_CAPS
    for d in DATASETS:
        assert d.path.is_file() and d.path.suffix == ".parquet"
        assert d.rows > 0 and d.start < d.end and d.name and d.source
        assert d.start.tzinfo is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        DATASETS[0].rows = 1  # type: ignore[misc]


@pytest.mark.parametrize("info", DATASETS, ids=[d.symbol for d in DATASETS])
def test_every_dataset_loads_clean(info: DatasetInfo) -> None:
    bars = load_bars(info.symbol)
    assert (bars.symbol, bars.interval, len(bars)) == (info.symbol, info.interval, info.rows)
    assert utc(bars.ts[0]) == info.start and utc(bars.ts[-1]) == info.end
    assert bars.ts.dtype == np.int64 and bars.ts.flags.c_contiguous
    cols = (bars.open, bars.high, bars.low, bars.close, bars.volume)
    for col in cols:
        assert col.dtype == np.float64 and col.flags.c_contiguous
        assert col.shape == bars.ts.shape and np.isfinite(col).all()
    assert (np.diff(bars.ts) > 0).all(), "sorted and without duplicates"
    assert (bars.high >= bars.low).all()
    assert ((bars.open >= bars.low) & (bars.open <= bars.high)).all()
    assert ((bars.close >= bars.low) & (bars.close <= bars.high)).all()
    assert (bars.low > 0).all() and (bars.volume >= 0).all()


@pytest.mark.parametrize(
    ("symbol", "module"), [("SPX", arch.data.sp500), ("IXIC", arch.data.nasdaq)]
)
def test_index_bars_equal_arch_data(symbol: str, module: object) -> None:
    ref = module.load()  # type: ignore[attr-defined]
    bars = load_bars(symbol)
    assert len(bars) == len(ref)
    np.testing.assert_array_equal(bars.close, ref["Close"].to_numpy(dtype=np.float64))
    np.testing.assert_array_equal(bars.open, ref["Open"].to_numpy(dtype=np.float64))
    np.testing.assert_array_equal(bars.high, ref["High"].to_numpy(dtype=np.float64))
    np.testing.assert_array_equal(bars.low, ref["Low"].to_numpy(dtype=np.float64))
    np.testing.assert_array_equal(bars.volume, ref["Volume"].to_numpy(dtype=np.float64))
    sessions = pd.DatetimeIndex(bars.ts.astype("datetime64[ns]"), tz="UTC").tz_convert(NY)
    assert (sessions.hour == 16).all() and (sessions.minute == 0).all()
    np.testing.assert_array_equal(
        sessions.tz_localize(None).normalize().to_numpy(),
        pd.DatetimeIndex(ref.index).normalize().as_unit("ns").to_numpy(),
    )


def test_spx_covers_1999_to_2018() -> None:
    spx = load_bars("SPX")
    assert 5000 <= len(spx) <= 5100
    assert utc(spx.ts[0]).tz_convert(NY) == pd.Timestamp("1999-01-04 16:00", tz=NY)
    assert utc(spx.ts[-1]).tz_convert(NY) == pd.Timestamp("2018-12-31 16:00", tz=NY)
    # 16:00 New York is 21:00 UTC in winter and 20:00 UTC under daylight saving time.
    assert utc(load_bars("SPX", "2005-01-03", "2005-01-03").ts[0]).hour == 21
    assert utc(load_bars("SPX", "2005-07-01", "2005-07-01").ts[0]).hour == 20


def test_large_caps_are_close_only_1990_to_2022() -> None:
    for symbol in sorted(LARGE_CAPS):
        bars = load_bars(symbol)
        assert len(bars) == 8313, symbol
        assert utc(bars.ts[0]).date() == date(1990, 1, 2)
        assert utc(bars.ts[-1]).date() == date(2022, 12, 28)
        assert (bars.open == bars.close).all() and (bars.high == bars.close).all()
        assert (bars.low == bars.close).all() and (bars.volume == 0).all()


def test_eurusd_is_hourly_2017() -> None:
    fx = load_bars("eurusd")
    assert fx.interval == "1h" and len(fx) == 6225
    steps = np.diff(fx.ts)
    assert int(np.median(steps)) == 3_600 * 10**9
    # Close times: the first bar opened Sunday 2017-01-01 22:00 UTC (17:00 New York).
    assert utc(fx.ts[0]) == pd.Timestamp("2017-01-01 23:00", tz="UTC")
    assert utc(fx.ts[-1]) == pd.Timestamp("2017-12-29 22:00", tz="UTC")
    assert (fx.high > fx.low).all() and (fx.volume > 0).all()
    assert fx.close.min() > 1.0 and fx.close.max() < 1.3 and fx.close.min() < fx.close.max()


def test_load_bars_slices_inclusive_dates() -> None:
    year = load_bars("SPX", start="2005-01-01", end="2005-12-31")
    assert len(year) == 252
    assert utc(year.ts[0]).date() == date(2005, 1, 3)
    assert utc(year.ts[-1]).date() == date(2005, 12, 30)
    full = load_bars("SPX")
    i = int(np.searchsorted(full.ts, year.ts[0]))
    np.testing.assert_array_equal(year.close, full.close[i : i + 252])
    # A year or a month as a string, date objects, and naive or aware datetimes agree.
    assert np.array_equal(load_bars("spx", "2005", "2005").ts, year.ts)
    assert np.array_equal(load_bars("SPX", date(2005, 1, 1), date(2005, 12, 31)).ts, year.ts)
    assert len(load_bars("SPX", "2005-03", "2005-03")) == 22
    aware = datetime(2005, 1, 3, 21, 0, tzinfo=UTC)
    naive = datetime(2005, 1, 3, 21, 0)
    assert load_bars("SPX", start=aware).ts[0] == year.ts[0]
    assert load_bars("SPX", end=naive).ts[-1] == year.ts[0]
    # A bound with a time of day is an instant: just before the close excludes that bar.
    before = load_bars("SPX", end="2005-01-03T15:59:59-05:00")
    assert utc(before.ts[-1]).date() == date(2004, 12, 31)
    only_start = load_bars("SPX", start="2018-12-01")
    assert utc(only_start.ts[-1]).date() == date(2018, 12, 31)


def test_unknown_symbol_lists_the_available_ones() -> None:
    with pytest.raises(DataError) as err:
        load_bars("TSLA")
    msg = str(err.value)
    assert "'TSLA'" in msg and "SPX" in msg and "EURUSD" in msg and "AAPL" in msg


def test_empty_or_inverted_range_is_a_data_error() -> None:
    with pytest.raises(DataError, match=r"no SPX bars between 1980-01-01 and 1980-12-31.*1999"):
        load_bars("SPX", start="1980-01-01", end="1980-12-31")
    with pytest.raises(DataError, match="no EURUSD bars"):
        load_bars("EURUSD", start="2017-01-07", end="2017-01-07")  # a Saturday
    with pytest.raises(DataError, match="is after end"):
        load_bars("SPX", start="2010-01-01", end="2009-01-01")
    with pytest.raises(DataError, match="cannot read start 'yesterday-ish'"):
        load_bars("SPX", start="yesterday-ish")
