"""``neural-trader optimize`` as a user runs it: JSON contract, results folder, a fold's
out-of-sample figure reproduced by ``neural-trader backtest``, and one-line errors."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "neural_trader.cli"]
GRID = ["--strategy", "sma_cross", "--param", "fast=10:40:10", "--param", "slow=20:100:40"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("NT_")}
    e["NT_DATA__RESULTS_DIR"] = str(tmp_path / "results")
    return e


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + args, env=env, capture_output=True, text=True, timeout=300)


def test_walk_forward_json_folder_and_backtest_agree(env: dict[str, str], tmp_path: Path) -> None:
    out = cli(["optimize", *GRID, "--symbol", "SPX", "--walk-forward", "3", "--json"], env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["evaluator"] == "numba" and data["method"] == "grid"
    assert len(data["folds"]) == 3
    # fast 10..40 x slow 20,60,100: (20,20), (30,20), (40,20) are refused, on every fold
    assert data["trial_status"]["invalid"] == 3 * 3
    assert data["trials"] == 3 * 12 == sum(data["trial_status"].values())
    folder = Path(data["results_dir"])
    assert folder.parent == tmp_path / "results"
    for name in ("trials.csv", "folds.json", "summary.json", "heatmap.html"):
        assert (folder / name).stat().st_size > 0
    with (folder / "trials.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == data["trials"]
    fold = data["folds"][1]
    start, end = (d[:10] for d in fold["out_of_sample_dates"])
    params = [f"--param={k}={v}" for k, v in fold["best_params"].items()]
    window = ["--start", start, "--end", end]
    bt = cli(
        ["backtest", "--strategy", "sma_cross", *window, *params, "--no-report", "--json"], env
    )
    assert bt.returncode == 0, bt.stderr
    check = json.loads(bt.stdout)
    assert check["bars"] == fold["out_of_sample"][1] - fold["out_of_sample"][0]
    assert check["sharpe"] == pytest.approx(fold["out_of_sample_objective"], rel=1e-9)
    assert check["final_equity"] == fold["out_of_sample_metrics"]["final_equity"]


def test_compiled_and_kernel_evaluators_agree_through_the_cli(env: dict[str, str]) -> None:
    args = ["optimize", *GRID, "--method", "random", "--trials", "6", "--seed", "3"]
    args += ["--start", "2010-01-01", "--no-save", "--json"]
    fast = cli(args, env)
    kernel = cli([*args, "--kernel-only"], env)
    assert fast.returncode == 0 and kernel.returncode == 0, fast.stderr + kernel.stderr
    a, b = json.loads(fast.stdout), json.loads(kernel.stdout)
    assert (a["evaluator"], b["evaluator"]) == ("numba", "kernel")
    assert a["trial_status"] == b["trial_status"]
    assert [t["params"] for t in a["top_trials"]] == [t["params"] for t in b["top_trials"]]
    for x, y in zip(a["top_trials"], b["top_trials"], strict=True):
        assert x["final_equity"] == y["final_equity"]
        assert x["objective"] == pytest.approx(y["objective"], rel=1e-9)


def test_table_output(env: dict[str, str]) -> None:
    out = cli(["optimize", *GRID, "--method", "bayes", "--trials", "8", "--no-save"], env)
    assert out.returncode == 0, out.stderr
    for label in ("folds", "top trials", "overfitting:", "evaluator numba"):
        assert label in out.stdout
    assert not list(Path(env["NT_DATA__RESULTS_DIR"]).parent.glob("results/*"))


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--param", "fat=1:5:1"], 5, "parameter 'fat': unknown parameter"),
        (["--param", "fast=0:5:1"], 5, "parameter 'fast'"),
        (["--param", "fast=1:5"], 3, "a range is start:stop:step"),
        (["--param", "fast=5:10:5", "--trials", "4"], 3, "--trials applies to"),
        (["--param", "fast=5:10:5", "--objective", "alpha"], 3, "unknown objective"),
        (["--param", "fast=5:10:5", "--start", "2018-12-01", "--walk-forward", "9"], 3, "too few"),
    ],
)
def test_errors_are_one_line_with_the_kind_exit_code(
    env: dict[str, str], args: list[str], code: int, needle: str
) -> None:
    out = cli(["optimize", "--strategy", "sma_cross", *args], env)
    assert out.returncode == code, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error [") and needle in lines[0]
    assert "Traceback" not in out.stderr and out.stdout == ""
