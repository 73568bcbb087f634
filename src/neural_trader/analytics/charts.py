"""The figures of the backtest tearsheet, one builder per chart.

Each builder answers a :class:`Chart`: a plotly figure, a one-line note, or both (a figure with
a caveat). A chart that cannot be drawn from the data it is given (a flat curve, too few
periods, a single point) becomes a note instead of an exception, so a degenerate backtest still
gets a readable page. Only caller mistakes (a benchmark that does not line up) raise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from neural_trader.analytics.metrics import FloatArray, drawdown_series, returns_from_equity
from neural_trader.analytics.ratios import (
    monthly_returns,
    rolling_sharpe,
    rolling_volatility,
    yearly_returns,
)
from neural_trader.errors import DataError, RiskError
from neural_trader.risk.measures import historical_var_cvar

# Above this many points the curves are drawn with WebGL so the page stays responsive.
WEBGL_POINTS = 20_000
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
YEAR_COLUMN = "Year"
VAR_LEVELS = (0.95, 0.99)
MARGIN = {"t": 40, "b": 30}


@dataclass(frozen=True)
class Chart:
    """A figure to draw, and/or a note shown in its place (or under it)."""

    figure: go.Figure | None = None
    note: str = ""


def line(n_points: int, **kwargs: Any) -> go.Scatter | go.Scattergl:
    """A line trace, WebGL once the series is long enough to make SVG sluggish."""
    return go.Scattergl(**kwargs) if n_points > WEBGL_POINTS else go.Scatter(**kwargs)


def rebased(benchmark: npt.ArrayLike, size: int, start_equity: float) -> FloatArray:
    """The benchmark scaled to start at the strategy's first equity; DataError if misaligned."""
    b = np.asarray(benchmark, dtype=np.float64).ravel()
    if b.size != size:
        raise DataError(f"benchmark has {b.size} points but equity has {size}")
    if not (math.isfinite(b[0]) and b[0] > 0):
        raise DataError(f"benchmark must start at a positive finite value, not {b[0]}")
    return np.asarray(b / b[0] * start_equity, dtype=np.float64)


def equity_chart(when: pd.DatetimeIndex, equity: FloatArray, benchmark: FloatArray | None) -> Chart:
    """The strategy's equity, with the benchmark (already rebased) drawn behind it."""
    n = equity.size
    fig = go.Figure(line(n, x=when, y=equity, name="strategy", mode="lines", line={"width": 1.5}))
    if benchmark is not None:
        style = {"width": 1, "color": "#7f8c8d"}
        fig.add_trace(
            line(n, x=when, y=benchmark, name="benchmark (rebased)", mode="lines", line=style)
        )
    fig.update_layout(title="Equity", height=420, margin=MARGIN)
    return Chart(fig)


def drawdown_chart(when: pd.DatetimeIndex, equity: FloatArray) -> Chart:
    """The underwater curve in percent below the running peak."""
    style = {"color": "#c0392b", "width": 1}
    dd = drawdown_series(equity) * 100
    fig = go.Figure(
        line(equity.size, x=when, y=dd, fill="tozeroy", name="drawdown", mode="lines", line=style)
    )
    fig.update_layout(title="Drawdown (%)", height=260, margin=MARGIN, showlegend=False)
    return Chart(fig)


def _percent_cells(values: npt.ArrayLike) -> list[float | None]:
    """Percent values for plotly, ``None`` (a blank cell) where there is no number."""
    return [float(v) * 100 if math.isfinite(v) else None for v in np.asarray(values, float)]


def monthly_heatmap(equity: FloatArray, timestamps_ns: npt.NDArray[np.int64]) -> Chart:
    """Year × month returns in percent plus the year's compounded total, red below 0, green
    above, so good and bad months read at a glance whatever the overall level."""
    try:
        months = monthly_returns(equity, timestamps_ns)
        years = yearly_returns(equity, timestamps_ns)
    except ValueError as exc:
        return Chart(note=f"Monthly returns unavailable: {exc}.")
    if months.empty or not np.isfinite(months.to_numpy()).any():
        return Chart(note="Monthly returns need at least two equity points with a positive value.")
    table = months.assign(**{YEAR_COLUMN: years.reindex(months.index)})
    z = [_percent_cells(row) for row in table.to_numpy()]
    text = [["" if v is None else f"{v:.1f}%" for v in row] for row in z]
    span = max((abs(v) for row in z for v in row if v is not None), default=0.0) or 1.0
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[*MONTHS, YEAR_COLUMN],
            y=[str(y) for y in table.index],
            text=text,
            texttemplate="%{text}",
            colorscale="RdYlGn",
            zmid=0.0,
            zmin=-span,
            zmax=span,
            hovertemplate="%{y} %{x}: %{z:.2f}%<extra></extra>",
            colorbar={"title": {"text": "%"}},
            xgap=1,
            ygap=1,
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_layout(title="Monthly returns (%)", height=max(200, 60 + 28 * len(z)), margin=MARGIN)
    return Chart(fig)


