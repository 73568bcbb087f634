"""Per-strategy statistics against a pandas group-by computed here on the same trades."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from neural_trader.analytics.performance import by_strategy


@dataclass
class T:
    strategy: str
    pnl: Decimal
    commission: Decimal
    exit_time: int


def test_matches_a_pandas_group_by() -> None:
    rng = np.random.default_rng(9)
    trades = [
        T(str(rng.choice(["a", "b", "c"])), Decimal(str(round(rng.normal(5, 40), 2))),
          Decimal("1.5"), int(i))
        for i in rng.permutation(300)
    ]  # fmt: skip
    frame = pd.DataFrame(
        {"s": [t.strategy for t in trades], "pnl": [float(t.pnl) for t in trades],
         "t": [t.exit_time for t in trades]}
    ).sort_values("t")  # fmt: skip
    got = by_strategy(trades, {"c": 12.5, "d": -3.0})
    assert list(got) == ["a", "b", "c", "d"]
    for name, g in frame.groupby("s"):
        p = got[str(name)]
        pnl = g["pnl"]
        assert p.trades == len(g) and p.wins == int((pnl > 0).sum())
        assert p.win_rate == pytest.approx((pnl > 0).mean())
        assert p.realized_pnl == pytest.approx(pnl.sum())
        assert p.profit_factor == pytest.approx(pnl[pnl > 0].sum() / -pnl[pnl < 0].sum())
        assert p.expectancy == pytest.approx(pnl.mean())
        assert p.average_loss == pytest.approx(pnl[pnl < 0].mean())
        losing = (pnl < 0).astype(int)
        runs = losing.groupby((losing != losing.shift()).cumsum()).sum()
        assert p.max_consecutive_losses == int(runs.max())
        assert p.commissions == pytest.approx(1.5 * len(g))
        assert p.last_exit_time == int(g["t"].max())
    assert got["c"].total_pnl == pytest.approx(got["c"].realized_pnl + 12.5)
    only_open = got["d"]
    assert only_open.trades == 0 and only_open.total_pnl == -3.0
    assert math.isnan(only_open.win_rate) and only_open.as_dict()["win_rate"] is None
