"""Turning a backtest into what people and programs read: a JSON-able dict and a run folder
(``results/<run-id>/``) holding the trades, the equity curve, a summary and an HTML report."""

from __future__ import annotations

import csv
import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from neural_trader.analytics.report import write_html_report
from neural_trader.trading.backtest import BacktestResult


def iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).isoformat().replace("+00:00", "Z")


def trade_rows(result: BacktestResult) -> list[dict[str, Any]]:
    rows = []
    for t in result.trades:
        row = t.as_dict()
        row["entry_time"] = iso(t.entry_time)
        row["exit_time"] = iso(t.exit_time)
        rows.append(row)
    return rows


def result_dict(result: BacktestResult, run_id: str | None = None) -> dict[str, Any]:
    summary = result.summary.as_dict()
    return {
        "run_id": run_id,
        "strategy": result.strategy,
        "params": result.params,
        "symbols": result.symbols,
        "start": iso(int(result.timestamps[0])),
        "end": iso(int(result.timestamps[-1])),
        "bars": result.bars_processed,
        "starting_cash": float(result.portfolio.starting_cash),
        "final_equity": result.final_equity,
        "total_return": summary["total_return"],
        "cagr": summary["cagr"],
        "sharpe": summary["sharpe"],
        "sortino": summary["sortino"],
        "max_drawdown": summary["max_drawdown"],
        "num_trades": len(result.trades),
        "win_rate": summary["win_rate"],
        "exposure": summary["exposure"],
        "commissions": float(result.portfolio.total_commissions),
        "orders_denied": len(result.denials),
        "orders_rejected": len(result.rejections),
        "metrics": summary,
        "trades": trade_rows(result),
    }


def new_run_id(result: BacktestResult) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{result.strategy}-{'_'.join(result.symbols)}-{stamp}-{secrets.token_hex(2)}"


def save_run(result: BacktestResult, results_dir: Path, run_id: str) -> Path:
    """Write trades.csv, equity.csv, summary.json and report.html under ``results_dir/run_id``."""
    out = results_dir / run_id
    out.mkdir(parents=True, exist_ok=False)
    data = result_dict(result, run_id)
    trades = data["trades"]
    fields = [
        "symbol",
        "direction",
        "entry_time",
        "entry_price",
        "exit_time",
        "exit_price",
        "quantity",
        "pnl",
        "commission",
    ]
    with (out / "trades.csv").open("w", newline="") as fh:
        trade_writer = csv.DictWriter(fh, fieldnames=fields)
        trade_writer.writeheader()
        trade_writer.writerows(trades)
    with (out / "equity.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["time", "equity", "in_market"])
        for ts, eq, held in zip(
            result.timestamps.tolist(),
            result.equity.tolist(),
            result.in_market.tolist(),
            strict=True,
        ):
            writer.writerow([iso(ts), f"{eq:.6f}", int(held)])
    summary = {k: v for k, v in data.items() if k != "trades"}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    params = ", ".join(f"{k}={v}" for k, v in result.params.items())
    write_html_report(
        out / "report.html",
        title=f"{result.strategy} ({params}) on {', '.join(result.symbols)}",
        timestamps_ns=result.timestamps,
        equity=result.equity,
        summary=result.summary,
        trades=trades,
    )
    return out
