"""``neural-trader risk``: the risk report of a weighted basket, or of the paper account."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from neural_trader.cli.common import ConfigOpt, JsonOpt, SetOpt, console, print_json, settings_from
from neural_trader.errors import RiskError
from neural_trader.risk.analyze import DEFAULT_BENCHMARK
from neural_trader.risk.report import RiskReport
from neural_trader.risk.var import METHODS
from neural_trader.trader import NeuralTrader


def _floats(text: str, name: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise RiskError(f"{name} must be comma-separated numbers, got {text!r}") from None


def risk(
    symbols: Annotated[
        str | None, typer.Option(help="Comma-separated symbols, e.g. XOM,CVX,JPM.")
    ] = None,
    weights: Annotated[
        str | None, typer.Option(help="Comma-separated weights, e.g. 0.4,0.3,0.3.")
    ] = None,
    account: Annotated[
        str | None,
        typer.Option(help="Report on this stored paper account's positions instead."),
    ] = None,
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
    benchmark: Annotated[
        str, typer.Option(help="Bundled symbol for beta, or 'none'.")
    ] = DEFAULT_BENCHMARK,
    stops: Annotated[
        str | None,
        typer.Option(help="Stop distance per symbol as a fraction of price, e.g. 0.05,0.05,0.1."),
    ] = None,
    stress: Annotated[bool, typer.Option(help="Replay the historical stress windows.")] = True,
    value: Annotated[float, typer.Option(help="Portfolio value for amounts.")] = 100_000.0,
    paths: Annotated[int, typer.Option(help="Monte Carlo paths.")] = 100_000,
    gan: Annotated[
        str | None, typer.Option(help="Registered GAN (e.g. gan-SPX) to draw stress paths from.")
    ] = None,
    gan_paths: Annotated[int, typer.Option(help="Generated paths.")] = 1000,
    gan_horizon: Annotated[int, typer.Option(help="Days per generated path.")] = 21,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Value at Risk, expected shortfall, beta, exposures, component VaR and stress replays."""
    methods = METHODS if method == "all" else tuple(m.strip() for m in method.split(","))
    bench = None if benchmark.strip().lower() == "none" else benchmark.strip()
    nt = NeuralTrader(settings_from(config, set_))
    try:
        if account is not None:
            if symbols or weights or prices or gan:
                raise RiskError(
                    "--account reads the positions from the account: drop --symbols, --weights, "
                    "--prices, --gan"
                )
            report, held = nt.analyze_portfolio_risk(
                account, confidence, horizon, methods, benchmark=bench, stress=stress
            )
            value = held.equity
        else:
            if not symbols or not weights:
                raise RiskError("give --symbols and --weights, or --account for the paper book")
            names = [s.strip() for s in symbols.split(",") if s.strip()]
            report = nt.analyze_risk(
                names,
                _floats(weights, "--weights"),
                confidence,
                horizon,
                start,
                end,
                methods,
                benchmark=bench,
                stop_distances=None if stops is None else _floats(stops, "--stops"),
                stress=stress,
                prices=prices,
                gan=gan,
                gan_paths=gan_paths,
                gan_horizon=gan_horizon,
            )
    finally:
        asyncio.run(nt.shutdown())
    if json_out:
        print_json({**report.as_dict(), "value": value})
        return
    _print(report, value)


def _print(report: RiskReport, value: float) -> None:
    held = ", ".join(f"{s} {w:.3g}" for s, w in zip(report.symbols, report.weights, strict=True))
    table = Table(
        title=(
            f"{held}: {report.confidence:.1%} {report.horizon}-day risk, "
            f"{report.start} → {report.end} ({report.observations:,} days)"
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
    comp = Table(title="where the risk comes from (normal VaR, Euler components)")
    for col in ("symbol", "weight", "marginal VaR", "component VaR", "share"):
        comp.add_column(col, justify="left" if col == "symbol" else "right")
    for c in report.components:
        comp.add_row(
            c.symbol,
            f"{c.weight:.3f}",
            f"{c.marginal_var:.2%}",
            f"{c.component_var:.2%}",
            f"{c.share:.1%}",
        )
    console.print(comp)
    e = report.exposures
    line = (
        f"annual volatility {report.volatility_annual:.2%}   max drawdown "
        f"{report.max_drawdown:.2%}   gross {e.gross:.2f}   net {e.net:.2f}"
    )
    if report.beta is not None:
        line += f"   beta to {report.benchmark} {report.beta:.2f}"
    if report.heat is not None:
        line += f"   heat {report.heat:.2%}"
    console.print(line)
    if report.stress is not None:
        st = Table(title="historical stress replays (weights held, rebalanced daily)")
        for col in ("scenario", "window", "return", "worst day", "max drawdown"):
            st.add_column(col, justify="left" if col in ("scenario", "window") else "right")
        for s in report.stress.results:
            st.add_row(
                s.name,
                f"{s.start} → {s.end}",
                f"{s.portfolio_return:.2%}",
                f"{s.worst_day:.2%}",
                f"{s.max_drawdown:.2%}",
            )
        for name, why in report.stress.skipped.items():
            st.add_row(name, why, "", "", "")
        console.print(st)
    if report.synthetic is not None:
        g = report.synthetic
        console.print(
            f"generated stress ({g.source}, {g.paths:,} paths of {g.horizon} days of {g.factor}, "
            f"beta {g.beta:.2f}): VaR {g.var:.2%}  CVaR {g.cvar:.2%}  worst {g.worst_return:.2%}  "
            f"median max drawdown {g.median_max_drawdown:.2%}  worst {g.worst_max_drawdown:.2%}"
        )
    for note in report.notes:
        console.print(f"note: {note}")
