"""The risk report's own figures against direct computation on the same returns."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neural_trader.errors import RiskError
from neural_trader.risk.report import risk_report


def test_volatility_drawdown_and_var_table() -> None:
    r = np.random.default_rng(8).normal(0.0003, 0.012, (1500, 2))
    rep = risk_report(
        ["A", "B"], [0.7, 0.3], r, ("2000-01-01", "2005-12-31"), 0.975, 1, ("historical", "normal")
    )
    p = r @ np.array([0.7, 0.3])
    assert rep.volatility_annual == pytest.approx(np.std(p, ddof=1) * math.sqrt(252))
    wealth, peak, worst = 1.0, 1.0, 0.0
    for x in p:
        wealth *= 1 + x
        peak = max(peak, wealth)
        worst = min(worst, wealth / peak - 1)
    assert rep.max_drawdown == pytest.approx(worst)
    assert rep.var["historical"] == pytest.approx(np.quantile(-p, 0.975))
    d = rep.as_dict()
    assert set(d["var"]) == {"historical", "normal"} and "results" not in d


def test_a_method_that_fails_is_left_out_with_a_note_when_several_are_asked() -> None:
    # Returns of a micro-unit scale: arch's GARCH optimiser stops with flag 4 on them.
    r = np.random.default_rng(0).normal(0, 1e-6, (300, 1))
    rep = risk_report(["A"], [1.0], r, ("2000-01-01", "2001-03-01"), 0.99, 1,
                      ("historical", "normal", "garch"))  # fmt: skip
    assert set(rep.var) == {"historical", "normal"}
    assert rep.var["historical"] == pytest.approx(np.quantile(-r[:, 0], 0.99))
    assert any(n.startswith("garch VaR left out: GARCH fit did not converge") for n in rep.notes)
    with pytest.raises(RiskError, match="GARCH fit did not converge"):
        risk_report(["A"], [1.0], r, ("2000-01-01", "2001-03-01"), 0.99, 1, ("garch",))
