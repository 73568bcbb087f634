"""News from a user's file: CSV or JSON Lines of time, symbols and headline.

CSV: a header with ``time`` (or ``ts``/``timestamp``/``created_at``), ``symbols`` (separated
by ``,``, ``;``, ``|`` or spaces) and ``headline``; ``source``, ``id`` and ``summary`` are
optional. JSONL: one object per line with the same keys (``symbols`` a list or a string).
Times are ISO 8601 (naive means UTC) or integer nanoseconds. Every problem names the file, the
line and what was wrong; items come back sorted by time (stable for equal times).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from neural_trader.core.news import NewsItem
from neural_trader.errors import DataError

TIME_KEYS = ("time", "ts", "timestamp", "created_at")
_SPLIT = re.compile(r"[,;|\s]+")


def _where(path: Path, line: int) -> dict[str, object]:
    return {"file": str(path), "line": line}


def to_ns(value: Any) -> int | None:
    """Integer nanoseconds, or an ISO 8601 time (naive means UTC), as ns; None if neither."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError):
        return None
    if pd.isna(stamp):
        return None
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value)


def _symbols(value: Any, path: Path, line: int) -> tuple[str, ...]:
    items = value if isinstance(value, list) else _SPLIT.split(str(value or ""))
    symbols = tuple(str(s).strip().upper() for s in items if str(s).strip())
    if not symbols:
        raise DataError(f"{path.name} line {line}: no symbols", **_where(path, line))
    return symbols


def _item(row: Mapping[str, Any], path: Path, line: int) -> NewsItem:
    key = next((k for k in TIME_KEYS if row.get(k) not in (None, "")), None)
    if key is None:
        raise DataError(
            f"{path.name} line {line}: no time (one of {', '.join(TIME_KEYS)})",
            **_where(path, line),
        )
    headline = str(row.get("headline") or "").strip()
    if not headline:
        raise DataError(f"{path.name} line {line}: empty headline", **_where(path, line))
    ts = to_ns(row[key])
    if ts is None:
        raise DataError(
            f"{path.name} line {line}: time {row[key]!r} is not ISO 8601 or nanoseconds",
            **_where(path, line),
        )
    return NewsItem(
        ts=ts,
        symbols=_symbols(row.get("symbols"), path, line),
        headline=headline,
        source=str(row.get("source") or ""),
        id=str(row.get("id") or ""),
        summary=str(row.get("summary") or ""),
    )


def _jsonl(path: Path, lines: Iterable[str]) -> list[NewsItem]:
    out = []
    for n, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path.name} line {n}: not JSON ({exc.msg})", **_where(path, n)
            ) from None
        if not isinstance(row, dict):
            raise DataError(f"{path.name} line {n}: expected an object", **_where(path, n))
        out.append(_item(row, path, n))
    return out


def load_news(path: str | Path) -> list[NewsItem]:
    """Every item of the file, validated, sorted by time."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read news file {p}: {exc}", file=str(p)) from None
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        items = _jsonl(p, text.splitlines())
    elif suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        fields = {f.strip().lower() for f in reader.fieldnames or ()}
        if "headline" not in fields or "symbols" not in fields:
            raise DataError(
                f"{p.name}: the header needs headline and symbols columns, has "
                f"{', '.join(sorted(fields)) or 'none'}",
                file=str(p),
            )
        items = [
            _item({k.strip().lower(): v for k, v in row.items() if k}, p, n)
            for n, row in enumerate(reader, start=2)
        ]
    else:
        raise DataError(f"{p.name}: news files are .csv or .jsonl", file=str(p))
    return sorted(items, key=lambda i: i.ts)
