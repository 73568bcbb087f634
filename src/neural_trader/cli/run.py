"""``neural-trader run``: the main job — paper trading on bundled data through the live runner,
persisted to the embedded database, with a live status view in the terminal."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from neural_trader.cli.common import ConfigOpt, JsonOpt, SetOpt, console, print_json, settings_from
from neural_trader.storage import Store
from neural_trader.trading.pool_session import session_for
from neural_trader.trading.session import PaperSession


def run(
    speed: Annotated[
        float | None,
        typer.Option(help="Replay speed in bars per second; 0 = as fast as possible."),
    ] = None,
    until_end: Annotated[
        bool, typer.Option("--until-end", help="Stop when the replayed data ends.")
    ] = False,
    symbols: Annotated[
        str | None, typer.Option(help="Comma-separated bundled symbols to trade (default SPX).")
    ] = None,
    account: Annotated[str, typer.Option(help="Paper account name in the database.")] = "paper",
    reset: Annotated[
        bool, typer.Option("--reset", help="Forget the account's stored state and start over.")
    ] = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Paper-trade the enabled strategies; Ctrl-C stops gracefully, a rerun resumes."""
    cli: dict[str, object] = {}
    if speed is not None:
        cli["run.speed"] = speed
    if until_end:
        cli["run.until_end"] = True
    if symbols is not None:
        cli["run.symbols"] = [s.strip() for s in symbols.split(",") if s.strip()]
    settings = settings_from(config, set_, **cli)
    store = Store(settings.database.url, echo=settings.database.echo)
    try:
        if reset:
            store.reset_account(account)
        session = session_for(settings, store, account)
        show = console.is_terminal and not json_out
        asyncio.run(_main(session, settings.run.speed, settings.run.until_end, show))
        snapshot = portfolio_snapshot(session)
    finally:
        store.close()
    if json_out:
        print_json(snapshot)
    else:
        console.print(render(session, final=True))


async def _main(session: PaperSession, speed: float, until_end: bool, show: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if show:
            with Live(
                render(session), console=console, refresh_per_second=4, transient=True
            ) as live:
                await session.run(stop, speed, until_end, lambda: live.update(render(session)))
        else:
            await session.run(stop, speed, until_end)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M") if ts else "-"


def portfolio_snapshot(session: PaperSession) -> dict[str, object]:
    pf = session.portfolio
    st = session.status
    return {
        "account": session.account,
        "data_time": _when(st.data_ts),
        "bars_replayed": st.bars_done,
        "finished": st.finished,
        "starting_cash": float(pf.starting_cash),
        "cash": str(pf.cash),
        "equity": round(pf.equity(), 2),
        "commissions": str(pf.total_commissions),
        "realized_pnl": str(pf.realized_pnl),
        "positions": [
            {
                "symbol": p.symbol,
                "quantity": str(p.quantity),
                "avg_price": float(p.avg_price),
                "last_price": pf.last_price.get(p.symbol),
                "realized_pnl": str(p.realized_pnl),
            }
            for p in pf.open_positions()
        ],
        "open_orders": [o.client_order_id for o in session.kernel.open_orders()],
        "fills": st.fills,
        "denied": st.denials,
        "rejected": st.rejections,
    }


def render(session: PaperSession, final: bool = False) -> Group:
    pf = session.portfolio
    st = session.status
    equity = pf.equity()
    ret = equity / float(pf.starting_cash) - 1
    state = "finished" if st.finished else ("stopped" if final else "running")
    head = (
        f"[bold]paper account[/] {session.account}   [bold]{state}[/]   "
        f"data time {_when(st.data_ts)}   bars {st.bars_done:,}/{st.bars_total:,}\n"
        f"equity [bold]{equity:,.2f}[/] ({ret:+.2%})   cash {float(pf.cash):,.2f}   "
        f"fills {st.fills}   denied {st.denials}   rejected {st.rejections}"
    )
    if st.resumed_from:
        head += f"\nresumed after {_when(st.resumed_from)}"
    positions = Table(title="positions", expand=True)
    for col in ("symbol", "quantity", "avg price", "last", "unrealized"):
        positions.add_column(col, justify="left" if col == "symbol" else "right")
    for p in pf.open_positions():
        last = pf.last_price.get(p.symbol, 0.0)
        mult = float(pf.instruments.get(p.symbol).multiplier)
        unreal = float(p.quantity) * last * mult - float(p.cost_basis)
        positions.add_row(
            p.symbol,
            str(p.quantity),
            f"{float(p.avg_price):,.2f}",
            f"{last:,.2f}",
            f"{unreal:,.2f}",
        )
    orders = Table(title="open orders", expand=True)
    for col in ("id", "side", "qty", "type", "status"):
        orders.add_column(col)
    for o in session.kernel.open_orders():
        orders.add_row(
            o.client_order_id, o.side.value, str(o.quantity), o.order_type.value, o.status.value
        )
    events = "\n".join(st.events) or "no events yet"
    return Group(
        Panel(head, title="neural-trader"), positions, orders, Panel(events, title="last events")
    )
