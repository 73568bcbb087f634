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
        self.notes: list[str] = []
        self._tag = ""
        self._note = False
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
        elif tag == "p" and attributes.get("class") == "note":
            self.notes.append("")
            self._note = True
        self._tag = tag

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None
        elif tag == "p":
            self._note = False
        self._tag = ""

    def handle_data(self, data: str) -> None:
        if self._tag == "title":
            self.title += data
        elif self._tag == "h1":
            self.heading += data
        if self._cell is not None:
            self._cell += data
        if self._note:
            self.notes[-1] += data


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def figures(text: str) -> list[tuple[list[dict[str, Any]], dict[str, Any]]]:
    """The (traces, layout) handed to each Plotly.newPlot call, in page order."""
    out = []
    decoder = json.JSONDecoder()
    for match in re.finditer(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*", text):
        data, end = decoder.raw_decode(text, match.end())
        start = re.compile(r"\s*,\s*").match(text, end)
        assert start is not None
        layout, _ = decoder.raw_decode(text, start.end())
        out.append((data, layout))
    return out


def traces(text: str) -> list[list[dict[str, Any]]]:
    """The trace list handed to each Plotly.newPlot call, in page order."""
    return [data for data, _ in figures(text)]


def titled(text: str) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    """The figures by the start of their title ("Equity", "Monthly returns", ...)."""
    return {layout["title"]["text"].split(" (")[0]: (d, layout) for d, layout in figures(text)}


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

    # Sixty days: equity (strategy + benchmark), underwater, monthly heat map and distribution;
    # the rolling chart needs 126 returns and says so instead.
    assert len(page.plot_ids) == 4 and len(set(page.plot_ids)) == 4
    assert list(titled(text)) == [
        "Equity",
        "Drawdown",
        "Monthly returns",
        "Distribution of period returns",
    ]
    assert page.notes == ["Rolling Sharpe skipped: 59 returns, fewer than the 126-period window."]
    equity_plot, dd_plot = traces(text)[:2]
    assert [t["name"] for t in equity_plot] == ["strategy", "benchmark (rebased)"]
    np.testing.assert_allclose(values(equity_plot[0]["y"]), equity, rtol=1e-15)
    np.testing.assert_allclose(
        values(equity_plot[1]["y"]), np.linspace(50.0, 60.0, 60) * equity[0] / 50.0, rtol=1e-13
    )
    wealth = pd.Series(equity)
    np.testing.assert_allclose(
        values(dd_plot[0]["y"]), (wealth / wealth.cummax() - 1).to_numpy() * 100, atol=1e-12
    )

    # Summary table, further metrics, then one row per trade in the promised columns.
    summary_rows, extended_rows, trade_rows = page.tables
    extended = dict(extended_rows)
    assert {"Alpha (annual)", "Beta", "Information ratio"} <= set(extended)
    assert extended["Expectancy (per trade)"] == "76.3250"  # the NaN PnL is not a trade
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
    page = parse(text)
    assert len(page.plot_ids) == 4
    assert [t["name"] for t in traces(text)[0]] == ["strategy"]
    assert page.tables[2] == [HEADER]  # the header alone
    assert dict(page.tables[0])["Win rate"] == "n/a"
    extended = dict(page.tables[1])
    assert "Beta" not in extended and "Alpha (annual)" not in extended
    assert extended["Profit factor"] == extended["Expectancy (per trade)"] == "n/a"


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


def shown(text: str) -> tuple[float, float]:
    """A table cell read back as (value, half a unit of its last printed digit)."""
    body = text.replace(",", "").replace("−", "-")
    scale = 0.01 if body.endswith("%") else 1.0
    mantissa, _, exponent = body.rstrip("%").partition("e")
    decimals = len(mantissa.partition(".")[2])
    unit = 10.0 ** (int(exponent or 0) - decimals) * scale
    return float(body.rstrip("%")) * scale, unit / 2 + 1e-15


def assert_shown(cell: str, expected: float) -> None:
    value, tol = shown(cell)
    assert value == pytest.approx(expected, abs=tol), (cell, expected)


@pytest.fixture
def long_run() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """~3 years of business days: a strategy partly driven by its benchmark, which is a price."""
    days = pd.bdate_range("2019-01-01", periods=800, tz="UTC")
    rng = np.random.default_rng(7)
    bench_r = rng.normal(0.0003, 0.012, 799)
    strat_r = 0.6 * bench_r + rng.normal(0.0002, 0.006, 799)
    equity = 100_000 * np.cumprod(np.r_[1.0, 1 + strat_r])
    bench = 250.0 * np.cumprod(np.r_[1.0, 1 + bench_r])
    return days.as_unit("ns").asi8, equity, bench


PNLS = [120.0, -40.0, 75.5, -10.0, 0.0]
LONG_TRADES = [{"pnl": p} for p in PNLS] + [{"pnl": Decimal("12.5")}, {"pnl": "7"}, {"pnl": None}]


def test_tearsheet_numbers_match_an_independent_computation(
    tmp_path: Path, long_run: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    ts, equity, bench = long_run
    out = write_html_report(
        tmp_path / "tear.html",
        title="tear",
        timestamps_ns=ts,
        equity=equity,
        summary=summarize(equity, ts, PNLS),
        trades=LONG_TRADES,
        benchmark=bench,
    )
    text = out.read_text(encoding="utf-8")
    page = parse(text)
    assert page.notes == []
    figs = titled(text)
    assert list(figs) == [
        "Equity",
        "Drawdown",
        "Monthly returns",
        "Rolling Sharpe and volatility",
        "Distribution of period returns",
    ]
    assert text.count(plotly.offline.get_plotlyjs()) == 1
    wealth = pd.Series(equity, index=pd.to_datetime(ts, utc=True))
    r = wealth.pct_change().dropna()

    # Heat map: each cell is the month's last equity over the previous month's last (the first
    # point for the first month); the last column is the same by calendar year.
    (heat,), heat_layout = figs["Monthly returns"]
    assert heat["type"] == "heatmap" and heat["zmid"] == 0
    assert heat["x"] == [*pd.date_range("2020", periods=12, freq="MS").strftime("%b"), "Year"]
    assert heat["y"] == ["2019", "2020", "2021", "2022"]  # 800 business days into 2022
    month_end = wealth.resample("ME").last()
    monthly = month_end / pd.concat([wealth.iloc[:1], month_end.iloc[:-1]]).to_numpy() - 1
    year_end = wealth.resample("YE").last()
    yearly = year_end / pd.concat([wealth.iloc[:1], year_end.iloc[:-1]]).to_numpy() - 1
    z = heat["z"]
    for stamp, ret in monthly.items():
        row = heat["y"].index(str(stamp.year))
        assert z[row][stamp.month - 1] == pytest.approx(ret * 100, rel=1e-9)
    for stamp, ret in yearly.items():
        assert z[heat["y"].index(str(stamp.year))][12] == pytest.approx(ret * 100, rel=1e-9)
    cells = sum(v is not None for row in z for v in row)
    assert cells == len(monthly) + len(yearly)  # months outside the run are blank
    assert heat["text"][0][0] == f"{monthly.iloc[0] * 100:.1f}%"
    assert heat_layout["yaxis"]["autorange"] == "reversed"

    # Rolling Sharpe and volatility over 126 daily returns, against pandas' rolling moments.
    (sharpe_trace, vol_trace), _ = figs["Rolling Sharpe and volatility"]
    roll = r.rolling(126)
    want_sharpe = (roll.mean() / roll.std() * np.sqrt(252)).dropna()
    want_vol = (roll.std() * np.sqrt(252) * 100).dropna()
    assert sharpe_trace["name"] == "Sharpe (126)" and vol_trace["yaxis"] == "y2"
    assert pd.to_datetime(sharpe_trace["x"], utc=True).equals(want_sharpe.index)
    np.testing.assert_allclose(values(sharpe_trace["y"]), want_sharpe.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(values(vol_trace["y"]), want_vol.to_numpy(), rtol=1e-9)

    # Distribution: every return binned once; VaR/CVaR lines at numpy's quantile of the losses
    # and the mean loss beyond it, labelled with their value.
    (hist,), dist_layout = figs["Distribution of period returns"]
    assert values(hist["y"]).sum() == len(r)
    centres = values(hist["x"])
    assert centres.min() > r.min() * 100 and centres.max() < r.max() * 100
    losses = -r.to_numpy()
    lines = [(s["x0"], s["x1"]) for s in dist_layout["shapes"]]
    labels = [a["text"] for a in dist_layout["annotations"]]
    want_lines, want_labels = [], []
    for confidence in (0.95, 0.99):
        var = np.quantile(losses, confidence)
        cvar = losses[losses >= var].mean()
        want_lines += [-var * 100, -cvar * 100]
        want_labels += [
            f"VaR {confidence:.0%}: {-var:.2%}",
            f"CVaR {confidence:.0%}: {-cvar:.2%}",
        ]
    np.testing.assert_allclose(np.array(lines), np.c_[want_lines, want_lines], rtol=1e-12)
    assert labels == want_labels

    # Extended metrics, each recomputed here from its textbook definition.
    extended = dict(page.tables[1])
    rr, b = r.to_numpy(), pd.Series(bench).pct_change().dropna().to_numpy()
    years = (ts[-1] - ts[0]) / (365.25 * DAY_NS)
    drawdown = wealth / wealth.cummax() - 1
    beta = np.cov(rr, b, ddof=0)[0, 1] / np.var(b)
    pnls = np.array([*PNLS, 12.5, 7.0])
    want = {
        "Calmar": ((equity[-1] / equity[0]) ** (1 / years) - 1) / abs(drawdown.min()),
        "Omega (0%)": rr[rr > 0].sum() / -rr[rr < 0].sum(),
        "Ulcer index": np.sqrt(np.mean((drawdown.to_numpy() * 100) ** 2)),
        "Skew": r.skew(),
        "Excess kurtosis": r.kurt(),
        "Tail ratio": abs(np.percentile(rr, 95)) / abs(np.percentile(rr, 5)),
        "Historical VaR 99% (period)": -np.quantile(losses, 0.99),
        "Profit factor": pnls[pnls > 0].sum() / -pnls[pnls < 0].sum(),
        "Expectancy (per trade)": pnls.mean(),
        "Average win": pnls[pnls > 0].mean(),
        "Average loss": pnls[pnls < 0].mean(),
        "Payoff ratio": pnls[pnls > 0].mean() / -pnls[pnls < 0].mean(),
        "Beta": beta,
        "Alpha (annual)": (1 + np.mean(rr - beta * b)) ** 252 - 1,
        "Information ratio": np.mean(rr - b) / np.std(rr - b, ddof=1) * np.sqrt(252),
    }
    for label, expected in want.items():
        assert_shown(extended[label], float(expected))
    assert 0.3 < want["Beta"] < 0.9  # the fixture's 0.6 loading shows through


def test_degenerate_curves_still_give_a_page(tmp_path: Path) -> None:
    start = np.datetime64("2020-01-02", "ns").astype(np.int64)
    cases = {
        "single point": (np.array([start]), np.array([100_000.0])),
        "flat": (start + np.arange(300) * DAY_NS, np.full(300, 100_000.0)),
        "one month": (start + np.arange(10) * DAY_NS, 100_000 + np.arange(10.0) * 50),
    }
    pages = {}
    for name, (ts, equity) in cases.items():
        out = write_html_report(
            tmp_path / f"{name}.html",
            title=name,
            timestamps_ns=ts,
            equity=equity,
            summary=summarize(equity, ts, []),
            trades=[],
        )
        text = out.read_text(encoding="utf-8")
        pages[name] = (text, parse(text))
        assert text.endswith("</body></html>")
        assert text.count(plotly.offline.get_plotlyjs()) == 1

    text, page = pages["single point"]
    assert list(titled(text)) == ["Equity", "Drawdown"]
    assert page.notes == [
        "Monthly returns need at least two equity points with a positive value.",
        "Rolling Sharpe skipped: 0 returns, fewer than the 126-period window.",
        "Return distribution skipped: fewer than two returns.",
    ]
    single = dict(page.tables[1])
    assert single.pop("Ulcer index") == "0.0000"  # one point never falls
    assert set(single.values()) == {"n/a"}

    # A flat curve: zero months, a volatility of 0 with no Sharpe, no tail to mark.
    text, page = pages["flat"]
    figs = titled(text)
    assert {v for row in figs["Monthly returns"][0][0]["z"] for v in row} == {0.0, None}
    sharpe_trace, vol_trace = figs["Rolling Sharpe and volatility"][0]
    assert np.isnan(values(sharpe_trace["y"])).all() and not values(vol_trace["y"]).any()
    assert "shapes" not in figs["Distribution of period returns"][1]
    assert page.notes == [
        "Rolling Sharpe undefined: returns have no spread.",
        "VaR and CVaR undefined: the returns do not vary.",
    ]
    extended = dict(page.tables[1])
    assert extended["Ulcer index"] == "0.0000" and extended["Calmar"] == "n/a"

    # One month: a single cell and the year's total, both the whole run's return.
    text, _ = pages["one month"]
    (heat,), _ = titled(text)["Monthly returns"]
    assert heat["y"] == ["2020"]
    total = 100_450 / 100_000 * 100 - 100
    assert heat["z"] == [[pytest.approx(total), *[None] * 11, pytest.approx(total)]]


def test_long_series_are_drawn_with_webgl(tmp_path: Path) -> None:
    hour = DAY_NS // 24
    ts = np.datetime64("2020-01-01", "ns").astype(np.int64) + np.arange(25_000) * hour
    equity = 100_000 * np.cumprod(1 + np.random.default_rng(3).normal(0, 0.002, 25_000))
    summary = summarize(equity, ts, [])
    out = write_html_report(
        tmp_path / "long.html", title="long", timestamps_ns=ts, equity=equity, summary=summary
    )
    figs = titled(out.read_text(encoding="utf-8"))
    assert summary.periods_per_year == 8766
    assert figs["Equity"][0][0]["type"] == "scattergl"
    assert figs["Drawdown"][0][0]["type"] == "scattergl"
    sharpe_trace = figs["Rolling Sharpe and volatility"][0][0]
    assert sharpe_trace["name"] == "Sharpe (4383)"  # half a year of hourly bars
    assert values(sharpe_trace["y"]).size == 25_000 - 4383
