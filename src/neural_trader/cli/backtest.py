"""``neural-trader backtest``: one strategy over bundled data or a file, with a report."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from neural_trader.brokers.paper import FeeModel
from neural_trader.cli.common import (
    ConfigOpt,
    JsonOpt,
    SetOpt,
    console,
    err_console,
    parse_pairs,
    print_json,
    settings_from,
)
from neural_trader.core.market_data import BarSeries
from neural_trader.data import load_bars, load_file
from neural_trader.errors import ConfigError
from neural_trader.news import load_news
from neural_trader.risk.gate import limits_from
from neural_trader.strategies import strategy_class
from neural_trader.strategies.services import attach_services
from neural_trader.trading.backtest import BacktestConfig, run_backtest
from neural_trader.trading.results import buy_and_hold, new_run_id, result_dict, save_run
from neural_trader.trading.session import local_services


def _decimal(value: str | None, name: str, default: Decimal) -> Decimal:
    """A non-negative number from the command line, or ``default`` when not given."""
    if value is None:
        return default
    try:
        out = Decimal(value)
    except InvalidOperation:
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not out.is_finite() or out < 0:
        raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")
    return out


def backtest(
    strategy: Annotated[str, typer.Option(help="Strategy name, e.g. sma_cross.")],
    symbol: Annotated[
        list[str], typer.Option(help="Bundled symbol(s); repeat or comma-separate.")
    ] = ["SPX"],  # noqa: B006 - typer needs a literal default
    start: Annotated[str | None, typer.Option(help="First date, e.g. 2000-01-01.")] = None,
    end: Annotated[str | None, typer.Option(help="Last date, e.g. 2018-12-31.")] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="Strategy parameter, e.g. --param fast=10.")
    ] = None,
    data_file: Annotated[
        Path | None, typer.Option(help="CSV/Parquet of your own bars instead of bundled data.")
    ] = None,
    cash: Annotated[str | None, typer.Option(help="Starting cash (default 100000).")] = None,
    commission: Annotated[
        str | None, typer.Option(help="Commission in basis points of notional.")
    ] = None,
    commission_per_share: Annotated[str | None, typer.Option(help="Commission per unit.")] = None,
    commission_min: Annotated[str | None, typer.Option(help="Minimum commission per fill.")] = None,
    slippage: Annotated[str | None, typer.Option(help="Slippage in basis points.")] = None,
    results_dir: Annotated[
        Path | None, typer.Option(help="Where run folders go (default ./results).")
    ] = None,
    news: Annotated[
        Path | None, typer.Option(help="News file (CSV or JSONL: time, symbols, headline).")
    ] = None,
    no_report: Annotated[bool, typer.Option(help="Do not write the results folder.")] = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Backtest a strategy; prints a summary and writes results/<run-id>/ with an HTML report."""
    settings = settings_from(config, set_)
    paper = settings.paper
    params = parse_pairs(param, "--param")
    strat = attach_services(strategy_class(strategy).from_params(params), local_services(settings))
    symbols = [s.strip() for item in symbol for s in item.split(",") if s.strip()]
    series: list[BarSeries]
    if data_file is not None:
        series = [load_file(data_file, symbol=symbols[0] if symbols else None)]
        if start or end:
            series = [_slice(series[0], start, end)]
    else:
        series = [load_bars(s, start=start, end=end) for s in symbols]
    fees = FeeModel(
        _decimal(commission_per_share, "--commission-per-share", paper.commission_per_share),
        _decimal(commission, "--commission", paper.commission_bps),
        _decimal(commission_min, "--commission-min", paper.commission_min),
    )
    cfg = BacktestConfig(
        starting_cash=_decimal(cash, "--cash", paper.starting_cash),
        currency=paper.currency,
        fees=fees,
        slippage_bps=_decimal(slippage, "--slippage", paper.slippage_bps),
        max_volume_participation=paper.max_volume_participation,
        limits=limits_from(settings.risk),
    )
    n = sum(len(s) for s in series)
    items = None if news is None else load_news(news)
    if json_out or n < 50_000:
        result = run_backtest(strat, series, cfg, news=items)
    else:
        with Progress(
            TextColumn("[bold]backtest"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} bars"),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
        ) as bar:
            task = bar.add_task("bars", total=n)
            result = run_backtest(
                strat, series, cfg, lambda i, _t: bar.update(task, completed=i), news=items
            )
    run_id = None if no_report else new_run_id(result)
    out_dir = None
    if run_id is not None:
        out_dir = save_run(
            result,
            results_dir or settings.data.results_dir,
            run_id,
            benchmark=buy_and_hold(series, result.timestamps),
        )
    data = result_dict(result, run_id)
    if out_dir is not None:
        data["results_dir"] = str(out_dir)
    if json_out:
        print_json(data)
        return
    table = Table(title=f"{result.strategy} on {', '.join(result.symbols)}", show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("period", f"{data['start'][:10]} → {data['end'][:10]} ({_replayed(data)})"),
        ("final equity", f"{data['final_equity']:,.2f}"),
        ("total return", _pct(data["total_return"])),
        ("CAGR", _pct(data["cagr"])),
        ("Sharpe", _num(data["sharpe"])),
        ("Sortino", _num(data["sortino"])),
        ("max drawdown", _pct(data["max_drawdown"])),
        ("trades", str(data["num_trades"])),
        ("win rate", _pct(data["win_rate"])),
        ("exposure", _pct(data["exposure"])),
        ("commissions", f"{data['commissions']:,.2f}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    if out_dir is not None:
        console.print(f"results: {out_dir}  (report: {out_dir / 'report.html'})")


def _slice(series: BarSeries, start: str | None, end: str | None) -> BarSeries:
    import pandas as pd

    lo = None if start is None else int(pd.Timestamp(start, tz="UTC").value)
    hi = (
        None if end is None else int((pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)).value) - 1
    )
    return series.slice_time(lo, hi)


def _replayed(data: dict[str, Any]) -> str:
    if data["ticks"]:
        return f"{data['ticks']:,} ticks derived from the bars"
    return f"{data['bars']:,} bars"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.2f}%"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"
