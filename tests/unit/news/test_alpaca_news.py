"""Alpaca's news API through the real httpx client with the transport replaced by respx:
recorded pages in the documented format, pagination, retries and every error shape."""

from __future__ import annotations

import httpx
import pandas as pd
import pytest
import respx
from pydantic import SecretStr

from neural_trader.errors import DataError, ServiceError
from neural_trader.news.alpaca import BASE_URL, AlpacaNews

URL = f"{BASE_URL}/v1beta1/news"
KEY, SECRET = "PKTESTKEY123", "s3cr3t-value-xyz"

PAGE_1 = {
    "news": [
        {
            "id": 24843171,
            "headline": "Apple Leader in Phone Sales in China for Second Straight Month",
            "author": "Bibhu Pattnaik",
            "created_at": "2021-12-31T11:08:42Z",
            "updated_at": "2021-12-31T11:08:43Z",
            "summary": "This ad is a prime example of the brand's emphasis.",
            "content": "",
            "url": "https://www.benzinga.com/news/21/12/24843171/apple",
            "images": [],
            "symbols": ["AAPL"],
            "source": "benzinga",
        }
    ],
    "next_page_token": "MTY0MDk0ODkyMjAwMDAwMDAwMHwyNDg0MzE3MQ==",
}
PAGE_2 = {
    "news": [
        {
            "id": 24843192,
            "headline": "Tesla, Apple Lead Losses In Big Tech Names",
            "author": "Benzinga Newsdesk",
            "created_at": "2021-12-31T12:30:00Z",
            "updated_at": "2021-12-31T12:30:01Z",
            "summary": "",
            "content": "",
            "url": "https://www.benzinga.com/x",
            "images": [],
            "symbols": ["AAPL", "TSLA"],
            "source": "benzinga",
        }
    ],
    "next_page_token": None,
}


def client(**kw: object) -> AlpacaNews:
    waits: list[float] = []
    news = AlpacaNews(SecretStr(KEY), SecretStr(SECRET), sleep=waits.append, **kw)  # type: ignore[arg-type]
    news.waits = waits  # type: ignore[attr-defined]
    return news


@respx.mock
def test_pages_are_followed_and_articles_mapped() -> None:
    route = respx.get(URL).mock(
        side_effect=[httpx.Response(200, json=PAGE_1), httpx.Response(200, json=PAGE_2)]
    )
    items = client().fetch(["aapl", "TSLA"], "2021-12-31T00:00:00Z", "2022-01-01T00:00:00Z")
    assert [i.id for i in items] == ["24843171", "24843192"]
    assert items[1].symbols == ("AAPL", "TSLA") and items[0].source == "benzinga"
    assert items[0].ts == pd.Timestamp("2021-12-31T11:08:42Z").value
    first, second = route.calls
    assert first.request.headers["APCA-API-KEY-ID"] == KEY
    assert first.request.headers["APCA-API-SECRET-KEY"] == SECRET
    q = dict(first.request.url.params)
    assert q == {
        "symbols": "AAPL,TSLA", "start": "2021-12-31T00:00:00Z", "end": "2022-01-01T00:00:00Z",
        "limit": "50", "sort": "asc",
    }  # fmt: skip
    assert second.request.url.params["page_token"] == PAGE_1["next_page_token"]


@respx.mock
def test_rate_limits_and_server_errors_are_retried() -> None:
    respx.get(URL).mock(
        side_effect=[
            httpx.Response(
                429, json={"message": "too many requests."}, headers={"Retry-After": "2"}
            ),
            httpx.Response(503, text="upstream"),
            httpx.Response(200, json=PAGE_2),
        ]
    )
    news = client()
    assert len(news.fetch(["AAPL"], "2021-12-31", "2022-01-01")) == 1
    assert news.waits == [2.0, 1.0]  # type: ignore[attr-defined]


@respx.mock
@pytest.mark.parametrize(
    ("reply", "error", "message"),
    [
        (httpx.Response(403, json={"message": "forbidden."}), ServiceError, "HTTP 403: forbidden."),
        (
            httpx.Response(422, json={"message": "invalid start"}),
            ServiceError,
            "HTTP 422: invalid start",
        ),
        (httpx.Response(500, text="boom"), ServiceError, "HTTP 500: boom"),
        (httpx.Response(200, text="<html>"), DataError, "reply is not JSON"),
        (httpx.Response(200, json={"items": []}), DataError, "no 'news' list"),
        (
            httpx.Response(200, json={"news": [{"id": 1, "headline": "x", "symbols": ["A"]}]}),
            DataError,
            "article 0 lacks created_at",
        ),
        (
            httpx.Response(
                200,
                json={"news": [{"id": 7, "headline": "x", "symbols": "A", "created_at": "x"}]},
            ),
            DataError,
            "article 7 has symbols 'A'",
        ),
    ],
)
def test_error_shapes_are_clear_and_never_show_the_keys(
    reply: httpx.Response, error: type[Exception], message: str
) -> None:
    respx.get(URL).mock(return_value=reply)
    with pytest.raises(error, match=message) as caught:
        client(retries=0).fetch(["AAPL"], "2021-12-31", "2022-01-01")
    assert KEY not in str(caught.value) and SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value.__dict__)


@respx.mock
def test_timeouts_retry_then_fail() -> None:
    respx.get(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    news = client(retries=2)
    with pytest.raises(ServiceError, match="timed out"):
        news.fetch(["AAPL"], "2021-12-31", "2022-01-01")
    assert news.waits == [0.5, 1.0]  # type: ignore[attr-defined]
    with pytest.raises(DataError, match="at least one symbol"):
        news.fetch([], "2021-12-31", "2022-01-01")
