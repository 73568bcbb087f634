"""``neural-trader risk`` from the command line: JSON contract, a user's price file, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

CLI = [sys.executable, "-m", "neural_trader.cli", "risk"]


def cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NT_")}
    return subprocess.run(CLI + args, env=env, capture_output=True, text=True, timeout=300)


def test_risk_json_on_bundled_data() -> None:
    out = cli(
        [
            "--symbols",
            "XOM,CVX,JPM",
            "--weights",
            "0.4,0.3,0.3",
            "--confidence",
            "0.99",
            "--horizon",
            "1",
            "--method",
            "all",
            "--paths",
            "20000",
            "--json",
        ]
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data["var"]) == {
        "historical",
        "normal",
        "student_t",
        "cornish_fisher",
        "monte_carlo",
        "garch",
    }
    assert data["observations"] > 8000 and data["start"].startswith("1990")


def test_risk_on_a_price_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    prices = 100 * np.cumprod(1 + rng.normal(0, 0.01, (300, 2)), axis=0)
    lines = ["date,AAA,BBB"] + [
        f"{np.datetime64('2020-01-01') + np.timedelta64(i, 'D')},{a:.4f},{b:.4f}"
        for i, (a, b) in enumerate(prices)
    ]
    f = tmp_path / "prices.csv"
    f.write_text("\n".join(lines))
    out = cli(
        [
            "--symbols",
            "AAA,BBB",
            "--weights",
            "0.5,0.5",
            "--prices",
            str(f),
            "--method",
            "historical,normal",
            "--json",
        ]
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    rets = (prices[1:] / prices[:-1] - 1) @ np.array([0.5, 0.5])
    assert data["var"]["historical"] == pytest.approx(np.quantile(-rets, 0.95), rel=1e-3)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--weights", "0.5,0.5"], "2 weights for 3 symbols"),
        (["--weights", "a,b,c"], "comma-separated numbers"),
        (["--weights", "0.4,0.3,0.3", "--confidence", "1.5"], "confidence"),
        (["--weights", "0.4,0.3,0.3", "--method", "magic"], "unknown VaR method"),
        (["--weights", "0.4,0.3,0.3", "--horizon", "0"], "horizon"),
    ],
)
def test_risk_bad_input(args: list[str], needle: str) -> None:
    out = cli(["--symbols", "XOM,CVX,JPM", *args])
    assert out.returncode == 6, out.stderr
    assert needle in out.stderr and "Traceback" not in out.stderr


def test_risk_bad_price_file(tmp_path: Path) -> None:
    f = tmp_path / "p.csv"
    f.write_text("date,AAA\n2020-01-01,10\n2020-01-02,-3\n2020-01-03,11\n")
    out = cli(["--symbols", "AAA", "--weights", "1", "--prices", str(f)])
    assert out.returncode == 4
    assert "p.csv line 3: AAA price must be a positive number" in out.stderr


def test_risk_of_the_paper_account_after_a_run(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NT_")}
    env["NT_DATABASE__URL"] = f"sqlite:///{tmp_path / 'nt.db'}"
    base = [sys.executable, "-m", "neural_trader.cli"]
    missing = subprocess.run(
        [*base, "risk", "--account", "nobody"], env=env, capture_output=True, text=True
    )
    assert missing.returncode == 6 and "no paper account named 'nobody'" in missing.stderr
    run = subprocess.run(
        [*base, "run", "--until-end", "--speed", "0", "--symbols", "XOM,CVX,JPM,KO,PEP", "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    snap = json.loads(run.stdout)
    assert snap["positions"], "the replay ends holding something, so there is risk to report"
    out = subprocess.run(
        [*base, "risk", "--account", "paper", "--method", "normal,historical", "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    values = {p["symbol"]: float(p["quantity"]) * p["last_price"] for p in snap["positions"]}
    assert rep["symbols"] == list(values)
    assert rep["weights"] == pytest.approx([v / snap["equity"] for v in values.values()], rel=1e-6)
    assert rep["value"] == pytest.approx(snap["equity"], rel=1e-6)
    assert rep["end"] <= snap["data_time"][:10] and rep["source"] == "account paper"
