"""``neural-trader performance`` after a paper run: the per-strategy figures rebuilt from the
stored fills add up to what the run itself reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE = [sys.executable, "-m", "neural_trader.cli"]


def test_performance_adds_up_to_the_run(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NT_")}
    env["NT_DATABASE__URL"] = f"sqlite:///{tmp_path / 'nt.db'}"
    run = subprocess.run(
        [*BASE, "run", "--until-end", "--speed", "0", "--symbols", "XOM,CVX,JPM,KO,PEP", "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    snap = json.loads(run.stdout)
    out = subprocess.run(
        [*BASE, "performance", "--json"], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    perf = json.loads(out.stdout)["strategies"]["sma_cross"]
    assert perf["realized_pnl"] == pytest.approx(float(snap["realized_pnl"]), abs=0.01)
    # Open trades marked at the last close: the whole PnL is the equity's change.
    assert perf["total_pnl"] == pytest.approx(snap["equity"] - snap["starting_cash"], abs=0.01)
    assert perf["wins"] + perf["losses"] <= perf["trades"]
    missing = subprocess.run(
        [*BASE, "performance", "--account", "nobody"], env=env, capture_output=True, text=True
    )
    assert missing.returncode == 11 and "no paper account named 'nobody'" in missing.stderr
