"""``neural-trader brokers list|check NAME``: the configured venues, what each can do, and
whether it answers. Credentials are shown as set or missing, never their values."""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Annotated, Any

import typer
from rich.table import Table

from neural_trader.brokers.base import Broker
from neural_trader.cli.common import ConfigOpt, JsonOpt, SetOpt, console, print_json, settings_from


def _registry() -> ModuleType:
    # The adapters import their SDKs (alpaca-py, ccxt: about a second): only these commands
    # pay for that, not every command of the CLI.
    from neural_trader.brokers import registry

    return registry


brokers_app = typer.Typer(help="Broker and exchange connections.", no_args_is_help=True)


@brokers_app.command("list")
def list_(config: ConfigOpt = None, sets: SetOpt = None, json_out: JsonOpt = False) -> None:
    """Every venue: enabled or not, adapter available, credentials set, capabilities."""
    settings = settings_from(config, sets)
    rows = _registry().venue_rows(settings)
    if json_out:
        print_json({"brokers": rows, "routes": settings.brokers.routes})
        return
    table = Table(title="brokers", title_justify="left")
    for col in ("venue", "enabled", "adapter", "mode", "credentials", "order types / note"):
        table.add_column(col)
    for r in rows:
        creds = "set" if set(r["credentials"].values()) == {"set"} else "missing"
        caps = r.get("capabilities")
        detail = ", ".join(caps["order_types"]) if caps else r.get("note", "")
        table.add_row(
            r["name"],
            "yes" if r["enabled"] else "no",
            "yes" if r["adapter"] else "no",
            "paper" if r["paper_trading"] else "live",
            "-" if r["name"] == "paper" else creds,
            detail,
        )
    console.print(table)


async def _check(client: Broker) -> dict[str, Any]:
    await client.connect()
    try:
        health = await client.health()
        account = await client.account()
        positions = await client.positions()
    finally:
        await client.close()
    return {
        "name": client.name,
        "ok": health.ok,
        "latency_ms": round(health.latency_s * 1000, 1),
        "detail": health.detail,
        "account": {
            "currency": account.currency,
            "cash": str(account.cash),
            "buying_power": str(account.buying_power),
            "equity": None if account.equity is None else str(account.equity),
        },
        "positions": len(positions),
        "capabilities": client.capabilities.describe(),
    }


@brokers_app.command("check")
def check(
    name: Annotated[str, typer.Argument(help="Venue name, e.g. alpaca or paper.")],
    config: ConfigOpt = None,
    sets: SetOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Connect to NAME, run a health check and read the account (nothing is traded)."""
    settings = settings_from(config, sets)
    client = _registry().build_clients(name, settings)[0]
    result = asyncio.run(_check(client))
    if json_out:
        print_json(result)
        return
    acct = result["account"]
    console.print(
        f"[bold]{name}[/bold]: {'ok' if result['ok'] else 'NOT OK'} in {result['latency_ms']} ms"
        f" ({result['detail']})\n"
        f"cash {acct['cash']} {acct['currency']}, buying power {acct['buying_power']}, "
        f"{result['positions']} positions"
    )
