"""``neural-trader optimize``: search a strategy's parameters, walk-forward validated.

Prints a table per fold and the top trials (or one JSON object with ``--json``) and writes
``results/<opt-id>/`` with trials.csv, folds.json, summary.json and heatmap.html.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from neural_trader.brokers.paper import FeeModel
from neural_trader.cli.backtest import _decimal
from neural_trader.cli.common import (
    ConfigOpt,
    JsonOpt,
    SetOpt,
    console,
    err_console,
    print_json,
    settings_from,
)
from neural_trader.config import Settings
from neural_trader.data import load_bars
from neural_trader.errors import ConfigError
from neural_trader.optimize import (
    Evaluator,
    Executor,
    Objective,
    OptimizationResult,
    OptimizeSettings,
    ParameterSpace,
    local_executor,
    make_evaluator,
)
from neural_trader.optimize import optimize as run_optimization
from neural_trader.optimize.heatmap import heatmap_axes
from neural_trader.optimize.store import new_opt_id, save_optimization, summary_dict
from neural_trader.risk.gate import limits_from
from neural_trader.strategies import strategy_class
from neural_trader.trading.backtest import BacktestConfig


def _config(settings: Settings, cash: str | None, commission: str | None) -> BacktestConfig:
    paper = settings.paper
    return BacktestConfig(
        starting_cash=_decimal(cash, "--cash", paper.starting_cash),
        currency=paper.currency,
        fees=FeeModel(
            paper.commission_per_share,
            _decimal(commission, "--commission", paper.commission_bps),
            paper.commission_min,
        ),
        slippage_bps=paper.slippage_bps,
        max_volume_participation=paper.max_volume_participation,
        limits=limits_from(settings.risk),
    )


def optimize(
    strategy: Annotated[str, typer.Option(help="Strategy name, e.g. sma_cross.")],
    param: Annotated[
        list[str],
        typer.Option(help="Parameter range: fast=5:50:5 (inclusive), x=0.5:2.0:0.25 or a,b,c."),
    ],
    symbol: Annotated[str, typer.Option(help="Bundled symbol to optimise on.")] = "SPX",
    method: Annotated[str, typer.Option(help="grid, random or bayes (Optuna TPE).")] = "grid",
    trials: Annotated[
        int | None, typer.Option(min=1, help="Trials per fold (random and bayes).")
    ] = None,
    walk_forward: Annotated[
        int | None, typer.Option("--walk-forward", min=1, help="Number of walk-forward folds.")
    ] = None,
    anchored: Annotated[bool, typer.Option(help="Anchored (growing) in-sample windows.")] = False,
    in_sample_ratio: Annotated[
        float, typer.Option(help="In-sample window length over out-of-sample length.")
    ] = 3.0,
    objective: Annotated[
        str, typer.Option(help="sharpe, sortino, calmar or total_return.")
    ] = "sharpe",
    max_drawdown: Annotated[
        float | None, typer.Option(help="Exclude trials falling more than this (0.25 = 25%).")
    ] = None,
    start: Annotated[str | None, typer.Option(help="First date, e.g. 2000-01-01.")] = None,
    end: Annotated[str | None, typer.Option(help="Last date, e.g. 2018-12-31.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random and bayes searches.")] = 0,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Processes (default: all local cores).")
    ] = None,
    kernel_only: Annotated[
        bool, typer.Option("--kernel-only", help="Always evaluate on the full kernel.")
    ] = False,
    heatmap: Annotated[
        str | None, typer.Option(help="Two parameters for the heat map, e.g. fast,slow.")
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="How many top trials to list.")] = 10,
    cash: Annotated[str | None, typer.Option(help="Starting cash (default 100000).")] = None,
    commission: Annotated[
        str | None, typer.Option(help="Commission in basis points of notional.")
    ] = None,
    results_dir: Annotated[
        Path | None, typer.Option(help="Where result folders go (default ./results).")
    ] = None,
    no_save: Annotated[bool, typer.Option(help="Do not write the results folder.")] = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Optimise a strategy's parameters (grid/random/bayes), optionally walk-forward."""
    settings = settings_from(config, set_)
    if "," in symbol:
        raise ConfigError("optimize runs on one --symbol at a time")
    cls = strategy_class(strategy)
    space = ParameterSpace.from_specs(cls, param)
    opts = OptimizeSettings(
        method=method,
        trials=trials,
        folds=walk_forward or 0,
        anchored=anchored,
        in_sample_ratio=in_sample_ratio,
        objective=Objective(objective, max_drawdown),
        seed=seed,
    )
    axes = heatmap_axes(space.names, [a.strip() for a in heatmap.split(",")] if heatmap else None)
    series = load_bars(symbol.strip(), start=start, end=end)
    evaluator, reason = make_evaluator(
        cls, series, _config(settings, cash, commission), not kernel_only
    )
    executor = local_executor(workers)
    try:
        result = _run(space, evaluator, opts, executor, reason, show=not json_out)
    finally:
        executor.close()
    out_dir = None
    opt_id = None
    if not no_save:
        opt_id = new_opt_id(result)
        out_dir = save_optimization(result, results_dir or settings.data.results_dir, opt_id, axes)
    data = summary_dict(result, opt_id, top)
    if out_dir is not None:
        data["results_dir"] = str(out_dir)
    if json_out:
        print_json(data)
        return
    _print(result, data)
    if out_dir is not None:
        console.print(f"results: {out_dir}  (heat map: {out_dir / 'heatmap.html'})")


