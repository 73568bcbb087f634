"""The run folder keeps the buy-and-hold benchmark, and its report draws it."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "analytics"))
from test_report import parse, titled, values

from neural_trader.core.market_data import BarSeries
from neural_trader.data import load_bars
from neural_trader.errors import DataError
from neural_trader.strategies import SmaCross
from neural_trader.trading.backtest import BacktestResult, run_backtest
from neural_trader.trading.results import buy_and_hold, save_run


@pytest.fixture(scope="module")
def spx() -> tuple[BarSeries, BacktestResult]:
    series = load_bars("SPX", start="2015-01-01", end="2017-12-31")
    return series, run_backtest(SmaCross(fast=10, slow=30), [series])


def test_buy_and_hold_is_the_close_at_each_timestamp(spx: tuple[BarSeries, BacktestResult]) -> None:
    series, result = spx
    np.testing.assert_array_equal(buy_and_hold([series], result.timestamps), series.close)
    # Later timestamps take the last close at or before them; a basket has no single benchmark.
    between = series.ts[[0, 5]] + 1
    np.testing.assert_array_equal(buy_and_hold([series], between), series.close[[0, 5]])
    assert buy_and_hold([series], series.ts[:1] - 1) is None
    assert buy_and_hold([series, series], result.timestamps) is None


def test_run_folder_stores_and_draws_the_benchmark(
    tmp_path: Path, spx: tuple[BarSeries, BacktestResult]
) -> None:
    series, result = spx
    out = save_run(result, tmp_path, "run", benchmark=buy_and_hold([series], result.timestamps))
    with (out / "equity.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    np.testing.assert_array_equal([float(r["benchmark"]) for r in rows], series.close)

    text = (out / "report.html").read_text(encoding="utf-8")
    strategy, bench = titled(text)["Equity"][0]
    assert (strategy["name"], bench["name"]) == ("strategy", "benchmark (rebased)")
    np.testing.assert_allclose(
        values(bench["y"]), series.close / series.close[0] * result.equity[0], rtol=1e-12
    )
    assert "Beta" in dict(parse(text).tables[1])

    with pytest.raises(DataError, match="benchmark has 3 points"):
        save_run(result, tmp_path, "bad", benchmark=np.ones(3))
    assert not (tmp_path / "bad").exists()


def test_run_folder_without_benchmark_keeps_the_old_columns(
    tmp_path: Path, spx: tuple[BarSeries, BacktestResult]
) -> None:
    _, result = spx
    out = save_run(result, tmp_path, "plain")
    header = (out / "equity.csv").read_text().splitlines()[0]
    assert header == "time,equity,in_market"
    text = (out / "report.html").read_text(encoding="utf-8")
    assert [t["name"] for t in titled(text)["Equity"][0]] == ["strategy"]
