"""Writing an optimisation to ``results/<opt-id>/``: trials.csv, folds.json, summary.json, the
heat map, and the stitched out-of-sample curve when there is one.

The folder is built under a temporary name and renamed into place at the end, so a failure
halfway leaves no half-written result folder behind.
"""

from __future__ import annotations

import csv
import json
import math
import os
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from neural_trader.errors import StorageError
from neural_trader.optimize.heatmap import heatmap_page
from neural_trader.optimize.records import OptimizationResult, Trial
from neural_trader.trading.results import iso

METRIC_COLUMNS = (
    "sharpe",
    "sortino",
    "calmar",
    "total_return",
    "cagr",
    "max_drawdown",
    "num_trades",
    "exposure",
    "final_equity",
)


def new_opt_id(result: OptimizationResult) -> str:
    """``opt-<strategy>-<symbol>-<UTC time>-<4 hex>``: sortable by time, unique in practice."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"opt-{result.strategy}-{result.symbol}-{stamp}-{secrets.token_hex(2)}"


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def trial_dict(t: Trial) -> dict[str, Any]:
    """One trial for JSON: its identity, status, objective and figures side by side."""
    out: dict[str, Any] = {
        "fold": t.fold,
        "trial": t.number,
        "status": t.status,
        "params": t.params,
        "objective": _num(t.value),
    }
    out.update(t.metrics.as_dict() if t.metrics is not None else {})
    if t.note:
        out["note"] = t.note
    return out


def summary_dict(result: OptimizationResult, opt_id: str | None, top: int = 10) -> dict[str, Any]:
    """Everything but the individual trials (the top ``top`` are included), JSON-ready."""
    ts = result.timestamps
    folds = []
    for f in result.folds:
        d = f.as_dict()
        windows = [("in_sample", f.fold.in_sample)]
        if f.fold.out_of_sample is not None:
            windows.append(("out_of_sample", f.fold.out_of_sample))
        for name, w in windows:
            d[f"{name}_dates"] = [iso(int(ts[w.lo])), iso(int(ts[w.hi - 1]))]
        folds.append(d)
    statuses: dict[str, int] = {}
    for t in result.trials:
        statuses[t.status] = statuses.get(t.status, 0) + 1
    return {
        "opt_id": opt_id,
        "strategy": result.strategy,
        "symbol": result.symbol,
        "method": result.method,
        "objective": result.objective,
        "params": result.params,
        "evaluator": result.evaluator,
        "evaluator_reason": result.evaluator_reason,
        "settings": result.settings,
        "start": iso(int(ts[0])),
        "end": iso(int(ts[-1])),
        "bars": int(ts.size),
        "seconds": round(result.seconds, 3),
        "trials": len(result.trials),
        "trial_status": statuses,
        "folds": folds,
        "stitched_out_of_sample": None if result.stitched is None else result.stitched.as_dict(),
        "overfitting": result.flags,
        "top_trials": [trial_dict(t) for t in result.top(top)],
    }


def _write_trials(path: Path, result: OptimizationResult) -> None:
    header = ["fold", "trial", "status", *result.params, "objective", *METRIC_COLUMNS, "note"]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for t in result.trials:
            m = t.metrics.as_dict() if t.metrics is not None else {}
            writer.writerow(
                [t.fold, t.number, t.status, *(t.params[p] for p in result.params)]
                + ["" if _num(t.value) is None else repr(t.value)]
                + ["" if m.get(c) is None else m[c] for c in METRIC_COLUMNS]
                + [t.note]
            )


def save_optimization(
    result: OptimizationResult,
    results_dir: Path,
    opt_id: str,
    axes: tuple[str, str | None],
) -> Path:
    """Write the folder and return its path; StorageError if it exists or cannot be written."""
    out = results_dir / opt_id
    if out.exists():
        raise StorageError(f"results folder {out} already exists")
    partial = results_dir / f".{opt_id}.{os.getpid()}.partial"
    try:
        partial.mkdir(parents=True)
        _write_trials(partial / "trials.csv", result)
        summary = summary_dict(result, opt_id)
        (partial / "folds.json").write_text(json.dumps(summary["folds"], indent=2))
        (partial / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        (partial / "heatmap.html").write_text(heatmap_page(result, *axes), encoding="utf-8")
        if result.stitched_equity is not None:
            first = result.folds[0].fold.out_of_sample
            assert first is not None
            with (partial / "oos_equity.csv").open("w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(["time", "equity"])
                times = result.timestamps[first.lo : first.lo + len(result.stitched_equity)]
                for ts, eq in zip(times.tolist(), result.stitched_equity.tolist(), strict=True):
                    writer.writerow([iso(ts), f"{eq:.6f}"])
        os.replace(partial, out)
    except OSError as exc:
        raise StorageError(f"cannot write {out}: {exc}") from exc
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return out
