"""Dynamic strategy selection: which running strategy gets how much of the account, and why.

Two pieces, both pure and incremental so they can run inside a replay:

* :class:`RegimeDetector` labels the market from one reference series' closes: **volatility**
  is ``high`` when the annualised standard deviation of the last ``vol_window`` log returns is
  above ``vol_ratio`` times the median of that figure over the last ``lookback`` bars, else
  ``normal``; **trend** is ``up``/``down`` when the close is more than ``trend_band`` above/below
  its ``trend_window``-bar mean, else ``range``.
* :class:`RiskAdjustedSelector` scores each strategy by the t-statistic of its last ``window``
  closed trades' PnL, ``mean / std * sqrt(n)`` (0 when negative, or with fewer than
  ``min_trades`` trades, when it gets the prior instead), multiplies by a per-regime preference
  (e.g. trend followers up in trends, mean reversion up in ranges) and hands out ``budget`` of
  the account in proportion; no positive score at all gives equal shares.

A learned policy (the memory issue) slots in as another object with the same ``weights``
method.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from neural_trader.errors import StrategyError


@dataclass(frozen=True)
class Regime:
    volatility: str  # "high" | "normal" | "unknown"
    trend: str  # "up" | "down" | "range" | "unknown"

    @property
    def labels(self) -> tuple[str, str]:
        return (f"vol:{self.volatility}", f"trend:{self.trend}")


UNKNOWN = Regime("unknown", "unknown")


class RegimeDetector:
    def __init__(
        self,
        vol_window: int = 20,
        lookback: int = 252,
        vol_ratio: float = 1.25,
        trend_window: int = 100,
        trend_band: float = 0.02,
    ) -> None:
        if vol_window < 2 or lookback < 2 or trend_window < 2:
            raise StrategyError("regime windows must be at least 2 bars", parameter="vol_window")
        if vol_ratio <= 0 or trend_band < 0:
            raise StrategyError("vol_ratio must be > 0 and trend_band >= 0", parameter="vol_ratio")
        self.vol_window, self.lookback, self.vol_ratio = vol_window, lookback, vol_ratio
        self.trend_window, self.trend_band = trend_window, trend_band
        self._last: float | None = None
        self._returns: deque[float] = deque(maxlen=vol_window)
        self._vols: deque[float] = deque(maxlen=lookback)
        self._closes: deque[float] = deque(maxlen=trend_window)
        self.regime = UNKNOWN

    def update(self, close: float) -> Regime:
        if self._last is not None and close > 0 and self._last > 0:
            self._returns.append(math.log(close / self._last))
        self._last = close
        self._closes.append(close)
        volatility = "unknown"
        if len(self._returns) == self.vol_window:
            vol = float(np.std(self._returns, ddof=1)) * math.sqrt(252.0)
            self._vols.append(vol)
            if len(self._vols) == self.lookback:
                typical = float(np.median(self._vols))
                volatility = "high" if vol > self.vol_ratio * typical else "normal"
        trend = "unknown"
        if len(self._closes) == self.trend_window:
            gap = close / (sum(self._closes) / self.trend_window) - 1.0
            trend = "up" if gap > self.trend_band else "down" if gap < -self.trend_band else "range"
        self.regime = Regime(volatility, trend)
        return self.regime


class Selector(Protocol):
    def weights(
        self, recent_pnl: Mapping[str, Sequence[float]], regime: Regime, kinds: Mapping[str, str]
    ) -> tuple[dict[str, float], str]: ...


def t_statistic(pnl: Sequence[float]) -> float:
    """``mean / std * sqrt(n)`` of the PnLs (sample std); 0 for fewer than 2 or no spread."""
    x = np.asarray(pnl, dtype=np.float64)
    if x.size < 2:
        return 0.0
    sd = float(x.std(ddof=1))
    return float(x.mean() / sd * math.sqrt(x.size)) if sd > 0 else 0.0


@dataclass
class RiskAdjustedSelector:
    window: int = 20
    min_trades: int = 5
    budget: float = 1.0
    # kind (registered strategy name) -> regime label -> multiplier of its score
    preferences: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            "sma_cross": {"trend:up": 1.5, "trend:down": 1.5, "trend:range": 0.5},
            "momentum": {"trend:up": 1.5, "trend:down": 1.5, "trend:range": 0.5},
            "mean_reversion": {"trend:range": 1.5, "vol:high": 0.5},
            "pairs": {"vol:high": 0.75},
        }
    )

    def __post_init__(self) -> None:
        if self.window < 2 or self.min_trades < 2:
            raise StrategyError("window and min_trades must be at least 2", parameter="window")
        if not 0 < self.budget <= 1:
            raise StrategyError(f"budget must be in (0, 1], got {self.budget}", parameter="budget")

    def score(self, pnl: Sequence[float], regime: Regime, kind: str) -> float | None:
        """The strategy's score, or None while it has too few trades to judge."""
        recent = list(pnl)[-self.window :]
        if len(recent) < self.min_trades:
            return None
        base = max(0.0, t_statistic(recent))
        prefs = self.preferences.get(kind, {})
        for label in regime.labels:
            base *= prefs.get(label, 1.0)
        return base

    def weights(
        self, recent_pnl: Mapping[str, Sequence[float]], regime: Regime, kinds: Mapping[str, str]
    ) -> tuple[dict[str, float], str]:
        ids = list(kinds)
        if not ids:
            return {}, "no strategies"
        scores = {sid: self.score(recent_pnl.get(sid, ()), regime, kinds[sid]) for sid in ids}
        judged = [s for s in scores.values() if s is not None]
        # A strategy too new to judge gets the mean judged score: neither starved nor favoured.
        prior = float(np.mean(judged)) if judged else 0.0
        filled = {sid: prior if s is None else s for sid, s in scores.items()}
        total = sum(filled.values())
        shown = ", ".join(
            f"{sid} {'n/a' if scores[sid] is None else f'{scores[sid]:.2f}'}" for sid in ids
        )
        regime_text = f"{regime.volatility} volatility, trend {regime.trend}"
        if total <= 0:
            share = self.budget / len(ids)
            return {sid: share for sid in ids}, f"no positive score ({shown}); {regime_text}"
        out = {sid: self.budget * v / total for sid, v in filled.items()}
        return out, f"t-stat scores {shown}; {regime_text}"
