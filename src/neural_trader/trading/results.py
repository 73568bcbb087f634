"""Turning a backtest into what people and programs read: a JSON-able dict and a run folder
(``results/<run-id>/``) holding the trades, the equity curve, a summary and an HTML report.

The traded instrument's buy-and-hold close is the report's benchmark. ``BacktestResult`` does
not keep the bars, so the caller passes it (:func:`buy_and_hold` builds it from the series);
it is stored as the ``benchmark`` column of equity.csv so ``neural-trader report`` can redraw
the same page later.
"""

from __future__ import annotations

import csv
import json
import math
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from neural_trader.analytics.performance import by_strategy
from neural_trader.analytics.report import write_html_report
from neural_trader.core.market_data import BarSeries
from neural_trader.errors import DataError
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
        "ticks": result.ticks_processed,
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
        "strategies": {name: p.as_dict() for name, p in by_strategy(result.trades).items()},
        "trades": trade_rows(result),
    }


def new_run_id(result: BacktestResult) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{result.strategy}-{'_'.join(result.symbols)}-{stamp}-{secrets.token_hex(2)}"


def buy_and_hold(
    series: Sequence[BarSeries], timestamps_ns: npt.ArrayLike
) -> npt.NDArray[np.float64] | None:
    """The close of the one traded instrument at each timestamp (the last close at or before
    it): what holding it throughout would have earned. None for a basket of several series,
    which has no single natural benchmark, or when there is no positive close to start from."""
    if len(series) != 1:
        return None
    s = series[0]
    ts = np.asarray(timestamps_ns, dtype=np.int64).ravel()
    at = np.searchsorted(s.ts, ts, side="right") - 1
    if ts.size == 0 or at[0] < 0:
        return None
    close = np.asarray(s.close, dtype=np.float64)[at]
    if not (math.isfinite(close[0]) and close[0] > 0):
        return None
    return close


def save_run(
    result: BacktestResult,
    results_dir: Path,
    run_id: str,
    benchmark: npt.ArrayLike | None = None,
) -> Path:
    """Write trades.csv, equity.csv, summary.json and report.html under ``results_dir/run_id``.

    ``benchmark`` (see :func:`buy_and_hold`) is aligned with ``result.equity``; it becomes the
    ``benchmark`` column of equity.csv and the report's benchmark.
    """
    bench = None if benchmark is None else np.asarray(benchmark, dtype=np.float64).ravel()
    if bench is not None and bench.size != len(result.equity):
        raise DataError(f"benchmark has {bench.size} points but equity has {len(result.equity)}")
    out = results_dir / run_id
    out.mkdir(parents=True, exist_ok=False)
    data = result_dict(result, run_id)
    trades = data["trades"]
    fields = [
        "symbol",
        "strategy",
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
    header = ["time", "equity", "in_market"] + ([] if bench is None else ["benchmark"])
    with (out / "equity.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        rows = zip(
            result.timestamps.tolist(),
            result.equity.tolist(),
            result.in_market.tolist(),
            strict=True,
        )
        for i, (ts, eq, held) in enumerate(rows):
            extra = [] if bench is None else [repr(float(bench[i]))]
            writer.writerow([iso(ts), f"{eq:.6f}", int(held), *extra])
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
        benchmark=bench,
    )
    return out
