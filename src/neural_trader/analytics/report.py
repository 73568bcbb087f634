"""A backtest report as one self-contained HTML file (plotly.js inlined: it opens offline).

The page holds the summary metrics, the equity curve (with an optional benchmark rebased to the
strategy's starting equity), the underwater drawdown curve and the list of trades. Every string
that comes from the caller (title, trade fields) is HTML-escaped.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import plotly.graph_objects as go

from neural_trader.analytics.metrics import PerformanceSummary, as_ns, drawdown_series
from neural_trader.errors import DataError

TRADE_COLUMNS = ("entry_time", "entry_price", "exit_time", "exit_price", "quantity", "pnl")
PERCENT = {"total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure"}
LABELS = {
    "total_return": "Total return",
    "cagr": "CAGR",
    "volatility": "Volatility (annual)",
    "sharpe": "Sharpe",
    "sortino": "Sortino",
    "max_drawdown": "Max drawdown",
    "max_drawdown_duration": "Longest drawdown (bars)",
    "num_trades": "Trades",
    "win_rate": "Win rate",
    "exposure": "Exposure",
    "final_equity": "Final equity",
    "start": "Start",
    "end": "End",
    "periods_per_year": "Periods per year",
}
# Above this many points the curves are drawn with WebGL so the page stays responsive.
WEBGL_POINTS = 20_000
STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}
td,th{padding:.25rem .75rem;border-bottom:1px solid #ddd}
th{text-align:left;background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.neg{color:#c0392b}.trades{max-height:30rem;overflow:auto}
"""


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _time_text(value: Any) -> str:
    """A timestamp as ISO text: int ns, datetime64, datetime/date, or a string kept as given."""
    if _is_missing(value):
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | np.integer | np.datetime64):
        stamp = pd.Timestamp(int(as_ns(np.asarray([value]))[0]), unit="ns", tz="UTC")
        if stamp == stamp.normalize():
            return stamp.date().isoformat()
        return stamp.isoformat().replace("+00:00", "Z")
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _number_text(value: Any) -> str:
    """Floats rounded for reading; exact types (Decimal, numeric strings) shown as given."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        v = float(value)
        if not math.isfinite(v):
            return "n/a" if math.isnan(v) else ("∞" if v > 0 else "−∞")
        if abs(v) >= 100:
            return f"{v:,.2f}"
        return f"{v:.4f}" if abs(v) >= 1 or v == 0 else f"{v:.6g}"
    return str(value)


def _is_negative(value: Any) -> bool:
    try:
        return float(value) < 0
    except (TypeError, ValueError):
        return False


def _metric_text(key: str, value: Any) -> str:
    if _is_missing(value):
        return "n/a"
    if key in ("start", "end"):
        return _time_text(value)
    if key in PERCENT and isinstance(value, float):
        return f"{value * 100:.2f}%"
    return _number_text(value)


def _cell(text: str, numeric: bool, negative: bool = False) -> str:
    classes = ("num" if numeric else "") + (" neg" if negative else "")
    attr = f' class="{classes.strip()}"' if classes.strip() else ""
    return f"<td{attr}>{html.escape(text)}</td>"


def _summary_table(summary: PerformanceSummary) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(LABELS.get(k, k.replace('_', ' ')))}</th>"
        + _cell(_metric_text(k, v), numeric=True)
        + "</tr>"
        for k, v in summary.as_dict().items()
    )
    return f'<table class="summary">{rows}</table>'


def _trade_row(trade: dict[str, Any]) -> str:
    cells = []
    for column in TRADE_COLUMNS:
        value = trade.get(column)
        if column.endswith("_time"):
            cells.append(_cell(_time_text(value), numeric=False))
            continue
        text = "" if _is_missing(value) else _number_text(value)
        negative = column == "pnl" and _is_negative(value)
        cells.append(_cell(text, numeric=True, negative=negative))
    return "<tr>" + "".join(cells) + "</tr>"


def _trade_table(trades: Sequence[dict[str, Any]]) -> str:
    head = "".join(f"<th>{c.replace('_', ' ')}</th>" for c in TRADE_COLUMNS)
    body = "".join(_trade_row(t) for t in trades)
    return f'<div class="trades"><table class="trade-list"><tr>{head}</tr>{body}</table></div>'


def _line(n_points: int, **kwargs: Any) -> go.Scatter | go.Scattergl:
    return go.Scattergl(**kwargs) if n_points > WEBGL_POINTS else go.Scatter(**kwargs)


def _rebased(benchmark: npt.ArrayLike, size: int, start_equity: float) -> npt.NDArray[np.float64]:
    b = np.asarray(benchmark, dtype=np.float64).ravel()
    if b.size != size:
        raise DataError(f"benchmark has {b.size} points but equity has {size}")
    if not (math.isfinite(b[0]) and b[0] > 0):
        raise DataError(f"benchmark must start at a positive finite value, not {b[0]}")
    return np.asarray(b / b[0] * start_equity, dtype=np.float64)


def _figures(
    when: pd.DatetimeIndex, equity: npt.NDArray[np.float64], benchmark: npt.ArrayLike | None
) -> tuple[go.Figure, go.Figure]:
    n = equity.size
    equity_fig = go.Figure(
        _line(n, x=when, y=equity, name="strategy", mode="lines", line={"width": 1.5})
    )
    if benchmark is not None:
        equity_fig.add_trace(
            _line(
                n,
                x=when,
                y=_rebased(benchmark, n, float(equity[0])),
                name="benchmark (rebased)",
                mode="lines",
                line={"width": 1, "color": "#7f8c8d"},
            )
        )
    equity_fig.update_layout(title="Equity", height=420, margin={"t": 40, "b": 30})
    dd_fig = go.Figure(
        _line(
            n,
            x=when,
            y=drawdown_series(equity) * 100,
            fill="tozeroy",
            name="drawdown",
            mode="lines",
            line={"color": "#c0392b", "width": 1},
        )
    )
    dd_fig.update_layout(
        title="Drawdown (%)", height=260, margin={"t": 40, "b": 30}, showlegend=False
    )
    return equity_fig, dd_fig


def _write_atomically(path: Path, text: str) -> None:
    """Write next to the target and rename, so a failed write never leaves half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_html_report(
    path: str | Path,
    *,
    title: str,
    timestamps_ns: npt.ArrayLike,
    equity: npt.ArrayLike,
    summary: PerformanceSummary,
    trades: Sequence[dict[str, Any]] | None = None,
    benchmark: npt.ArrayLike | None = None,
) -> Path:
    """Write the report to ``path`` and return it.

    ``timestamps_ns`` (int64 ns or datetime64) and ``equity`` are aligned; ``benchmark`` is a
    price or equity series aligned with them, drawn rebased to the strategy's first equity.
    ``trades`` are dicts with the keys of :data:`TRADE_COLUMNS` (missing ones show blank).
    Raises :class:`~neural_trader.errors.DataError` on empty or misaligned inputs.
    """
    ts = as_ns(timestamps_ns)
    eq = np.asarray(equity, dtype=np.float64).ravel()
    if eq.size == 0:
        raise DataError("cannot report an empty equity curve")
    if eq.size != ts.size:
        raise DataError(f"equity has {eq.size} points but timestamps has {ts.size}")
    when = pd.to_datetime(ts, unit="ns", utc=True)
    equity_fig, dd_fig = _figures(when, eq, benchmark)
    rows = list(trades or [])
    safe_title = html.escape(title)
    page = "".join(
        [
            '<!doctype html><html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{safe_title}</title><style>{STYLE}</style></head><body>",
            f"<h1>{safe_title}</h1>",
            _summary_table(summary),
            equity_fig.to_html(full_html=False, include_plotlyjs=True),
            dd_fig.to_html(full_html=False, include_plotlyjs=False),
            f"<h2>Trades ({len(rows)})</h2>",
            _trade_table(rows),
            "</body></html>",
        ]
    )
    target = Path(path)
    _write_atomically(target, page)
    return target
