"""``neural-trader audit verify``: walk the audit log's hash chain and say whether any entry
was edited or removed (exit 1, naming the first broken entry, if so)."""

from __future__ import annotations

import typer

from neural_trader.cli.common import ConfigOpt, JsonOpt, SetOpt, console, print_json, settings_from
from neural_trader.storage import AuditLog, Store

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify(json_out: JsonOpt = False, config: ConfigOpt = None, set_: SetOpt = None) -> None:
    settings = settings_from(config, set_)
    store = Store(settings.database.url, echo=settings.database.echo)
    try:
        result = AuditLog(store).verify()
    finally:
        store.close()
    if json_out:
        print_json(result.as_dict())
    elif result.ok:
        console.print(f"audit log intact: {result.entries} entries chain correctly")
    else:
        console.print(
            f"[bold red]audit log broken[/] at entry {result.broken_at}: {result.problem}"
        )
    if not result.ok:
        raise typer.Exit(1)
