"""``neural-trader train | predict | synth | models ...``: the neural models from the shell."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from neural_trader.cli.common import (
    ConfigOpt,
    JsonOpt,
    SetOpt,
    console,
    err_console,
    print_json,
    settings_from,
)
from neural_trader.errors import NeuralError
from neural_trader.storage import Store

if TYPE_CHECKING:  # torch loads only when a command needs a model
    from neural_trader.neural.service import NeuralService
    from neural_trader.storage.registry import ModelRecord

models_app = typer.Typer(help="The model registry: list, show, promote, roll back, monitor.")


@contextmanager
def _service(config: Path | None, set_: list[str] | None) -> Iterator[NeuralService]:
    from neural_trader.neural.service import NeuralService

    settings = settings_from(config, set_)
    store = Store(settings.database.url, echo=settings.database.echo)
    service = NeuralService(settings.neural, store)
    try:
        yield service
    finally:
        service.close()
        store.close()


def model_name(model: str, symbol: str | None) -> str:
    from neural_trader.neural.service import model_name as full_name

    return full_name(model, symbol)


def _hparams(items: list[str] | None) -> dict[str, Any]:
    """``--hparam hidden_size=32`` items as a dict of JSON values (plain text otherwise)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise NeuralError(f"--hparam must look like name=value, got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def _summary(record: ModelRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": record.name,
        "version": record.version,
        "architecture": record.architecture,
        "symbol": record.symbol,
        "stage": record.stage,
        "created_at": pd.Timestamp(record.created_at, tz="UTC").isoformat(),
    }
    metrics = record.metrics
    if "verdict" in metrics:
        out["verdict"] = metrics["verdict"]
        out["test_rmse"] = metrics["test_rmse"]
        out["conformal"] = metrics["conformal"]
    if "reproduced" in metrics:
        out["stylized_facts_reproduced"] = metrics["reproduced"]
    return out


