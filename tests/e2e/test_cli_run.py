"""The main job end to end: ``neural-trader run`` in a subprocess, stopped and resumed.

An interrupted-and-resumed paper session must end with exactly the orders and fills of an
uninterrupted one: nothing lost, nothing sent twice.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "neural_trader.cli"]


def run_cli(
    args: list[str], env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + args, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("NT_")}
    e["NT_DATABASE__URL"] = f"sqlite:///{tmp_path / 'nt.db'}"
    e["NT_DATA__RESULTS_DIR"] = str(tmp_path / "results")
    e["NT_RUN__SYMBOLS"] = '["SPX"]'
    return e


def book(db: Path, account: str) -> tuple[list[tuple], list[tuple]]:
    with sqlite3.connect(db) as con:
        orders = con.execute(
            "select client_order_id, side, quantity, status, filled_quantity from orders "
            "where account = ? order by client_order_id",
            (account,),
        ).fetchall()
        fills = con.execute(
            "select fill_id, quantity, price, commission from fills where account = ? "
            "order by fill_id",
            (account,),
        ).fetchall()
    return orders, fills


def wait_for_checkpoint(db: Path, account: str, proc: subprocess.Popen[str]) -> None:
    """Until the session has stored its first checkpoint (it does after a second of
    replay): a fixed sleep sent SIGTERM before the handler was installed on a slow machine."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            with sqlite3.connect(db) as con:
                try:
                    found = con.execute(
                        "select 1 from checkpoints where account = ?", (account,)
                    ).fetchone()
                except sqlite3.OperationalError:  # the tables are not created yet
                    found = None
            if found:
                return
        time.sleep(0.1)
    raise AssertionError(f"no checkpoint of {account} within 120 s (exit {proc.poll()})")


def test_run_until_end_prints_final_portfolio(env: dict[str, str], tmp_path: Path) -> None:
    out = run_cli(["run", "--until-end", "--speed", "0", "--json"], env)
    assert out.returncode == 0, out.stderr
    snap = json.loads(out.stdout)
    assert snap["finished"] is True
    assert snap["fills"] > 10
    orders, fills = book(tmp_path / "nt.db", "paper")
    assert len(fills) == snap["fills"]
    # Running again has nothing left to replay and must not send anything.
    again = run_cli(["run", "--until-end", "--speed", "0", "--json"], env)
    assert again.returncode == 0, again.stderr
    assert book(tmp_path / "nt.db", "paper") == (orders, fills)
    assert json.loads(again.stdout)["cash"] == snap["cash"]


def test_sigterm_then_resume_equals_uninterrupted_run(env: dict[str, str], tmp_path: Path) -> None:
    db = tmp_path / "nt.db"
    whole = run_cli(["run", "--until-end", "--speed", "0", "--account", "whole", "--json"], env)
    assert whole.returncode == 0, whole.stderr

    proc = subprocess.Popen(
        [*CLI, "run", "--speed", "400", "--account", "split", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_checkpoint(db, "split", proc)  # the loop runs, so SIGTERM is handled
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    part = json.loads(stdout)
    assert not part["finished"]
    assert part["bars_replayed"] > 0

    resumed = run_cli(["run", "--until-end", "--speed", "0", "--account", "split", "--json"], env)
    assert resumed.returncode == 0, resumed.stderr
    w_orders, w_fills = book(db, "whole")
    s_orders, s_fills = book(db, "split")
    strip = lambda rows: [r[1:] for r in rows]  # noqa: E731 - ids carry no account
    assert [r[0] for r in s_orders] == [r[0] for r in w_orders]
    assert strip(s_orders) == strip(w_orders)
    assert s_fills == w_fills
    assert json.loads(resumed.stdout)["cash"] == json.loads(whole.stdout)["cash"]


def test_bad_config_value_is_one_line_with_exit_code(env: dict[str, str]) -> None:
    env = dict(env, NT_RISK__MAX_PORTFOLIO_HEAT="5")
    out = run_cli(["run", "--until-end", "--speed", "0"], env)
    assert out.returncode == 3
    assert "Traceback" not in out.stderr
    line = out.stderr.strip()
    assert "\n" not in line
    assert "risk.max_portfolio_heat" in line and "NT_RISK__MAX_PORTFOLIO_HEAT" in line


@pytest.mark.parametrize(
    ("args", "code", "needles"),
    [
        (["--symbols", "NOPE"], 4, ["NOPE", "available: AAPL"]),
        (["--set", "risk.max_position_size=abc"], 3, ["risk.max_position_size", "from cli"]),
        (["--set", "database.url=postgresql://u:secret@127.0.0.1:1/x"], 8, ["u:***@"]),
        (["--set", "strategies.sma_cross.fast=0"], 5, ["fast"]),
    ],
)
def test_run_bad_input_is_one_clear_line(
    env: dict[str, str], args: list[str], code: int, needles: list[str]
) -> None:
    out = run_cli(["run", "--until-end", "--speed", "0", *args], env)
    assert out.returncode == code, out.stderr
    assert "Traceback" not in out.stderr and "secret" not in out.stderr
    for needle in needles:
        assert needle in out.stderr
