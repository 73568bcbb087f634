"""Load a user's OHLCV file (CSV or Parquet) into a validated :class:`BarSeries`.

Columns are matched case-insensitively. The timestamp column may be named ``timestamp``,
``ts``, ``datetime``, ``date`` or ``time``; a ``date`` column with a separate ``time`` column
is joined; failing all of those, the unnamed index column pandas writes is used. Then come
``open``, ``high``, ``low``, ``close`` and optionally ``volume`` (0 when absent). Other
columns are ignored.

Timestamps are parsed as ISO 8601 where possible and otherwise by pandas' general parser
(month before day for ambiguous dates such as ``01/02/2020``). Naive timestamps are taken as
UTC; timestamps with an offset are converted to UTC. Each timestamp is used as the bar's
close time exactly as written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from neural_trader.core.market_data import BarSeries, FloatArray, IntArray
from neural_trader.data.validation import (
    PRICE_COLUMNS,
    Check,
    Reason,
    RowLocator,
    infer_interval,
    validated_series,
)
from neural_trader.errors import DataError

TIMESTAMP_NAMES = ("timestamp", "ts", "datetime", "date", "time")
_NULL_TEXT = frozenset({"nan", "na", "n/a", "null", "none", "nat", "-"})
_NAT = np.iinfo(np.int64).min
_COMPRESSED = (".gz", ".bz2", ".xz", ".zip", ".zst")


def _file_kind(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        return "parquet"
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes.pop()
    if suffixes and suffixes[-1] in (".csv", ".txt"):
        return "csv"
    raise DataError(
        f"{path.name}: unsupported file type; expected .csv (optionally compressed) or .parquet",
        file=str(path),
    )


def _read_csv(path: Path) -> tuple[pd.DataFrame, RowLocator]:
    try:
        frame = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
        )
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path.name}: the file is empty", file=str(path)) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(
            f"{path.name}: not a readable CSV file: {str(exc).strip()}", file=str(path)
        ) from exc
    # Blank lines inside the data are kept (and reported); blank lines at the end are not data.
    blank = frame.apply(lambda col: col.str.strip() == "").all(axis=1).to_numpy()
    keep = len(frame)
    while keep > 0 and blank[keep - 1]:
        keep -= 1
    return frame.iloc[:keep], RowLocator(path, "line", 2)


def _read_parquet(path: Path) -> tuple[pd.DataFrame, RowLocator]:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path.name}: not a readable Parquet file: {exc}", file=str(path)) from exc
    for i, field in enumerate(table.schema):
        if pa.types.is_decimal(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.float64()))
    # ignore_metadata keeps a pandas index (e.g. a DatetimeIndex) as an ordinary column.
    return table.to_pandas(ignore_metadata=True), RowLocator(path, "row", 1)


def _resolve_columns(names: list[str], path: Path) -> dict[str, str]:
    """Map ts/open/high/low/close/volume to the file's own column names."""
    by_key: dict[str, str] = {}
    for name in names:
        key = str(name).strip().lower()
        if key in by_key and key in (*TIMESTAMP_NAMES, *PRICE_COLUMNS, "volume"):
            raise DataError(
                f"{path.name}: column {key!r} appears more than once "
                f"({by_key[key]!r} and {name!r})",
                file=str(path),
            )
        by_key.setdefault(key, name)
    found: dict[str, str] = {}
    ts_key = next((k for k in TIMESTAMP_NAMES if k in by_key), None)
    if ts_key == "date" and "time" in by_key:  # separate date and time-of-day columns
        found["ts"], found["time_of_day"] = by_key["date"], by_key["time"]
    elif ts_key is not None:
        found["ts"] = by_key[ts_key]
    elif "__index_level_0__" in by_key:  # Parquet written by pandas from an unnamed index
        found["ts"] = by_key["__index_level_0__"]
    elif names and str(names[0]).strip().lower() in ("", "unnamed: 0"):  # CSV, likewise
        found["ts"] = names[0]
    found.update({c: by_key[c] for c in (*PRICE_COLUMNS, "volume") if c in by_key})
    missing = (["timestamp"] if "ts" not in found else []) + [
        c for c in PRICE_COLUMNS if c not in found
    ]
    if missing:
        raise DataError(
            f"{path.name}: missing column(s) {', '.join(missing)}; the file has "
            f"{', '.join(repr(str(n)) for n in names) or 'no columns'} (the timestamp column "
            f"may be named {', '.join(TIMESTAMP_NAMES)})",
            file=str(path),
            missing=missing,
        )
    return found


def _is_text(col: pd.Series) -> bool:
    return bool(pd.api.types.is_string_dtype(col.dtype)) or col.dtype == object


