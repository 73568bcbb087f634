"""``neural-trader performance``: how each strategy is doing on a stored paper account."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from neural_trader.cli.common import ConfigOpt, JsonOpt, SetOpt, console, print_json, settings_from
from neural_trader.trader import NeuralTrader


def _num(value: object, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def performance(
    account: Annotated[str, typer.Option(help="The stored paper account.")] = "paper",
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Per-strategy trades, win rate, profit factor and PnL, rebuilt from the stored fills."""
    nt = NeuralTrader(settings_from(config, set_))
    try:
        perf = nt.strategy_performance(account)
    finally:
        asyncio.run(nt.shutdown())
    if json_out:
        print_json(perf)
        return
    table = Table(title=f"account {account}, data time {perf['data_time'] or '–'}")
    cols = ("strategy", "trades", "win rate", "profit factor", "expectancy", "realized", "open")
    for col in cols:
        table.add_column(col, justify="left" if col == "strategy" else "right")
    for name, p in perf["strategies"].items():
        table.add_row(
            name,
            str(p["trades"]),
            _num(p["win_rate"], ".1%"),
            _num(p["profit_factor"], ".2f"),
            _num(p["expectancy"], ",.2f"),
            _num(p["realized_pnl"], ",.2f"),
            _num(p["unrealized_pnl"], ",.2f"),
        )
    console.print(table)
