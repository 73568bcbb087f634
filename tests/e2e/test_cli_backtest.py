"""``neural-trader backtest`` as a user runs it: JSON contract, results folder, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "neural_trader.cli"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("NT_")}
    e["NT_DATA__RESULTS_DIR"] = str(tmp_path / "results")
    return e


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + args, env=env, capture_output=True, text=True, timeout=300)


def test_backtest_json_contract_and_results_folder(env: dict[str, str], tmp_path: Path) -> None:
    out = cli(
        [
            "backtest",
            "--strategy",
            "sma_cross",
            "--symbol",
            "SPX",
            "--start",
            "2000-01-01",
            "--end",
            "2018-12-31",
            "--param",
            "fast=10",
            "--param",
            "slow=30",
            "--commission",
            "0",
            "--json",
        ],
        env,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    for key in ("final_equity", "total_return", "sharpe", "max_drawdown", "num_trades", "trades"):
        assert key in data
    assert data["num_trades"] == len(data["trades"]) > 10
    for trade in data["trades"]:
        assert set(trade) >= {
            "entry_time",
            "entry_price",
            "exit_time",
            "exit_price",
            "quantity",
            "pnl",
        }
        assert trade["entry_time"] < trade["exit_time"]
    assert data["start"].startswith("2000-01-03")
    folder = Path(data["results_dir"])
    assert folder.parent == tmp_path / "results"
    for name in ("trades.csv", "equity.csv", "summary.json", "report.html"):
        assert (folder / name).stat().st_size > 0
    equity_rows = (folder / "equity.csv").read_text().splitlines()
    assert len(equity_rows) == data["bars"] + 1
    assert float(equity_rows[-1].split(",")[1]) == pytest.approx(data["final_equity"], abs=1e-6)


def test_backtest_table_output(env: dict[str, str]) -> None:
    out = cli(["backtest", "--strategy", "sma_cross", "--symbol", "SPX", "--no-report"], env)
    assert out.returncode == 0, out.stderr
    for label in (
        "total return",
        "CAGR",
        "Sharpe",
        "Sortino",
        "max drawdown",
        "trades",
        "win rate",
        "exposure",
    ):
        assert label in out.stdout


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--strategy", "nope"], 5, "unknown strategy"),
        (["--strategy", "sma_cross", "--param", "fast=50", "--param", "slow=20"], 5, "slow"),
        (["--strategy", "sma_cross", "--param", "fast=-3"], 5, "fast"),
        (["--strategy", "sma_cross", "--param", "speed=3"], 5, "speed"),
        (["--strategy", "sma_cross", "--symbol", "NOPE"], 4, "NOPE"),
        (["--strategy", "sma_cross", "--param", "fast"], 3, "key=value"),
        (["--strategy", "sma_cross", "--commission", "abc"], 3, "--commission"),
    ],
)
def test_backtest_bad_input_is_a_clear_error(
    env: dict[str, str], args: list[str], code: int, needle: str
) -> None:
    out = cli(["backtest", *args, "--no-report"], env)
    assert out.returncode == code, (out.stdout, out.stderr)
    assert needle in out.stderr
    assert "Traceback" not in out.stderr


def test_data_list(env: dict[str, str]) -> None:
    out = cli(["data", "list", "--json"], env)
    assert out.returncode == 0, out.stderr
    symbols = {d["symbol"] for d in json.loads(out.stdout)}
    assert {"SPX", "IXIC", "XOM", "EURUSD"} <= symbols


def test_report_rebuilds_a_stored_run(env: dict[str, str], tmp_path: Path) -> None:
    out = cli(["backtest", "--strategy", "sma_cross", "--symbol", "SPX", "--json"], env)
    data = json.loads(out.stdout)
    rebuilt = cli(["report", data["run_id"], "--out", str(tmp_path / "again.html"), "--json"], env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    info = json.loads(rebuilt.stdout)
    assert (tmp_path / "again.html").stat().st_size > 10_000
    assert info["metrics"]["num_trades"] == data["num_trades"]
    assert info["metrics"]["final_equity"] == pytest.approx(data["final_equity"], abs=1e-5)
    assert info["metrics"]["sharpe"] == pytest.approx(data["sharpe"], rel=1e-6)
    missing = cli(["report", "nope"], env)
    assert missing.returncode == 4 and "no run 'nope'" in missing.stderr
