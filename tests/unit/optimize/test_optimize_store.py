"""The results folder: its files agree with the optimisation, the heat map is self-contained and
its cells are the documented aggregate, and an existing folder is never overwritten."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from neural_trader.core.market_data import BarSeries
from neural_trader.errors import ConfigError, StorageError
from neural_trader.optimize import OptimizeSettings, ParameterSpace, optimize
from neural_trader.optimize.fast_sma import SmaCrossFast
from neural_trader.optimize.folds import Fold, Window
from neural_trader.optimize.heatmap import cell_values, heatmap_axes
from neural_trader.optimize.objectives import OK, TrialMetrics
from neural_trader.optimize.records import FoldResult, OptimizationResult, Trial
from neural_trader.optimize.store import save_optimization
from neural_trader.strategies import SmaCross


def test_folder_contents_agree_with_the_result(spx: BarSeries, tmp_path: Path) -> None:
    space = ParameterSpace.from_specs(SmaCross, ["fast=5:25:10", "slow=10:40:15"])
    res = optimize(space, SmaCrossFast(spx), OptimizeSettings(folds=2))
    out = save_optimization(res, tmp_path, "opt-test", heatmap_axes(res.params, None))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["opt-test"]
    with (out / "trials.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(res.trials)
    for row, t in zip(rows, res.trials, strict=True):
        assert (int(row["fold"]), int(row["fast"]), int(row["slow"])) == (
            t.fold,
            t.params["fast"],
            t.params["slow"],
        )
        assert row["status"] == t.status
        if t.status == OK:
            assert float(row["objective"]) == t.value
    folds = json.loads((out / "folds.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    assert folds == summary["folds"] and len(folds) == 2
    for f, fr in zip(folds, res.folds, strict=True):
        assert fr.best is not None and f["best_params"] == fr.best.params
        assert fr.fold.out_of_sample is not None
        first_bar = np.datetime64(int(spx.ts[fr.fold.out_of_sample.lo]), "ns")
        assert f["out_of_sample_dates"][0][:10] == np.datetime_as_string(first_bar, unit="D")
    assert summary["trials"] == len(res.trials)
    page = (out / "heatmap.html").read_text()
    assert "<script" in page and 'src="http' not in page  # plotly.js inlined: opens offline
    oos = (out / "oos_equity.csv").read_text().splitlines()
    assert res.stitched_equity is not None and len(oos) == len(res.stitched_equity) + 1
    with pytest.raises(StorageError, match="already exists"):
        save_optimization(res, tmp_path, "opt-test", heatmap_axes(res.params, None))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["opt-test"]


def _metrics(value: float) -> TrialMetrics:
    nan = math.nan
    return TrialMetrics(value, nan, nan, nan, nan, -0.1, 1, nan, 1.0, 10, 252.0)


def test_heatmap_cells_are_best_over_other_params_then_mean_over_folds() -> None:
    """Two folds, three parameters: cell (1, 10) is max over c in fold 0 (0.5 vs 0.2 → 0.5)
    and 0.9 in fold 1, so (0.5 + 0.9) / 2 = 0.7; (2, 10) only in fold 0 (0.3); an
    ineligible trial never counts."""
    rows = [
        (0, {"a": 1, "b": 10, "c": 0}, 0.5, OK),
        (0, {"a": 1, "b": 10, "c": 1}, 0.2, OK),
        (0, {"a": 2, "b": 10, "c": 0}, 0.3, OK),
        (1, {"a": 1, "b": 10, "c": 0}, 0.9, OK),
        (1, {"a": 2, "b": 10, "c": 0}, 5.0, "capped"),
    ]
    trials = [Trial(f, i, p, s, v, _metrics(v)) for i, (f, p, v, s) in enumerate(rows)]
    folds = [
        FoldResult(Fold(i, Window(0, 10), None), None, None, math.nan, 0, 0, 0, math.nan, 0, 0)
        for i in (0, 1)
    ]
    ts = np.arange(10, dtype=np.int64)
    names = ["a", "b", "c"]
    result = OptimizationResult(
        "x", "S", "grid", "sharpe", "kernel", "", names, folds, trials, ts, None, None
    )
    assert cell_values(result, "a", "b") == {(1, 10): pytest.approx(0.7), (2, 10): 0.3}
    assert heatmap_axes(result.params, ["b", "c"]) == ("b", "c")
    assert heatmap_axes(result.params, None) == ("a", "b")
    assert heatmap_axes(["a"], None) == ("a", None)
    for bad in (["a", "a"], ["a", "z"], ["a"]):
        with pytest.raises(ConfigError, match="--heatmap needs two different"):
            heatmap_axes(result.params, bad)
