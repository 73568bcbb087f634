"""``neural-trader risk``: VaR/CVaR of a weighted basket by every method."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from neural_trader.cli.common import JsonOpt, console, print_json
from neural_trader.errors import RiskError
from neural_trader.risk.report import risk_report
from neural_trader.risk.returns import bundled_returns, file_returns
from neural_trader.risk.var import METHODS


def _floats(text: str, name: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise RiskError(f"{name} must be comma-separated numbers, got {text!r}") from None


def risk(
    symbols: Annotated[str, typer.Option(help="Comma-separated symbols, e.g. XOM,CVX,JPM.")],
    weights: Annotated[str, typer.Option(help="Comma-separated weights, e.g. 0.4,0.3,0.3.")],
    confidence: Annotated[float, typer.Option(help="VaR confidence, strictly in (0, 1).")] = 0.95,
    horizon: Annotated[int, typer.Option(help="Horizon in trading days.")] = 1,
    method: Annotated[
        str, typer.Option(help=f"all, or comma-separated of: {', '.join(METHODS)}.")
    ] = "all",
    start: Annotated[str | None, typer.Option(help="First date of the history.")] = None,
    end: Annotated[str | None, typer.Option(help="Last date of the history.")] = None,
    prices: Annotated[
        Path | None, typer.Option(help="CSV of prices (date, then a column per symbol).")
    ] = None,
    value: Annotated[float, typer.Option(help="Portfolio value for amounts.")] = 100_000.0,
    paths: Annotated[int, typer.Option(help="Monte Carlo paths.")] = 100_000,
    json_out: JsonOpt = False,
) -> None:
    """Value at Risk and expected shortfall of a portfolio on bundled data or your prices."""
    names = [s.strip() for s in symbols.split(",") if s.strip()]
    w = _floats(weights, "--weights")
    if len(w) != len(names):
        raise RiskError(f"{len(w)} weights for {len(names)} symbols")
    methods = METHODS if method == "all" else tuple(m.strip() for m in method.split(","))
    if paths < 2:
        raise RiskError(f"--paths must be at least 2, got {paths}")
    returns, span = (
        file_returns(prices, names) if prices is not None else bundled_returns(names, start, end)
    )
    report = risk_report(names, w, returns, span, confidence, horizon, methods, paths)
    if json_out:
        print_json(report.as_dict())
        return
    table = Table(
        title=(
            f"{', '.join(f'{s} {x:g}' for s, x in zip(names, w, strict=True))}: "
            f"{confidence:.1%} {horizon}-day risk, {report.start} → {report.end} "
            f"({report.observations:,} days)"
        )
    )
    for col in ("method", "VaR", "CVaR", f"VaR on {value:,.0f}", f"CVaR on {value:,.0f}"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for r in report.results:
        table.add_row(
            r.method,
            f"{r.var:.2%}",
            f"{r.cvar:.2%}",
            f"{r.var * value:,.0f}",
            f"{r.cvar * value:,.0f}",
        )
    console.print(table)
    console.print(
        f"annual volatility {report.volatility_annual:.2%}   max drawdown {report.max_drawdown:.2%}"
    )
