"""The objective over two parameters as a self-contained HTML heat map (plotly.js inlined).

A cell is the best in-sample objective among the eligible trials with that pair of values (the
best over any other swept parameter), averaged over the folds that tried it; blank cells were
never tried or never eligible (refused, capped, undefined). Each fold's choice is marked.
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from neural_trader.errors import ConfigError
from neural_trader.optimize.records import OptimizationResult


def heatmap_axes(names: Sequence[str], chosen: Sequence[str] | None) -> tuple[str, str | None]:
    """The two swept parameters to draw: ``chosen``, checked, or the first two (one if only
    one is swept). Checked before a run so that a typo does not cost a whole sweep."""
    if chosen:
        unknown = [c for c in chosen if c not in names]
        if unknown or len(chosen) != 2 or chosen[0] == chosen[1]:
            raise ConfigError(
                f"--heatmap needs two different swept parameters out of {', '.join(names)}, "
                f"got {','.join(chosen)}"
            )
        return chosen[0], chosen[1]
    return names[0], (names[1] if len(names) > 1 else None)


def cell_values(result: OptimizationResult, x: str, y: str | None) -> dict[tuple[Any, Any], float]:
    """(x value, y value) -> mean over folds of the best eligible objective in that cell."""
    best: dict[tuple[int, Any, Any], float] = {}
    for t in result.trials:
        if not t.eligible:
            continue
        key = (t.fold, t.params[x], None if y is None else t.params[y])
        if key not in best or t.value > best[key]:
            best[key] = t.value
    per_cell: dict[tuple[Any, Any], list[float]] = defaultdict(list)
    for (_, xv, yv), value in best.items():
        per_cell[(xv, yv)].append(value)
    return {cell: sum(v) / len(v) for cell, v in per_cell.items()}


def _axis(result: OptimizationResult, name: str | None) -> list[Any]:
    if name is None:
        return [None]
    seen: list[Any] = []
    for t in result.trials:
        if t.params[name] not in seen:
            seen.append(t.params[name])
    try:
        return sorted(seen)
    except TypeError:  # mixed kinds of choice: keep the order they were tried in
        return seen


def heatmap_figure(result: OptimizationResult, x: str, y: str | None) -> go.Figure:
    """The heat map of :func:`cell_values` with each fold's choice marked (one row when only
    one parameter is swept); axes are categorical so uneven steps keep equal cells."""
    cells = cell_values(result, x, y)
    xs, ys = _axis(result, x), _axis(result, y)
    z = [[cells.get((xv, yv)) for xv in xs] for yv in ys]
    label = [str(v) for v in xs]
    ylabel = [result.objective] if y is None else [str(v) for v in ys]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=label,
            y=ylabel,
            colorscale="RdYlGn",
            colorbar={"title": {"text": result.objective}},
            hovertemplate=f"{x}=%{{x}}<br>{y or ''}=%{{y}}<br>objective=%{{z:.4g}}<extra></extra>",
        )
    )
    marks = [f for f in result.folds if f.best is not None]
    if marks:
        fig.add_trace(
            go.Scatter(
                x=[str(f.best.params[x]) for f in marks if f.best is not None],
                y=[
                    result.objective if y is None else str(f.best.params[y])
                    for f in marks
                    if f.best is not None
                ],
                mode="markers+text",
                text=[f"fold {f.fold.index}" for f in marks],
                textposition="top center",
                marker={"symbol": "x", "size": 12, "color": "black"},
                name="chosen",
            )
        )
    fig.update_layout(
        xaxis={"title": {"text": x}, "type": "category"},
        yaxis={"title": {"text": y or ""}, "type": "category"},
        margin={"t": 40, "b": 40},
        height=600,
    )
    return fig


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.4g}"
    return html.escape(str(value))


def heatmap_page(result: OptimizationResult, x: str, y: str | None) -> str:
    """The whole page: title, heat map, one row per fold, and the overfitting verdict."""
    title = html.escape(
        f"{result.strategy} on {result.symbol}: {result.objective} over "
        f"{x}{'' if y is None else ' × ' + y} ({result.method})"
    )
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{_cell(v)}</td>"
            for v in (
                f.fold.index,
                "" if f.best is None else ", ".join(f"{k}={v}" for k, v in f.best.params.items()),
                math.nan if f.best is None else f.best.value,
                f.oos_value,
                f.gap,
                f.deflated_sharpe,
            )
        )
        + "</tr>"
        for f in result.folds
    )
    reasons = result.flags.get("reasons") or ["none"]
    figure = heatmap_figure(result, x, y).to_html(full_html=False, include_plotlyjs=True)
    return "".join(
        [
            '<!doctype html><html lang="en"><head><meta charset="utf-8">',
            f"<title>{title}</title><style>body{{font-family:system-ui,sans-serif;margin:2rem}}",
            "td,th{padding:.25rem .75rem;border-bottom:1px solid #ddd}</style></head><body>",
            f"<h1>{title}</h1>",
            "<p>Each cell: the best in-sample objective with those values, averaged over the ",
            "folds that tried them; blank cells were refused, capped or undefined.</p>",
            figure,
            "<h2>Folds</h2><table><tr><th>fold</th><th>chosen</th><th>in-sample</th>",
            "<th>out-of-sample</th><th>gap</th><th>deflated Sharpe</th></tr>",
            rows,
            "</table><h2>Overfitting flags</h2><ul>",
            "".join(f"<li>{html.escape(r)}</li>" for r in reasons),
            "</ul></body></html>",
        ]
    )
