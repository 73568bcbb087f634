"""A backtest tearsheet as one self-contained HTML file (plotly.js inlined: it opens offline).

The page holds the summary metrics, a table of further ratios (tail risk, distribution shape,
trade statistics, and alpha/beta against the benchmark when there is one), the equity curve
(with the benchmark rebased to the strategy's starting equity), the underwater drawdown, the
monthly returns heat map, rolling Sharpe and volatility, the return distribution with its VaR
and CVaR, and the list of trades. The figures are built in :mod:`neural_trader.analytics.charts`;
a chart the data cannot support is replaced by a one-line note. Every string that comes from
the caller (title, trade fields) is HTML-escaped.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from neural_trader.analytics import ratios
from neural_trader.analytics.charts import (
    VAR_LEVELS,
    Chart,
    distribution_chart,
    drawdown_chart,
    equity_chart,
    monthly_heatmap,
    rebased,
    rolling_chart,
    tail_risk,
)
from neural_trader.analytics.metrics import (
    FloatArray,
    PerformanceSummary,
    as_ns,
    returns_from_equity,
)
from neural_trader.errors import DataError

TRADE_COLUMNS = ("entry_time", "entry_price", "exit_time", "exit_price", "quantity", "pnl")
PERCENT = {
    "total_return",
    "cagr",
    "volatility",
    "max_drawdown",
    "win_rate",
    "exposure",
    "alpha",
    "var_95",
    "cvar_95",
    "var_99",
    "cvar_99",
}
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
    "calmar": "Calmar",
    "omega": "Omega (0%)",
    "ulcer_index": "Ulcer index",
    "skew": "Skew",
    "kurtosis": "Excess kurtosis",
    "tail_ratio": "Tail ratio",
    "var_95": "Historical VaR 95% (period)",
    "cvar_95": "Historical CVaR 95% (period)",
    "var_99": "Historical VaR 99% (period)",
    "cvar_99": "Historical CVaR 99% (period)",
    "profit_factor": "Profit factor",
    "expectancy": "Expectancy (per trade)",
    "average_win": "Average win",
    "average_loss": "Average loss",
    "payoff_ratio": "Payoff ratio",
    "alpha": "Alpha (annual)",
    "beta": "Beta",
    "information_ratio": "Information ratio",
}
STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}
td,th{padding:.25rem .75rem;border-bottom:1px solid #ddd}
th{text-align:left;background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.neg{color:#c0392b}.trades{max-height:30rem;overflow:auto}
p.note{color:#666;font-style:italic}
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


def _metrics_table(metrics: dict[str, Any], css_class: str) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(LABELS.get(k, k.replace('_', ' ')))}</th>"
        + _cell(_metric_text(k, v), numeric=True, negative=_is_negative(v))
        + "</tr>"
        for k, v in metrics.items()
    )
    return f'<table class="{css_class}">{rows}</table>'


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


def _trade_pnls(trades: Sequence[dict[str, Any]]) -> FloatArray:
    """The finite PnLs of the trades (floats, Decimals or numeric strings); others are skipped."""
    out = []
    for trade in trades:
        raw = trade.get("pnl")
        if raw is None:
            continue
        try:
            value = float(raw)
        except (TypeError, ValueError):
            continue
        if math.isfinite(value):
            out.append(value)
    return np.asarray(out, dtype=np.float64)


def extended_metrics(
    equity: FloatArray,
    timestamps_ns: npt.NDArray[np.int64],
    periods_per_year: float,
    pnls: FloatArray,
    benchmark: FloatArray | None = None,
) -> dict[str, float]:
    """The ratios beyond the summary, by :mod:`~neural_trader.analytics.ratios` and the
    historical VaR of :mod:`~neural_trader.risk.measures` (NaN where undefined); alpha, beta and
    the information ratio only with a benchmark aligned with the equity."""
    r = returns_from_equity(equity)
    tails = tail_risk(r[np.isfinite(r)])
    out = {
        "calmar": ratios.calmar(equity, timestamps_ns),
        "omega": ratios.omega(r, 0.0, periods_per_year),
        "ulcer_index": ratios.ulcer_index(equity),
        "skew": ratios.skew(r),
        "kurtosis": ratios.kurtosis(r),
        "tail_ratio": ratios.tail_ratio(r),
    }
    for confidence in VAR_LEVELS:
        var, cvar = tails.get(confidence, (math.nan, math.nan))
        level = round(confidence * 100)
        out[f"var_{level}"], out[f"cvar_{level}"] = -var, -cvar
    trade_stats: dict[str, Callable[[npt.ArrayLike], float]] = {
        "profit_factor": ratios.profit_factor,
        "expectancy": ratios.expectancy,
        "average_win": ratios.average_win,
        "average_loss": ratios.average_loss,
        "payoff_ratio": ratios.payoff_ratio,
    }
    out.update({key: stat(pnls) for key, stat in trade_stats.items()})
    if benchmark is not None:
        b = returns_from_equity(benchmark)
        out["alpha"], out["beta"] = ratios.alpha_beta(r, b, periods_per_year)
        out["information_ratio"] = ratios.information_ratio(r, b, periods_per_year)
    return out


def _render(charts: Sequence[Chart]) -> str:
    """Each chart's figure (plotly.js inlined with the first one only) and/or its note."""
    parts = []
    inlined = False
    for chart in charts:
        if chart.figure is not None:
            parts.append(chart.figure.to_html(full_html=False, include_plotlyjs=not inlined))
            inlined = True
        if chart.note:
            parts.append(f'<p class="note">{html.escape(chart.note)}</p>')
    return "".join(parts)


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

    ``timestamps_ns`` (int64 ns or datetime64, ascending) and ``equity`` are aligned;
    ``benchmark`` is a price or equity series aligned with them (e.g. the traded instrument's
    close, i.e. buy and hold), drawn rebased to the strategy's first equity and used for alpha,
    beta and the information ratio. The rolling window is half of ``summary.periods_per_year``.
    ``trades`` are dicts with the keys of :data:`TRADE_COLUMNS` (missing ones show blank).
    Raises :class:`~neural_trader.errors.DataError` on empty or misaligned inputs.
    """
    ts = as_ns(timestamps_ns)
    eq = np.asarray(equity, dtype=np.float64).ravel()
    if eq.size == 0:
        raise DataError("cannot report an empty equity curve")
    if eq.size != ts.size:
        raise DataError(f"equity has {eq.size} points but timestamps has {ts.size}")
    bench = None if benchmark is None else rebased(benchmark, eq.size, float(eq[0]))
    when = pd.to_datetime(ts, unit="ns", utc=True)
    rows = list(trades or [])
    ppy = summary.periods_per_year
    charts = [
        equity_chart(when, eq, bench),
        drawdown_chart(when, eq),
        monthly_heatmap(eq, ts),
        rolling_chart(when, eq, ppy),
        distribution_chart(eq),
    ]
    more = extended_metrics(eq, ts, ppy, _trade_pnls(rows), bench)
    safe_title = html.escape(title)
    page = "".join(
        [
            '<!doctype html><html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{safe_title}</title><style>{STYLE}</style></head><body>",
            f"<h1>{safe_title}</h1>",
            _metrics_table(summary.as_dict(), "summary"),
            "<h2>More metrics</h2>",
            _metrics_table(more, "extended"),
            _render(charts),
            f"<h2>Trades ({len(rows)})</h2>",
            _trade_table(rows),
            "</body></html>",
        ]
    )
    target = Path(path)
    _write_atomically(target, page)
    return target
