"""``neural-trader train | models | predict | synth`` in subprocesses, on a scratch database."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

BASE = [sys.executable, "-m", "neural_trader.cli"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("NT_")}
    e["NT_DATABASE__URL"] = f"sqlite:///{tmp_path / 'nt.db'}"
    e["NT_NEURAL__MODELS_DIR"] = str(tmp_path / "models")
    return e


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(BASE + args, env=env, capture_output=True, text=True, timeout=600)


def test_train_promote_predict_and_errors(env: dict[str, str]) -> None:
    tiny = ["--epochs", "1", "--window", "10", "--start", "2009", "--end", "2012"]
    for _ in range(2):
        out = cli(["train", "lstm", *tiny, "--hparam", "hidden_size=8", "--json"], env)
        assert out.returncode == 0, out.stderr
    trained = json.loads(out.stdout)
    assert (trained["name"], trained["version"], trained["stage"]) == ("lstm-SPX", 2, "staging")
    assert cli(["models", "promote", "lstm-SPX", "1"], env).returncode == 0
    assert cli(["models", "promote", "lstm-SPX", "2"], env).returncode == 0
    back = cli(["models", "rollback", "lstm-SPX", "--json"], env)
    assert back.returncode == 0 and json.loads(back.stdout)["version"] == 1
    listed = json.loads(cli(["models", "list", "--json"], env).stdout)["models"]
    assert [(m["version"], m["stage"]) for m in listed] == [(1, "production"), (2, "archived")]
    pred = cli(
        ["predict", "--model", "lstm", "--symbol", "SPX", "--as-of", "2015-06-30", "--json"], env
    )
    assert pred.returncode == 0, pred.stderr
    forecast = json.loads(pred.stdout)
    assert forecast["version"] == 1 and forecast["horizons"] == [1, 5]
    assert forecast["as_of"] <= pd.Timestamp("2015-07-01", tz="UTC").value
    assert forecast["lower"][0] < forecast["median"][0] < forecast["upper"][0]
    bad = cli(["predict", "--model", "gru", "--symbol", "SPX"], env)
    assert bad.returncode == 9 and "no model named 'gru-SPX'" in bad.stderr
    wrong = cli(["train", "lstm", "--epochs", "0"], env)
    assert wrong.returncode == 9 and "epochs must be >= 1" in wrong.stderr


def test_synth_writes_gan_paths(env: dict[str, str], tmp_path: Path) -> None:
    hp = ["--hparam", "window=16", "--hparam", "stride=16", "--hparam", "hidden=8"]
    out = cli(["train", "gan", "--epochs", "1", "--start", "2005", "--end", "2012", *hp], env)
    assert out.returncode == 0, out.stderr
    target = tmp_path / "paths.parquet"
    done = cli(["synth", "--paths", "7", "--length", "30", "--out", str(target), "--json"], env)
    assert done.returncode == 0, done.stderr
    frame = pd.read_parquet(target)
    assert len(frame) == 7 * 30 and set(frame["path"]) == set(range(7))
    first = frame[frame["path"] == 0]
    assert first["price"].iloc[-1] == pytest.approx(math.exp(first["log_return"].sum()))
    risk = cli(
        ["risk", "--symbols", "XOM,CVX", "--weights", "0.5,0.5", "--end", "2015-12-31",
         "--no-stress", "--gan", "gan-SPX", "--gan-paths", "200", "--gan-horizon", "5", "--json"],
        env,
    )  # fmt: skip
    assert risk.returncode == 0, risk.stderr
    synthetic = json.loads(risk.stdout)["synthetic"]
    assert synthetic["paths"] == 200 and synthetic["horizon"] == 5 and synthetic["var"] > 0
    assert synthetic["beta"] == pytest.approx(json.loads(risk.stdout)["beta"], rel=1e-9)
