"""The full report on bundled data: beta against SPX on the shared dates, stress, file mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from neural_trader.data import load_bars
from neural_trader.errors import RiskError
from neural_trader.risk.analyze import analyze


def closes(symbol: str) -> pd.Series:
    bars = load_bars(symbol)
    return pd.Series(bars.close, index=pd.to_datetime(bars.ts, utc=True).normalize())


def test_beta_against_spx_on_the_dates_both_have() -> None:
    rep = analyze(["XOM", "JPM"], [0.5, 0.5], methods=("normal",), stress=False)
    prices = pd.DataFrame({"XOM": closes("XOM"), "JPM": closes("JPM")}).dropna()
    port = (prices.pct_change().iloc[1:] @ np.array([0.5, 0.5])).rename("p")
    spx = closes("SPX").pct_change().rename("b")
    both = pd.concat([port, spx], axis=1, join="inner").dropna()
    assert rep.beta == pytest.approx(stats.linregress(both["b"], both["p"]).slope, rel=1e-9)
    assert rep.benchmark == "SPX"
    assert any("SPX shares" in n for n in rep.notes)


def test_stress_replays_and_heat_are_in_the_report() -> None:
    rep = analyze(["XOM", "CVX"], [0.6, 0.4], methods=("historical",), stop_distances=[0.05, 0.08])
    assert rep.stress is not None
    assert {r.name for r in rep.stress.results} == {"dotcom_2000_2002", "gfc_2008", "covid_2020"}
    assert rep.heat == pytest.approx(0.6 * 0.05 + 0.4 * 0.08)
    d = rep.as_dict()
    assert d["stress"]["results"][0]["start"][:4].isdigit()


def test_no_benchmark_and_a_price_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    px = 100 * np.cumprod(1 + rng.normal(0, 0.01, (200, 2)), axis=0)
    dates = pd.date_range("2021-01-01", periods=200, freq="B")
    f = tmp_path / "p.csv"
    pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "A": px[:, 0], "B": px[:, 1]}).to_csv(
        f, index=False
    )
    rep = analyze(["A", "B"], [0.5, 0.5], prices=f, methods=("normal",))
    assert rep.beta is None and rep.stress is None and "file" in rep.notes[0]
    rep2 = analyze(["XOM"], [1.0], methods=("normal",), benchmark=None, stress=False)
    assert rep2.beta is None and rep2.benchmark is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weights": [1.0]}, "1 weights for 2 symbols"),
        ({"stop_distances": [0.1]}, "1 stop distances for 2 symbols"),
        ({"paths": 1}, "at least 2 paths"),
        ({"benchmark": "NOPE"}, "benchmark 'NOPE'"),
    ],
)
def test_bad_inputs(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"weights": [0.5, 0.5], "methods": ("normal",), "stress": False}
    args.update(kwargs)
    with pytest.raises(RiskError, match=message):
        analyze(["XOM", "CVX"], **args)  # type: ignore[arg-type]