def rolling_window(periods_per_year: float) -> int:
    """About six months of periods (126 for daily bars), at least 2."""
    if not (math.isfinite(periods_per_year) and periods_per_year > 0):
        return 126
    return max(2, round(periods_per_year / 2))


def rolling_chart(when: pd.DatetimeIndex, equity: FloatArray, periods_per_year: float) -> Chart:
    """Trailing Sharpe and annualised volatility over ~6 months: whether the edge is steady or
    came from one good stretch."""
    window = rolling_window(periods_per_year)
    r = returns_from_equity(equity)
    if r.size < window:
        return Chart(
            note=f"Rolling Sharpe skipped: {r.size} returns, fewer than the {window}-period window."
        )
    sr = rolling_sharpe(r, window, periods_per_year)[window - 1 :]
    vol = rolling_volatility(r, window, periods_per_year)[window - 1 :] * 100
    if not (np.isfinite(sr).any() or np.isfinite(vol).any()):
        return Chart(note="Rolling Sharpe skipped: the returns are not finite.")
    x = when[window:]  # a return belongs to the bar it ends on
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    fig.add_trace(
        line(sr.size, x=x, y=sr, name=f"Sharpe ({window})", mode="lines", line={"width": 1}),
        row=1,
        col=1,
    )
    style = {"width": 1, "color": "#8e44ad"}
    fig.add_trace(
        line(vol.size, x=x, y=vol, name=f"volatility % ({window})", mode="lines", line=style),
        row=2,
        col=1,
    )
    fig.add_hline(y=0, line={"width": 1, "color": "#999"}, row=1, col=1)
    fig.update_yaxes(title_text="Sharpe", row=1, col=1)
    fig.update_yaxes(title_text="vol (%)", row=2, col=1)
    fig.update_layout(
        title=f"Rolling Sharpe and volatility ({window} periods)", height=420, margin=MARGIN
    )
    note = "" if np.isfinite(sr).any() else "Rolling Sharpe undefined: returns have no spread."
    return Chart(fig, note)


def tail_risk(returns: FloatArray) -> dict[float, tuple[float, float]]:
    """Historical (VaR, CVaR) per confidence in :data:`VAR_LEVELS`, as positive loss fractions;
    empty when the returns cannot carry a risk figure (too few, constant, not finite)."""
    try:
        return {c: historical_var_cvar(returns, c) for c in VAR_LEVELS}
    except RiskError:
        return {}


def distribution_chart(equity: FloatArray) -> Chart:
    """Histogram of per-period returns with the historical VaR and CVaR marked, so the tail the
    headline numbers hide is visible."""
    r = returns_from_equity(equity)
    r = r[np.isfinite(r)]
    if r.size < 2:
        return Chart(note="Return distribution skipped: fewer than two returns.")
    pct = r * 100
    bins = int(np.clip(round(math.sqrt(pct.size)), 10, 100))
    counts, edges = np.histogram(pct, bins=bins)
    fig = go.Figure(
        go.Bar(
            x=(edges[:-1] + edges[1:]) / 2,
            y=counts,
            width=np.diff(edges),
            name="returns",
            marker={"color": "#2c7fb8"},
            hovertemplate="%{x:.3f}%: %{y}<extra></extra>",
        )
    )
    risk = tail_risk(r)
    colours = {0.95: "#e67e22", 0.99: "#c0392b"}
    for i, (confidence, (var, cvar)) in enumerate(risk.items()):
        for j, (kind, loss, dash) in enumerate((("VaR", var, "dash"), ("CVaR", cvar, "dot"))):
            fig.add_vline(
                x=-loss * 100,
                line={"color": colours[confidence], "dash": dash, "width": 1.5},
                annotation={
                    "text": f"{kind} {confidence:.0%}: {-loss:.2%}",
                    "yanchor": "top",
                    "y": 1 - 0.08 * (2 * i + j),
                    "font": {"size": 10},
                },
            )
    fig.update_layout(
        title="Distribution of period returns (%)",
        height=340,
        margin=MARGIN,
        showlegend=False,
        bargap=0,
    )
    note = "" if risk else "VaR and CVaR undefined: the returns do not vary."
    return Chart(fig, note)