def train(
    architecture: Annotated[str, typer.Argument(help="lstm, transformer or gan.")],
    symbol: Annotated[str, typer.Option(help="Bundled symbol to train on.")] = "SPX",
    epochs: Annotated[int, typer.Option(help="Most epochs (early stopping may end sooner).")] = 20,
    window: Annotated[int, typer.Option(help="Bars per input window (forecasters).")] = 30,
    start: Annotated[str | None, typer.Option(help="First date of the data.")] = None,
    end: Annotated[str | None, typer.Option(help="Last date of the data.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (training is deterministic).")] = 0,
    alpha: Annotated[float, typer.Option(help="Conformal miscoverage (0.1: 90% intervals).")] = 0.1,
    hparam: Annotated[
        list[str] | None, typer.Option(help="Model hyperparameter, e.g. hidden_size=32.")
    ] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Train a model as a background job with a progress bar; Ctrl-C cancels it."""
    from neural_trader.neural.service import TrainSpec

    spec = TrainSpec(
        architecture, symbol, epochs, window, start=start, end=end, seed=seed, alpha=alpha,
        hparams=_hparams(hparam),
    )  # fmt: skip
    with _service(config, set_) as service:
        job = service.submit(spec)
        try:
            with Progress(
                TextColumn(f"[bold]train {spec.name}"),
                BarColumn(),
                TextColumn("{task.fields[message]}"),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
                disable=json_out,
            ) as bar:
                task = bar.add_task("train", total=1.0, message="queued")
                while not (job := service.registry.get_job(job.id)).finished:
                    bar.update(task, completed=job.progress, message=job.message)
                    time.sleep(0.2)
        except KeyboardInterrupt:
            service.cancel(job.id)
            job = service.wait(job.id)
        job = service.wait(job.id)
        if job.status == "cancelled":
            raise NeuralError(f"training cancelled: {job.message}")
        if job.status != "succeeded" or job.result is None:
            raise NeuralError(f"training failed: {job.error}")
        record = service.registry.get_model(job.result["name"], job.result["version"])
    summary = {**_summary(record), "job": job.id}
    if json_out:
        print_json(summary)
        return
    console.print(f"registered {record.name} version {record.version} (stage {record.stage})")
    for line in summary.get("verdict", []):
        console.print(f"  {line}")
    if "conformal" in summary:
        c = summary["conformal"]
        cover = ", ".join(f"{x:.1%}" for x in c["test_coverage"])
        console.print(f"  {1 - c['alpha']:.0%} conformal intervals cover {cover} of test windows")
    if "stylized_facts_reproduced" in summary:
        console.print(f"  stylized facts reproduced: {summary['stylized_facts_reproduced']}")


def predict(
    model: Annotated[str, typer.Option(help="lstm, transformer, or a full name like lstm-SPX.")],
    symbol: Annotated[str | None, typer.Option(help="Bundled symbol.")] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Forecast from the last bar up to here.")
    ] = None,
    version: Annotated[int | None, typer.Option(help="A version (default: production).")] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Forecast log returns per horizon with quantiles and a conformal interval."""
    with _service(config, set_) as service:
        forecast = service.predict(model_name(model, symbol), symbol, as_of, version)
    if json_out:
        print_json(forecast.as_dict())
        return
    when = pd.Timestamp(forecast.as_of, tz="UTC").isoformat()
    table = Table(title=f"{forecast.model} v{forecast.version} on {forecast.symbol} from {when}")
    for col in ("horizon", *[f"q{q}" for q in forecast.quantiles], "interval"):
        table.add_column(col, justify="right")
    for j, h in enumerate(forecast.horizons):
        table.add_row(
            f"{h} bars",
            *[f"{v[j]:+.4%}" for v in forecast.quantiles.values()],
            f"[{forecast.lower[j]:+.4%}, {forecast.upper[j]:+.4%}] ({forecast.coverage:.0%})",
        )
    console.print(table)


def synth(
    out: Annotated[Path, typer.Option(help="Parquet file to write.")],
    model: Annotated[str, typer.Option(help="gan, or a full name like gan-SPX.")] = "gan",
    symbol: Annotated[str, typer.Option(help="Symbol the GAN was trained on.")] = "SPX",
    paths: Annotated[int, typer.Option(help="Number of paths.")] = 100,
    length: Annotated[int, typer.Option(help="Days per path.")] = 250,
    regime: Annotated[str | None, typer.Option(help="low or high volatility.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Write synthetic daily log-return paths (path, day, log_return, price from 1.0)."""
    if paths < 1 or length < 1:
        raise NeuralError(f"--paths and --length must be positive, got {paths}, {length}")
    with _service(config, set_) as service:
        r = service.sample_paths(model_name(model, symbol), paths, length, regime, seed)
    frame = pd.DataFrame(
        {
            "path": np.repeat(np.arange(paths), length),
            "day": np.tile(np.arange(length), paths),
            "log_return": r.ravel(),
            "price": np.exp(np.cumsum(r, axis=1)).ravel(),
        }
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out, index=False)
    info = {"out": str(out), "paths": paths, "length": length, "daily_std": float(r.std())}
    if json_out:
        print_json(info)
    else:
        console.print(f"wrote {paths} paths × {length} days to {out}")


@models_app.command("list")
def list_models(json_out: JsonOpt = False, config: ConfigOpt = None, set_: SetOpt = None) -> None:
    """Every registered model version."""
    with _service(config, set_) as service:
        records = service.registry.list_models()
    if json_out:
        print_json({"models": [_summary(r) for r in records]})
        return
    table = Table(title="models")
    for col in ("name", "version", "stage", "architecture", "created"):
        table.add_column(col)
    for r in records:
        created = pd.Timestamp(r.created_at, tz="UTC").strftime("%Y-%m-%d %H:%M")
        table.add_row(r.name, str(r.version), r.stage, r.architecture, created)
    console.print(table)


@models_app.command("show")
def show(
    name: str,
    version: Annotated[int | None, typer.Option(help="Default: production.")] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """One version in full: hyperparameters, training run and test metrics."""
    with _service(config, set_) as service:
        record = service.registry.get_model(name, version)
    data = record.as_dict()
    data["metrics"] = {k: v for k, v in data["metrics"].items() if k != "test_abs_errors"}
    if json_out:
        print_json(data)
    else:
        console.print_json(json.dumps(data, default=str))


@models_app.command("promote")
def promote(
    name: str,
    version: int,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Make a version the production one (the previous production version is archived)."""
    with _service(config, set_) as service:
        record = service.promote(name, version)
    if json_out:
        print_json(_summary(record))
    else:
        console.print(f"{record.name} version {record.version} is now in production")


@models_app.command("rollback")
def rollback(
    name: str, json_out: JsonOpt = False, config: ConfigOpt = None, set_: SetOpt = None
) -> None:
    """Archive the production version and restore the one before it."""
    with _service(config, set_) as service:
        record = service.rollback(name)
    if json_out:
        print_json(_summary(record))
    else:
        console.print(f"rolled back: {record.name} version {record.version} is in production")


@models_app.command("monitor")
def monitor(
    name: str,
    start: Annotated[str, typer.Option(help="First bar after the model's data.")],
    end: Annotated[str | None, typer.Option(help="Last bar.")] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Live error against the registered test error, with drift flagged."""
    with _service(config, set_) as service:
        report = service.monitor(name, start, end)
    if json_out:
        print_json(report)
        return
    table = Table(title=f"{name} v{report['version']}: live vs test error")
    for col in ("horizon", "windows", "live RMSE", "test RMSE", "ratio", "p", "drift"):
        table.add_column(col, justify="right")
    for h in report["horizons"]:
        p = "–" if h["p_value"] is None else f"{h['p_value']:.3g}"
        table.add_row(
            str(h["horizon"]), str(h["windows"]), f"{h['live_rmse']:.5f}",
            f"{h['test_rmse']:.5f}", f"{h['ratio']:.2f}", p, "yes" if h["drift"] else "no",
        )  # fmt: skip
    console.print(table)
