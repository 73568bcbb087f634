"""Signs that an optimisation found noise: a large in-sample/out-of-sample gap, or a chosen
Sharpe ratio that the number of trials explains (a low deflated Sharpe ratio).

The thresholds are conventions, not laws: a walk-forward efficiency (mean out-of-sample over
mean in-sample objective) below one half is the usual rule of thumb for "most of the edge was
fitted", and a deflated Sharpe ratio below 0.95 means the chosen Sharpe ratio is not
significant at 5 % once the search is accounted for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from neural_trader.optimize.records import FoldResult

DSR_THRESHOLD = 0.95
EFFICIENCY_THRESHOLD = 0.5


def _finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def _mean(values: Sequence[float]) -> float | None:
    ok = _finite(values)
    return float(np.mean(ok)) if ok else None


def overfitting_flags(folds: Sequence[FoldResult]) -> dict[str, Any]:
    """The figures and the verdict, JSON-ready (None where a figure is undefined)."""
    chosen = [f for f in folds if f.best is not None]
    is_values = [f.best.value for f in chosen if f.best is not None]
    tested = [f for f in chosen if f.oos is not None]
    oos_values = [f.oos_value for f in tested]
    gaps = [f.gap for f in tested]
    dsrs = _finite([f.deflated_sharpe for f in chosen])
    mean_is = _mean(is_values)
    mean_oos = _mean(oos_values)
    efficiency = None
    if mean_is is not None and mean_oos is not None and mean_is > 0:
        efficiency = mean_oos / mean_is
    low_dsr = sum(1 for d in dsrs if d < DSR_THRESHOLD)
    reasons = []
    if efficiency is not None and efficiency < EFFICIENCY_THRESHOLD:
        reasons.append(
            f"out-of-sample objective is {efficiency:.0%} of in-sample "
            f"(below {EFFICIENCY_THRESHOLD:.0%})"
        )
    worse = sum(1 for f in tested if f.best is not None and f.best.value > 0 >= f.oos_value)
    if worse:
        reasons.append(f"{worse} of {len(tested)} folds turned a positive objective non-positive")
    if dsrs and low_dsr * 2 > len(dsrs):
        reasons.append(
            f"deflated Sharpe ratio below {DSR_THRESHOLD} in {low_dsr} of {len(dsrs)} folds"
        )
    if not chosen:
        reasons.append("no fold had an eligible trial")
    return {
        "mean_in_sample_objective": mean_is,
        "mean_out_of_sample_objective": mean_oos,
        "mean_gap": _mean(gaps),
        "walk_forward_efficiency": efficiency,
        "deflated_sharpe_min": min(dsrs) if dsrs else None,
        "deflated_sharpe_median": float(np.median(dsrs)) if dsrs else None,
        "folds_with_low_deflated_sharpe": low_dsr,
        "thresholds": {"deflated_sharpe": DSR_THRESHOLD, "efficiency": EFFICIENCY_THRESHOLD},
        "overfit_suspected": bool(reasons),
        "reasons": reasons,
    }
