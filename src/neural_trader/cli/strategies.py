"""``neural-trader strategies list``: every registered strategy and its parameter schema."""

from __future__ import annotations

from dataclasses import asdict

import typer
from rich.table import Table

from neural_trader.cli.common import JsonOpt, console, print_json
from neural_trader.strategies import REGISTRY
from neural_trader.strategies.manager import ParamInfo, parameter_schema, summary

strategies_app = typer.Typer(help="The strategy registry.", no_args_is_help=True)


def _range(p: ParamInfo) -> str:
    low = (
        f"≥ {p.minimum:g}"
        if p.minimum is not None
        else f"> {p.exclusive_minimum:g}"
        if p.exclusive_minimum is not None
        else ""
    )
    high = (
        f"≤ {p.maximum:g}"
        if p.maximum is not None
        else f"< {p.exclusive_maximum:g}"
        if p.exclusive_maximum is not None
        else ""
    )
    return ", ".join(x for x in (low, high) if x)


@strategies_app.command("list")
def list_(json_out: JsonOpt = False) -> None:
    """Each strategy with what it does and its parameters (type, default, allowed range)."""
    rows = {name: (summary(cls), parameter_schema(cls)) for name, cls in sorted(REGISTRY.items())}
    if json_out:
        print_json(
            {
                "strategies": [
                    {"name": name, "summary": text, "parameters": [asdict(p) for p in params]}
                    for name, (text, params) in rows.items()
                ]
            }
        )
        return
    for name, (text, params) in rows.items():
        table = Table(title=f"[bold]{name}[/bold]: {text}", title_justify="left")
        for col in ("parameter", "type", "default", "range", "description"):
            table.add_column(col)
        for p in params:
            default = p.default if not isinstance(p.default, list) else f"{len(p.default)} items"
            table.add_row(p.name, p.type, str(default), _range(p), p.description)
        console.print(table)
