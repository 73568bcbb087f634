"""``neural-trader report`` redraws a stored run with its benchmark, and old folders still work."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "analytics"))
from test_report import parse, titled, values

from neural_trader.data import load_bars
from neural_trader.strategies import SmaCross
from neural_trader.trading.backtest import run_backtest
from neural_trader.trading.results import buy_and_hold, save_run

CLI = [sys.executable, "-m", "neural_trader.cli"]


def test_report_redraws_the_stored_benchmark(tmp_path: Path) -> None:
    results = tmp_path / "results"
    series = load_bars("SPX", start="2012-01-01", end="2016-12-31")
    result = run_backtest(SmaCross(fast=10, slow=30), [series])
    save_run(result, results, "with", benchmark=buy_and_hold([series], result.timestamps))
    old = save_run(result, results, "old")  # a folder from before the benchmark column
    env = {k: v for k, v in os.environ.items() if not k.startswith("NT_")}
    env["NT_DATA__RESULTS_DIR"] = str(results)

    def report(run_id: str) -> tuple[dict[str, object], str]:
        target = tmp_path / f"{run_id}.html"
        args = ["report", run_id, "--out", str(target), "--json"]
        out = subprocess.run(CLI + args, env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout), target.read_text(encoding="utf-8")

    info, text = report("with")
    assert info["metrics"]["sharpe"] == pytest.approx(result.summary.sharpe, rel=1e-6)
    strategy, bench = titled(text)["Equity"][0]
    np.testing.assert_allclose(
        values(bench["y"]), series.close / series.close[0] * values(strategy["y"])[0], rtol=1e-9
    )
    assert dict(parse(text).tables[1])["Beta"] != "n/a"

    with (old / "equity.csv").open(newline="") as fh:
        assert "benchmark" not in next(csv.reader(fh))
    _, text = report("old")
    assert [t["name"] for t in titled(text)["Equity"][0]] == ["strategy"]
    assert "Beta" not in dict(parse(text).tables[1])
