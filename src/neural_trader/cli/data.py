"""``neural-trader data list``: the bundled market data."""

from __future__ import annotations

import typer
from rich.table import Table

from neural_trader.cli.common import JsonOpt, console, print_json
from neural_trader.data import list_datasets

data_app = typer.Typer(help="Market data shipped with the platform.", no_args_is_help=True)


@data_app.command("list")
def list_(json_out: JsonOpt = False) -> None:
    """List the bundled datasets (symbol, interval, period, rows, source)."""
    sets = list_datasets()
    if json_out:
        print_json(
            [
                {
                    "symbol": d.symbol,
                    "name": d.name,
                    "interval": d.interval,
                    "start": str(d.start),
                    "end": str(d.end),
                    "rows": d.rows,
                    "source": d.source,
                }
                for d in sets
            ]
        )
        return
    table = Table(title="Bundled market data")
    for col in ("symbol", "name", "interval", "start", "end", "rows", "source"):
        table.add_column(col, justify="right" if col == "rows" else "left")
    for d in sets:
        table.add_row(
            d.symbol,
            d.name,
            d.interval,
            str(d.start)[:10],
            str(d.end)[:10],
            f"{d.rows:,}",
            d.source,
        )
    console.print(table)
