"""A backtest report as one self-contained HTML file (plotly.js inlined: it opens offline)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import plotly.graph_objects as go

from neural_trader.analytics.metrics import PerformanceSummary, drawdown_series

TRADE_COLUMNS = ("entry_time", "entry_price", "exit_time", "exit_price", "quantity", "pnl")
PERCENT = {"total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure"}
STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}
td,th{padding:.25rem .75rem;border-bottom:1px solid #ddd}
th{text-align:left;background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.trades{max-height:30rem;overflow:auto}
"""


def _fmt(key: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    if key in PERCENT:
        return f"{value * 100:.2f}%"
    if key in ("start", "end"):
        return str(pd.Timestamp(value, tz="UTC").date())
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 100 else f"{value:,.2f}"
    return html.escape(str(value))


def _summary_table(summary: PerformanceSummary) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(k.replace('_', ' '))}</th><td class=num>{_fmt(k, v)}</td></tr>"
        for k, v in summary.as_dict().items()
    )
    return f"<table class=summary>{rows}</table>"


def _trade_table(trades: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{c.replace('_', ' ')}</th>" for c in TRADE_COLUMNS)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class=num>{_fmt(c, t.get(c)) if 'time' not in c else html.escape(str(t.get(c)))}"
            "</td>"
            for c in TRADE_COLUMNS
        )
        + "</tr>"
        for t in trades
    )
    return f"<div class=trades><table><tr>{head}</tr>{body}</table></div>"


def write_html_report(
    path: Path,
    *,
    title: str,
    timestamps_ns: npt.ArrayLike,
    equity: npt.ArrayLike,
    summary: PerformanceSummary,
    trades: list[dict[str, Any]] | None = None,
    benchmark: npt.ArrayLike | None = None,
) -> Path:
    """Summary table, equity (and rebased benchmark), underwater drawdown, and the trades."""
    when = pd.to_datetime(np.asarray(timestamps_ns, dtype=np.int64), utc=True)
    eq = np.asarray(equity, dtype=np.float64)
    equity_fig = go.Figure(go.Scatter(x=when, y=eq, name="strategy", line={"width": 1.5}))
    if benchmark is not None:
        b = np.asarray(benchmark, dtype=np.float64)
        equity_fig.add_trace(go.Scatter(x=when, y=b / b[0] * eq[0], name="benchmark"))
    equity_fig.update_layout(title="Equity", height=420, margin={"t": 40, "b": 30})
    dd_fig = go.Figure(
        go.Scatter(
            x=when,
            y=drawdown_series(eq) * 100,
            fill="tozeroy",
            name="drawdown",
            line={"color": "#c0392b", "width": 1},
        )
    )
    dd_fig.update_layout(title="Drawdown (%)", height=260, margin={"t": 40, "b": 30})
    safe_title = html.escape(title)
    parts = [
        f"<!doctype html><html><head><meta charset=utf-8><title>{safe_title}</title>",
        f"<style>{STYLE}</style></head><body><h1>{safe_title}</h1>",
        _summary_table(summary),
        equity_fig.to_html(full_html=False, include_plotlyjs=True),
        dd_fig.to_html(full_html=False, include_plotlyjs=False),
        f"<h2>Trades ({len(trades or [])})</h2>",
        _trade_table(trades or []),
        "</body></html>",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(parts), encoding="utf-8")
    return path