def _run(
    space: ParameterSpace,
    evaluator: Evaluator,
    opts: OptimizeSettings,
    executor: Executor,
    reason: str,
    show: bool,
) -> OptimizationResult:
    """The optimisation, under a progress bar on stderr when a person is watching."""
    if not show:
        return run_optimization(space, evaluator, opts, executor, None, reason)
    # No auto-refresh thread: the worker processes are forked while the bar is up.
    with Progress(
        TextColumn("[bold]optimize"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        auto_refresh=False,
    ) as bar:
        task = bar.add_task("trials", total=None)

        def progress(done: int, total: int) -> None:  # repaint now: there is no refresh thread
            bar.update(task, completed=done, total=total, refresh=True)

        return run_optimization(space, evaluator, opts, executor, progress, reason)


def stitched_any(data: dict[str, Any]) -> bool:
    """Whether the run was walk-forward (it then has a stitched out-of-sample result)."""
    return data["stitched_out_of_sample"] is not None


def _span(dates: list[str]) -> str:
    """An ISO window as dates, with the times kept when it starts and ends on one day."""
    a, b = dates
    return f"{a[:10]}→{b[:10]}" if a[:10] != b[:10] else f"{a[:16]}→{b[11:16]}"


def _fmt(x: Any, pct: bool = False) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x * 100:.2f}%" if pct else f"{x:.3f}"
    return str(x)


def _print(result: OptimizationResult, data: dict[str, Any]) -> None:
    console.print(
        f"[bold]{result.strategy}[/bold] on {result.symbol}: {result.method} search, objective "
        f"{result.objective}, {data['trials']} trials, evaluator {result.evaluator} "
        f"({result.evaluator_reason}), {result.seconds:.2f} s"
    )
    folds = Table(title="walk-forward folds" if stitched_any(data) else "in-sample search")
    right = ("IS obj", "OOS obj", "gap", "DSR", "OOS trades")
    for col in ("fold", "in sample", "out of sample", "chosen", *right):
        folds.add_column(col, justify="right" if col in right else "left")
    for f in data["folds"]:
        oos = f.get("out_of_sample_dates")
        chosen = f["best_params"]
        folds.add_row(
            str(f["fold"]),
            _span(f["in_sample_dates"]),
            "-" if oos is None else _span(oos),
            "-" if chosen is None else ", ".join(f"{k}={v}" for k, v in chosen.items()),
            _fmt(f["in_sample_objective"]),
            _fmt(f["out_of_sample_objective"]),
            _fmt(f["gap"]),
            _fmt(f["deflated_sharpe_ratio"]),
            "-"
            if f["out_of_sample_metrics"] is None
            else str(f["out_of_sample_metrics"]["num_trades"]),
        )
    console.print(folds)
    best = Table(title="top trials (in sample)")
    for col in ("fold", "params", "objective", "sharpe", "total return", "max drawdown", "trades"):
        best.add_column(col, justify="left" if col == "params" else "right")
    for t in data["top_trials"]:
        best.add_row(
            str(t["fold"]),
            ", ".join(f"{k}={v}" for k, v in t["params"].items()),
            _fmt(t["objective"]),
            _fmt(t.get("sharpe")),
            _fmt(t.get("total_return"), pct=True),
            _fmt(t.get("max_drawdown"), pct=True),
            str(t.get("num_trades", "")),
        )
    console.print(best)
    stitched = data["stitched_out_of_sample"]
    if stitched is not None:
        console.print(
            f"stitched out of sample: Sharpe {_fmt(stitched['sharpe'])}, total return "
            f"{_fmt(stitched['total_return'], pct=True)}, max drawdown "
            f"{_fmt(stitched['max_drawdown'], pct=True)}"
        )
    flags = data["overfitting"]
    verdict = "suspected: " + "; ".join(flags["reasons"]) if flags["overfit_suspected"] else "none"
    console.print(f"overfitting: {verdict}")
