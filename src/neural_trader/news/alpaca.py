"""Alpaca's historical news API (Benzinga headlines) over httpx.

``GET {base}/v1beta1/news`` with ``symbols``, ``start``, ``end`` (RFC 3339), ``limit`` (at most
50), ``sort=asc`` and ``page_token``; the keys go in the ``APCA-API-KEY-ID`` and
``APCA-API-SECRET-KEY`` headers. A page is ``{"news": [...], "next_page_token": str | null}``
and each article has ``id``, ``headline``, ``created_at``, ``symbols``, ``source``, ``summary``.

A 429 or a 5xx is retried after ``Retry-After`` (or an exponential back-off) up to
``retries`` times; other failures and malformed pages are clear errors that name the status
and the venue's message, never the keys.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from pydantic import SecretStr

from neural_trader.core.news import NewsItem
from neural_trader.errors import DataError, ServiceError
from neural_trader.news.files import to_ns

BASE_URL = "https://data.alpaca.markets"
PAGE_LIMIT = 50
_PATH = "/v1beta1/news"


class AlpacaNews:
    def __init__(
        self,
        key_id: SecretStr,
        secret_key: SecretStr,
        *,
        base_url: str = BASE_URL,
        timeout: float = 10.0,
        retries: int = 3,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._headers = {
            "APCA-API-KEY-ID": key_id.get_secret_value(),
            "APCA-API-SECRET-KEY": secret_key.get_secret_value(),
        }
        self._client = client or httpx.Client(base_url=base_url, timeout=timeout)
        self._retries = retries
        self._sleep = sleep

    def close(self) -> None:
        self._client.close()

    def fetch(self, symbols: Sequence[str], start: str, end: str) -> list[NewsItem]:
        """Every article about ``symbols`` published in [start, end], oldest first."""
        if not symbols:
            raise DataError("news needs at least one symbol")
        params: dict[str, Any] = {
            "symbols": ",".join(s.upper() for s in symbols),
            "start": start,
            "end": end,
            "limit": PAGE_LIMIT,
            "sort": "asc",
        }
        items: list[NewsItem] = []
        while True:
            page = self._page(params)
            items.extend(_article(a, len(items) + i) for i, a in enumerate(page["news"]))
            token = page.get("next_page_token")
            if not token:
                return items
            params["page_token"] = token

    def _page(self, params: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(self._retries + 1):
            try:
                reply = self._client.get(_PATH, params=params, headers=self._headers)
            except httpx.TimeoutException:
                if attempt == self._retries:
                    raise ServiceError("alpaca news: timed out", venue="alpaca") from None
                self._sleep(0.5 * 2.0**attempt)
                continue
            except httpx.HTTPError as exc:
                raise ServiceError(f"alpaca news: {type(exc).__name__}", venue="alpaca") from None
            transient = reply.status_code == 429 or reply.status_code >= 500
            if transient and attempt < self._retries:
                self._sleep(_retry_after(reply, attempt))
                continue
            if reply.status_code != 200:
                raise ServiceError(
                    f"alpaca news: HTTP {reply.status_code}: {_message(reply)}",
                    venue="alpaca",
                    status=reply.status_code,
                )
            return _parsed(reply)
        raise ServiceError("alpaca news: no reply", venue="alpaca")  # pragma: no cover


def _retry_after(reply: httpx.Response, attempt: int) -> float:
    try:
        return max(0.0, float(reply.headers.get("Retry-After", "")))
    except ValueError:
        return 0.5 * 2.0**attempt


def _message(reply: httpx.Response) -> str:
    try:
        body = reply.json()
    except ValueError:
        return reply.text[:200] or "no body"
    return str(body.get("message", body)) if isinstance(body, dict) else str(body)[:200]


def _parsed(reply: httpx.Response) -> dict[str, Any]:
    try:
        page = reply.json()
    except ValueError:
        raise DataError(f"alpaca news: reply is not JSON: {reply.text[:80]!r}") from None
    if not isinstance(page, dict) or not isinstance(page.get("news"), list):
        raise DataError("alpaca news: reply has no 'news' list")
    return page


def _article(a: Any, n: int) -> NewsItem:
    if not isinstance(a, dict):
        raise DataError(f"alpaca news: article {n} is not an object")
    missing = [k for k in ("id", "headline", "created_at", "symbols") if k not in a]
    if missing:
        raise DataError(f"alpaca news: article {n} lacks {', '.join(missing)}")
    symbols = a["symbols"]
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        raise DataError(f"alpaca news: article {a['id']} has symbols {symbols!r}")
    ts = to_ns(a["created_at"])
    if ts is None:
        raise DataError(f"alpaca news: article {a['id']} has created_at {a['created_at']!r}")
    return NewsItem(
        ts=ts,
        symbols=tuple(s.upper() for s in symbols),
        headline=str(a["headline"]),
        source=str(a.get("source", "alpaca")),
        id=str(a["id"]),
        summary=str(a.get("summary") or ""),
    )
