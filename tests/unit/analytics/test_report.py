"""The HTML report is self-contained, escapes what it is given and shows what it promises."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.offline
import pytest

from neural_trader.analytics.metrics import summarize
from neural_trader.analytics.report import write_html_report
from neural_trader.errors import DataError

DAY_NS = 86_400_000_000_000
HEADER = ["entry time", "entry price", "exit time", "exit price", "quantity", "pnl"]
TITLE = '<script>alert("x")</script> & co\'s "SMA"'


class Page(HTMLParser):
    """Collects the plot divs, the <title>/<h1> text and the cells of each table."""

    def __init__(self) -> None:
        super().__init__()
        self.plot_ids: list[str] = []
        self.title = ""
        self.heading = ""
        self.tables: list[list[list[str]]] = []
        self._tag = ""
        self._row: list[str] | None = None
        self._cell: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "div" and attributes.get("class") == "plotly-graph-div":
            self.plot_ids.append(attributes.get("id") or "")
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""
        self._tag = tag

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None
        self._tag = ""

    def handle_data(self, data: str) -> None:
        if self._tag == "title":
            self.title += data
        elif self._tag == "h1":
            self.heading += data
        if self._cell is not None:
            self._cell += data


def traces(text: str) -> list[list[dict[str, Any]]]:
    """The trace list handed to each Plotly.newPlot call, in page order."""
    out = []
    decoder = json.JSONDecoder()
    for match in re.finditer(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*", text):
        data, _ = decoder.raw_decode(text, match.end())
        out.append(data)
    return out


def values(field: Any) -> np.ndarray:
    """A plotly array field: a plain list or a base64 typed array."""
    if isinstance(field, dict):
        return np.frombuffer(base64.b64decode(field["bdata"]), dtype=np.dtype(field["dtype"]))
    return np.asarray(field, dtype=np.float64)


@pytest.fixture
def curve() -> tuple[np.ndarray, np.ndarray]:
    ts = np.datetime64("2020-01-02", "ns").astype(np.int64) + np.arange(60, dtype=np.int64) * DAY_NS
    equity = 100_000 * np.cumprod(1 + np.random.default_rng(1).normal(0, 0.01, 60))
    return ts, equity


TRADES = [
    {
        "entry_time": "2020-01-02T21:00:00Z",
        "entry_price": 10.5,
        "exit_time": "2020-02-03T21:00:00Z",
        "exit_price": 12.25,
        "quantity": 100.0,
        "pnl": 175.0,
    },
    {
        "entry_time": np.datetime64("2020-02-10T14:30:00", "ns").astype(np.int64).item(),
        "entry_price": Decimal("0.00012345"),
        "exit_time": datetime(2020, 2, 12, 15, 0, tzinfo=UTC),
        "exit_price": 0.000101,
        "quantity": 1_000_000,
        "pnl": -22.35,
    },
    {
        "entry_time": "<b>not a time</b>",
        "entry_price": 1234.5,
        "exit_time": None,
        "exit_price": None,
        "quantity": 3,
        "pnl": float("nan"),
    },
]


def test_report_is_self_contained_and_escaped(
    tmp_path: Path, curve: tuple[np.ndarray, np.ndarray]
) -> None:
    ts, equity = curve
    out = write_html_report(
        tmp_path / "r" / "report.html",
        title=TITLE,
        timestamps_ns=ts,
        equity=equity,
        summary=summarize(equity, ts, np.array([175.0, -22.35])),
        trades=TRADES,
        benchmark=np.linspace(50.0, 60.0, 60),
    )
    assert out == tmp_path / "r" / "report.html"
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.html"]  # no temp left
    text = out.read_text(encoding="utf-8")

    # The whole plotly.js bundle is inlined once, and nothing is fetched when the page opens.
    bundle = plotly.offline.get_plotlyjs()
    assert text.count(bundle) == 1
    page_only = text.replace(bundle, "")
    assert "<script src=" not in page_only and "cdn.plot.ly" not in page_only

    # The caller's strings are escaped, and read back as given.
    assert '<script>alert("x")' not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co&#x27;s" in text
    assert "<b>not a time</b>" not in text
    page = Page()
    page.feed(text)
    page.close()
    assert page.title == TITLE and page.heading == TITLE

    # Two plots: equity (strategy + benchmark) and the underwater curve.
    assert len(page.plot_ids) == 2 and len(set(page.plot_ids)) == 2
    equity_plot, dd_plot = traces(text)
    assert [t["name"] for t in equity_plot] == ["strategy", "benchmark (rebased)"]
    np.testing.assert_allclose(values(equity_plot[0]["y"]), equity, rtol=1e-15)
    np.testing.assert_allclose(
        values(equity_plot[1]["y"]), np.linspace(50.0, 60.0, 60) * equity[0] / 50.0, rtol=1e-13
    )
    wealth = pd.Series(equity)
    np.testing.assert_allclose(
        values(dd_plot[0]["y"]), (wealth / wealth.cummax() - 1).to_numpy() * 100, atol=1e-12
    )

    # Summary table, then the trade table with one row per trade in the promised columns.
    summary_rows, trade_rows = page.tables
    summary = dict(summary_rows)
    assert summary["Trades"] == "2" and summary["Win rate"] == "50.00%"
    assert summary["Start"] == "2020-01-02"
    assert summary["Sharpe"] == f"{summarize(equity, ts, []).sharpe:.4f}"
    assert trade_rows[0] == HEADER
    assert trade_rows[1:] == [
        ["2020-01-02T21:00:00Z", "10.5000", "2020-02-03T21:00:00Z", "12.2500", "100.00", "175.00"],
        [
            "2020-02-10T14:30:00Z",
            "0.00012345",
            "2020-02-12T15:00:00Z",
            "0.000101",
            "1,000,000",
            "-22.3500",
        ],
        ["<b>not a time</b>", "1,234.50", "", "", "3", ""],
    ]
    assert '<td class="num neg">-22.3500</td>' in text


def test_report_without_trades_or_benchmark(
    tmp_path: Path, curve: tuple[np.ndarray, np.ndarray]
) -> None:
    ts, equity = curve
    out = write_html_report(
        str(tmp_path / "plain.html"),
        title="plain",
        timestamps_ns=ts.astype("datetime64[ns]"),
        equity=equity,
        summary=summarize(equity, ts, []),
        trades=None,
    )
    text = out.read_text(encoding="utf-8")
    page = Page()
    page.feed(text)
    assert len(page.plot_ids) == 2
    assert [t["name"] for t in traces(text)[0]] == ["strategy"]
    assert page.tables[1] == [HEADER]  # the header alone
    assert dict(page.tables[0])["Win rate"] == "n/a"


def test_report_rejects_bad_input_and_keeps_the_old_file(
    tmp_path: Path, curve: tuple[np.ndarray, np.ndarray]
) -> None:
    ts, equity = curve
    target = tmp_path / "report.html"
    target.write_text("previous report", encoding="utf-8")
    summary = summarize(equity, ts, [])
    common: dict[str, Any] = {"title": "t", "summary": summary}
    with pytest.raises(DataError, match="benchmark has 10 points but equity has 60"):
        write_html_report(target, timestamps_ns=ts, equity=equity, benchmark=np.ones(10), **common)
    with pytest.raises(DataError, match="positive finite"):
        write_html_report(target, timestamps_ns=ts, equity=equity, benchmark=np.zeros(60), **common)
    with pytest.raises(DataError, match="equity has 60 points but timestamps has 59"):
        write_html_report(target, timestamps_ns=ts[1:], equity=equity, **common)
    with pytest.raises(DataError, match="empty equity"):
        write_html_report(target, timestamps_ns=ts[:0], equity=equity[:0], **common)
    assert target.read_text(encoding="utf-8") == "previous report"