def _parse_timestamps(col: pd.Series, path: Path) -> tuple[IntArray, list[Check]]:
    """UTC nanoseconds, with NaT marked; plus the checks that report unparseable cells."""
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        parsed = pd.to_datetime(col, utc=True)
        return _to_ns(parsed), [(parsed.isna().to_numpy(), "timestamp", _empty("timestamp"))]
    if not _is_text(col):
        raise DataError(
            f"{path.name}: the timestamp column holds {col.dtype} values; write ISO 8601 "
            "dates and times (or a Parquet timestamp column) so the time zone and unit are "
            "unambiguous",
            file=str(path),
        )
    text = col.astype(str).str.strip()
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    retry = parsed.isna() & (text != "")
    if retry.any():
        parsed = parsed.astype("datetime64[ns, UTC]")
        parsed[retry] = pd.to_datetime(text[retry], utc=True, errors="coerce", format="mixed")
    empty = (text == "").to_numpy()
    bad = (parsed.isna().to_numpy()) & ~empty
    values = text.to_numpy()
    checks: list[Check] = [
        (empty, "timestamp", _empty("timestamp")),
        (bad, "timestamp", lambda i: f"cannot parse timestamp {values[i]!r}"),
    ]
    return _to_ns(parsed), checks


def _to_ns(parsed: pd.Series) -> IntArray:
    ns = pd.DatetimeIndex(parsed).as_unit("ns").asi8.copy()
    ns[pd.isna(parsed).to_numpy()] = _NAT
    return ns


def _empty(column: str) -> Reason:
    return lambda i: f"empty value in {column}"


def _parse_numbers(col: pd.Series, name: str) -> tuple[FloatArray, list[Check]]:
    """float64 values (NaN where unreadable) and the checks that report unreadable cells."""
    if not _is_text(col):
        if pd.api.types.is_bool_dtype(col.dtype) or not pd.api.types.is_numeric_dtype(col.dtype):
            values = col.astype(str).to_numpy()
            every = np.ones(len(col), dtype=bool)
            return np.full(len(col), np.nan), [
                (every, name, lambda i: f"not a number: {values[i]!r} in {name}")
            ]
        return col.to_numpy(dtype=np.float64, na_value=np.nan), []
    text = col.astype(str).str.strip()
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    empty = (text == "").to_numpy()
    raw = text.to_numpy()
    null_text = text.str.lower().isin(_NULL_TEXT).to_numpy()
    unreadable = np.isnan(numbers) & ~empty & ~null_text
    return numbers, [
        (empty, name, _empty(name)),
        (null_text, name, lambda i: f"missing value ({raw[i]}) in {name}"),
        (unreadable, name, lambda i: f"not a number: {raw[i]!r} in {name}"),
    ]


def _default_symbol(path: Path) -> str:
    return path.name.split(".")[0].upper()


def load_file(
    path: str | Path, symbol: str | None = None, interval: str | None = None
) -> BarSeries:
    """Read, check and convert an OHLCV file; see the module docstring for the format.

    Every problem is a :class:`DataError` naming the file, the line (CSV, header = line 1)
    or row (Parquet, from 1) and the reason. ``symbol`` defaults to the file name's stem in
    upper case; ``interval`` to the median bar spacing ("1d", "1h", "15m", ...).
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"data file not found: {p}", file=str(p))
    frame, loc = _read_csv(p) if _file_kind(p) == "csv" else _read_parquet(p)
    names = [str(c) for c in frame.columns]
    frame.columns = pd.Index(names)
    columns = _resolve_columns(names, p)
    stamps = frame[columns["ts"]]
    if "time_of_day" in columns:
        clock = frame[columns["time_of_day"]].astype(str).str.strip()
        stamps = (stamps.astype(str).str.strip() + " " + clock).str.strip()
    ts, checks = _parse_timestamps(stamps, p)
    prices: dict[str, FloatArray] = {}
    for c in PRICE_COLUMNS:
        prices[c], more = _parse_numbers(frame[columns[c]], c)
        checks += more
    if "volume" in columns:
        volume, more = _parse_numbers(frame[columns["volume"]], "volume")
        checks += more
    else:
        volume = np.zeros(len(frame), dtype=np.float64)
    series = validated_series(
        symbol or _default_symbol(p), interval or "", ts, prices, volume, loc, checks
    )
    if interval:
        return series
    return BarSeries(
        series.symbol,
        infer_interval(series.ts, p),
        series.ts,
        series.open,
        series.high,
        series.low,
        series.close,
        series.volume,
    )
