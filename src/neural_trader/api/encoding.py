"""Turning results of the services into strict JSON: exact decimals as strings, numpy
scalars as numbers, NaN and infinities (which JSON cannot carry) as null, times as ISO 8601."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import orjson

_ORJSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def jsonable(value: Any) -> Any:
    """A copy of ``value`` that ``json.dumps(..., allow_nan=False)`` accepts."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else None
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return [jsonable(v) for v in sorted(value, key=str)]
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return str(value.isoformat())
    return str(value)


def json_text(value: Any) -> str:
    """Compact JSON of ``value`` for the wire and the logs: orjson (several times the standard
    library's speed, and the hub encodes every event), with ``str`` for what JSON has no type
    for (exact decimals, datetimes) and NaN as null; the standard library for what orjson
    cannot take (integers past 64 bits)."""
    try:
        return orjson.dumps(value, default=str, option=_ORJSON).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), default=str)


@functools.lru_cache(maxsize=4096)
def iso_ns(ts: int | None) -> str | None:
    """Nanoseconds since the epoch as ISO 8601 UTC (``None`` stays ``None``). Cached: the
    same few times (the bar's, the order's) are shown many times over."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts / 1e9, tz=UTC).isoformat().replace("+00:00", "Z")


def exact(value: Decimal | None) -> str | None:
    """An exact amount as text, in the one form the database reads it back in (no trailing
    zeros: ``1187.70`` and ``1187.7`` are the same price and are shown the same way)."""
    if value is None:
        return None
    text = str(value)
    if "E" not in text and value.is_finite():  # plain notation: only the zeros to drop
        return text.rstrip("0").rstrip(".") if "." in text else text
    d = value.normalize()
    return str(d.quantize(Decimal(1)) if d == d.to_integral_value() else d)
