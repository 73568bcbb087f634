"""The HTML report is self-contained, escapes what it is given and shows what it promises."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np

from neural_trader.analytics.metrics import summarize
from neural_trader.analytics.report import write_html_report


class Divs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.plots = 0
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "div" and ("class", "plotly-graph-div") in attrs:
            self.plots += 1
        self._in_title = tag == "title"

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def test_report_is_self_contained_and_escaped(tmp_path: Path) -> None:
    ts = np.arange(50, dtype=np.int64) * 86_400_000_000_000
    equity = 100_000 * np.cumprod(1 + np.random.default_rng(1).normal(0, 0.01, 50))
    trades = [
        {
            "entry_time": "2020-01-02T21:00:00Z",
            "entry_price": 10.5,
            "exit_time": "2020-02-03T21:00:00Z",
            "exit_price": 12.25,
            "quantity": 100.0,
            "pnl": 175.0,
        }
    ]
    out = write_html_report(
        tmp_path / "r" / "report.html",
        title="<script>x</script> & co",
        timestamps_ns=ts,
        equity=equity,
        summary=summarize(equity, ts, np.array([175.0])),
        trades=trades,
        benchmark=equity * 0.9,
    )
    text = out.read_text()
    assert "<script>x</script>" not in text and "&lt;script&gt;x&lt;/script&gt; &amp; co" in text
    assert "plotly.js v" in text or "Plotly" in text  # the bundle itself is inlined
    assert "<script src=" not in text  # nothing fetched at view time
    assert "2020-02-03T21:00:00Z" in text and "<td class=num>175.00</td>" in text
    parser = Divs()
    parser.feed(text)
    assert parser.plots == 2
    assert parser.title == "<script>x</script> & co"
