"""``neural-trader strategies list`` in a subprocess: every registered strategy, its schema."""

from __future__ import annotations

import json
import subprocess
import sys

from neural_trader.strategies import REGISTRY


def test_strategies_list_json_has_every_strategy_and_its_parameters() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "neural_trader.cli", "strategies", "list", "--json"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    listed = {s["name"]: s for s in json.loads(out.stdout)["strategies"]}
    assert set(listed) == set(REGISTRY)
    fast = next(p for p in listed["sma_cross"]["parameters"] if p["name"] == "fast")
    assert (fast["type"], fast["default"], fast["minimum"]) == ("integer", 10, 1)
    assert listed["sma_cross"]["summary"].startswith("The reference strategy")
    table = subprocess.run(
        [sys.executable, "-m", "neural_trader.cli", "strategies", "list"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "sma_cross" in table.stdout and "fast SMA period" in table.stdout
