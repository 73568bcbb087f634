"""The market data shipped inside the package, and the loader for users' own files.

Bundled data lives in ``bundled/<SYMBOL>.parquet`` (written by
``scripts/extract_bundled_data.py``; provenance in ``DATA_SOURCES.md``). Each file carries its
catalog entry as Parquet key-value metadata, so :func:`list_datasets` reads only file footers.

Timestamps everywhere are UTC and mark the bar's *close*: daily US bars close at 16:00
New York time, hourly bars at the end of their hour.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from neural_trader.core.market_data import BarSeries
from neural_trader.data.files import load_file
from neural_trader.data.validation import PRICE_COLUMNS, RowLocator, validated_series
from neural_trader.errors import DataError

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"
METADATA_KEY = b"neural_trader"

TimeBound = str | datetime | date | None


@dataclass(frozen=True)
class DatasetInfo:
    """One bundled dataset: what it is, its period and size, and where it came from."""

    symbol: str
    name: str
    interval: str
    start: pd.Timestamp
    end: pd.Timestamp
    rows: int
    source: str
    path: Path


def _read_info(path: Path) -> DatasetInfo:
    try:
        meta = pq.read_metadata(path)
        entry = json.loads((meta.metadata or {})[METADATA_KEY])
        return DatasetInfo(
            symbol=str(entry["symbol"]),
            name=str(entry["name"]),
            interval=str(entry["interval"]),
            start=pd.Timestamp(entry["start"]).tz_convert("UTC"),
            end=pd.Timestamp(entry["end"]).tz_convert("UTC"),
            rows=int(meta.num_rows),
            source=str(entry["source"]),
            path=path,
        )
    except (OSError, KeyError, ValueError, pa.ArrowException) as exc:
        raise DataError(
            f"bundled data file {path.name} has no readable catalog entry: {exc}",
            file=str(path),
        ) from exc


@lru_cache(maxsize=1)
def _catalog() -> dict[str, DatasetInfo]:
    infos = [_read_info(p) for p in sorted(BUNDLED_DIR.glob("*.parquet"))]
    return {info.symbol.upper(): info for info in infos}


def list_datasets() -> list[DatasetInfo]:
    """All bundled datasets, daily before intraday, then by symbol."""
    return sorted(_catalog().values(), key=lambda d: (d.interval != "1d", d.symbol))


def _lookup(symbol: str) -> DatasetInfo:
    catalog = _catalog()
    info = catalog.get(symbol.strip().upper())
    if info is None:
        available = ", ".join(sorted(catalog))
        raise DataError(
            f"no bundled data for symbol {symbol!r}; available: {available}",
            symbol=symbol,
        )
    return info


def _read_bundled(info: DatasetInfo) -> BarSeries:
    table = pq.read_table(info.path, columns=["ts", *PRICE_COLUMNS, "volume"])
    ts = table.column("ts").cast(pa.int64()).to_numpy()
    prices = {c: table.column(c).to_numpy() for c in PRICE_COLUMNS}
    volume = table.column("volume").to_numpy()
    loc = RowLocator(info.path, "row", 1)
    return validated_series(info.symbol, info.interval, ts, prices, volume, loc)


def _ns(ts: pd.Timestamp) -> int:
    return int(ts.as_unit("ns").value)


def _bound_ns(value: TimeBound, *, is_end: bool, name: str) -> int | None:
    """A start/end bound in UTC nanoseconds; a bare date covers that whole (UTC) day.

    Strings without a time of day ("2018", "2018-06", "2018-06-29") name a period and
    include all of it: as a start they mean its first instant, as an end its last.
    Naive datetimes are taken as UTC.
    """
    if value is None:
        return None
    try:
        if isinstance(value, str):
            text = value.strip()
            if ":" not in text and "T" not in text.upper():
                period = pd.Period(text)
                if is_end:
                    return _ns((period + 1).start_time) - 1
                return _ns(period.start_time)
            ts = pd.Timestamp(text)
        elif isinstance(value, datetime):
            ts = pd.Timestamp(value)
        elif isinstance(value, date):
            day = pd.Timestamp(value)
            return _ns(day + pd.Timedelta(days=1)) - 1 if is_end else _ns(day)
        else:
            raise TypeError(f"expected a string, date or datetime, got {type(value).__name__}")
    except (ValueError, TypeError) as exc:
        raise DataError(f"cannot read {name} {value!r} as a date or time: {exc}") from exc
    ts = ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
    return _ns(ts)


def load_bars(symbol: str, start: TimeBound = None, end: TimeBound = None) -> BarSeries:
    """Bundled bars for ``symbol`` (any case) with ``start <= ts <= end``, both optional.

    Raises :class:`DataError` for an unknown symbol (listing the known ones), an unreadable
    bound, ``start`` after ``end``, or a range with no bars in it.
    """
    info = _lookup(symbol)
    start_ns = _bound_ns(start, is_end=False, name="start")
    end_ns = _bound_ns(end, is_end=True, name="end")
    if start_ns is not None and end_ns is not None and start_ns > end_ns:
        raise DataError(
            f"start {start} is after end {end}", symbol=info.symbol, start=start, end=end
        )
    series = _read_bundled(info).slice_time(start_ns, end_ns)
    if len(series) == 0:
        raise DataError(
            f"no {info.symbol} bars between {start if start is not None else 'the start'} "
            f"and {end if end is not None else 'the end'}; {info.symbol} covers "
            f"{info.start} .. {info.end}",
            symbol=info.symbol,
        )
    return series


__all__ = [
    "BUNDLED_DIR",
    "DatasetInfo",
    "list_datasets",
    "load_bars",
    "load_file",
]
