"""A news headline as a market event: when it became known, which symbols it is about."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NewsItem:
    """``ts`` (ns, UTC) is when the item was published: a strategy may act on it from then."""

    ts: int
    symbols: tuple[str, ...]
    headline: str
    source: str = ""
    id: str = ""
    summary: str = ""
