"""``neural-trader report <run-id>``: (re)write a backtest's HTML report from its run folder."""

from __future__ import annotations

import csv
import webbrowser
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer

from neural_trader.analytics.metrics import summarize
from neural_trader.analytics.report import write_html_report
from neural_trader.cli.common import ConfigOpt, JsonOpt, SetOpt, console, print_json, settings_from
from neural_trader.errors import DataError


def report(
    run_id: Annotated[str, typer.Argument(help="A folder name under the results directory.")],
    out: Annotated[Path | None, typer.Option(help="Write the report here instead.")] = None,
    open_: Annotated[bool, typer.Option("--open", help="Open it in a browser.")] = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Rebuild the report of a stored backtest from its equity curve and trades."""
    settings = settings_from(config, set_)
    folder = settings.data.results_dir / run_id
    if not folder.is_dir():
        known = sorted(p.name for p in settings.data.results_dir.glob("*") if p.is_dir())
        raise DataError(
            f"no run {run_id!r} in {settings.data.results_dir}"
            + (f"; runs there: {', '.join(known[-5:])}" if known else "")
        )
    equity = _read_csv(folder / "equity.csv")
    trades = _read_csv(folder / "trades.csv")
    try:
        ts = pd.to_datetime([r["time"] for r in equity], utc=True).as_unit("ns").asi8
        values = np.array([float(r["equity"]) for r in equity])
        held = np.array([r["in_market"] == "1" for r in equity])
        pnls = np.array([float(t["pnl"]) for t in trades])
    except (KeyError, ValueError) as exc:
        raise DataError(f"{folder.name}: malformed run files: {exc}") from None
    benchmark = _benchmark(equity)
    summary = summarize(values, ts, pnls, held)
    target = out or folder / "report.html"
    write_html_report(
        target,
        title=f"backtest {run_id}",
        timestamps_ns=ts,
        equity=values,
        summary=summary,
        trades=[dict(t) for t in trades],
        benchmark=benchmark,
    )
    if json_out:
        print_json({"run_id": run_id, "report": str(target), "metrics": summary.as_dict()})
    else:
        console.print(f"report: {target}")
    if open_:
        webbrowser.open(target.resolve().as_uri())


def _benchmark(rows: list[dict[str, str]]) -> np.ndarray | None:
    """The stored buy-and-hold benchmark column, or None: folders written before it existed
    (or for a basket of instruments) have no such column, and a blank or unreadable one is
    treated the same, so the report is still drawn, just without a benchmark."""
    try:
        values = np.array([float(r["benchmark"]) for r in rows], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        return None
    if values.size == 0 or not (np.isfinite(values[0]) and values[0] > 0):
        return None
    return values


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise DataError(f"{path.parent.name}: missing {path.name}", file=str(path))
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))
