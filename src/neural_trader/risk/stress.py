"""Stress tests: replaying historical crises on bundled data, and hypothetical shocks.

* :func:`historical_stress` replays a named window (:data:`HISTORICAL_SCENARIOS`) or a custom
  :class:`Scenario` on the bundled daily closes. The weights are held constant, i.e. the
  portfolio is **rebalanced daily** back to them: its daily return is ``Σ w_i r_i`` and its
  return over the window is the product of ``1 + Σ w_i r_i`` minus one. The window runs from
  the close of its first trading day on or after ``start`` to the close of its last trading
  day on or before ``end``. Returns and drawdowns are fractions of portfolio value, negative
  for losses.
* :func:`hypothetical_shock` applies an instant return per asset class and stresses the
  covariance of a return history: volatilities scaled by ``vol_multiplier``, off-diagonal
  correlations scaled by ``corr_multiplier`` and clipped to [-0.999, 0.999]; when that leaves
  the correlation matrix indefinite, it is repaired by eigenvalue clipping (negative
  eigenvalues set to zero, then rescaled to a unit diagonal). The stressed VaR/CVaR are
  one-period normal figures with zero mean (drift is not part of a stress).
* :func:`run_all` replays every historical scenario the symbols have data for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from scipy import stats

from neural_trader.data import list_datasets
from neural_trader.errors import RiskError
from neural_trader.risk.returns import bundled_returns

CORRELATION_BOUND = 0.999


@dataclass(frozen=True)
class Scenario:
    """A historical window to replay, with a one-line description."""

    name: str
    start: date
    end: date
    description: str


HISTORICAL_SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "dotcom_2000_2002",
            date(2000, 3, 24),
            date(2002, 10, 9),
            "Dot-com bust: S&P 500 from its March 2000 peak to its October 2002 low.",
        ),
        Scenario(
            "gfc_2008",
            date(2007, 10, 9),
            date(2009, 3, 9),
            "Global financial crisis: S&P 500 from its October 2007 peak to its March 2009 low.",
        ),
        Scenario(
            "covid_2020",
            date(2020, 2, 19),
            date(2020, 3, 23),
            "COVID-19 crash: S&P 500 from its February 2020 peak to its March 2020 low.",
        ),
    )
}


@dataclass(frozen=True)
class StressResult:
    """A historical window replayed with constant (daily rebalanced) weights."""

    name: str
    start: date
    end: date
    portfolio_return: float
    worst_day: float
    max_drawdown: float
    per_asset_return: dict[str, float]
    note: str
    days: int


@dataclass(frozen=True)
class StressSuite:
    """Every historical scenario replayed, and the ones skipped with the reason."""

    results: tuple[StressResult, ...]
    skipped: dict[str, str]


@dataclass(frozen=True)
class ShockResult:
    """An instant shock and the portfolio's risk under a stressed covariance."""

    instant_pnl: float
    stressed_volatility: float
    stressed_var: float
    stressed_cvar: float
    base_volatility: float
    confidence: float
    stressed_covariance: np.ndarray = field(compare=False)
    psd_repaired: bool
    clipped_correlations: int  # asset pairs whose stressed correlation hit ±0.999
    note: str


def _scenario(scenario: str | Scenario) -> Scenario:
    if isinstance(scenario, Scenario):
        if scenario.start >= scenario.end:
            raise RiskError(
                f"scenario {scenario.name}: start {scenario.start} is not before end {scenario.end}"
            )
        return scenario
    found = HISTORICAL_SCENARIOS.get(scenario)
    if found is None:
        known = ", ".join(HISTORICAL_SCENARIOS)
        raise RiskError(f"unknown stress scenario {scenario!r}; known: {known}")
    return found


def _weights(symbols: list[str], weights: list[float] | np.ndarray) -> np.ndarray:
    if not symbols:
        raise RiskError("need at least one symbol")
    dupes = sorted({s for s in symbols if symbols.count(s) > 1})
    if dupes:
        raise RiskError(f"symbols repeated: {', '.join(dupes)}")
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size != len(symbols):
        raise RiskError(f"{w.size} weights for {len(symbols)} symbols")
    if not np.all(np.isfinite(w)):
        raise RiskError("weights contain NaN or infinite values")
    return w


def _missing(symbols: list[str], sc: Scenario) -> list[str]:
    """Symbols whose bundled daily data does not span the scenario's window."""
    daily = {d.symbol.upper(): d for d in list_datasets() if d.interval == "1d"}
    unknown = [s for s in symbols if s.strip().upper() not in daily]
    if unknown:
        raise RiskError(
            f"no bundled daily data for {', '.join(unknown)}; available: {', '.join(daily)}"
        )
    out = []
    for sym in symbols:
        info = daily[sym.strip().upper()]
        if info.start.date() > sc.start or info.end.date() < sc.end:
            out.append(sym)
    return out


def _coverage_message(missing: list[str], sc: Scenario) -> str:
    return (
        f"no bundled data for {', '.join(missing)} over the whole {sc.name} window "
        f"{sc.start} .. {sc.end}"
    )


def historical_stress(
    symbols: list[str], weights: list[float] | np.ndarray, scenario: str | Scenario
) -> StressResult:
    """Replay ``scenario`` on bundled daily closes with ``weights`` rebalanced daily."""
    w = _weights(symbols, weights)
    sc = _scenario(scenario)
    missing = _missing(symbols, sc)
    if missing:
        raise RiskError(_coverage_message(missing, sc), scenario=sc.name)
    rets, span = bundled_returns(symbols, start=sc.start.isoformat(), end=sc.end.isoformat())
    port = rets @ w
    wealth = np.concatenate(([1.0], np.cumprod(1.0 + port)))
    peak = np.maximum.accumulate(wealth)
    per_asset = np.prod(1.0 + rets, axis=0) - 1.0
    note = (
        f"weights held constant (rebalanced daily) over {port.size} daily returns, "
        f"the first on {span[0]}, the last on {span[1]}"
    )
    if not math.isclose(float(w.sum()), 1.0, abs_tol=1e-9):
        note += f"; weights sum to {float(w.sum()):.6g}, so returns are of that exposure"
    return StressResult(
        name=sc.name,
        start=sc.start,
        end=sc.end,
        portfolio_return=float(wealth[-1] - 1.0),
        worst_day=float(port.min()),
        max_drawdown=float((wealth / peak - 1.0).min()),
        per_asset_return={s: float(r) for s, r in zip(symbols, per_asset, strict=True)},
        note=note,
        days=int(port.size),
    )


def run_all(symbols: list[str], weights: list[float] | np.ndarray) -> StressSuite:
    """Every scenario of :data:`HISTORICAL_SCENARIOS` the symbols all have data for."""
    w = _weights(symbols, weights)
    results = []
    skipped = {}
    for sc in HISTORICAL_SCENARIOS.values():
        missing = _missing(symbols, sc)
        if missing:
            skipped[sc.name] = "skipped: " + _coverage_message(missing, sc)
        else:
            results.append(historical_stress(symbols, w, sc))
    return StressSuite(results=tuple(results), skipped=skipped)


def _check_shock_inputs(
    x: np.ndarray,
    w: np.ndarray,
    asset_classes: list[str],
    shocks: dict[str, float],
    multipliers: tuple[float, float],
    confidence: float,
) -> None:
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise RiskError(f"asset returns must be a (periods >= 2, assets) array, got {x.shape}")
    n = x.shape[1]
    if w.ndim != 1 or w.size != n:
        raise RiskError(f"{w.size} weights for {n} assets")
    if len(asset_classes) != n:
        raise RiskError(f"{len(asset_classes)} asset classes for {n} assets")
    if not np.all(np.isfinite(x)) or not np.all(np.isfinite(w)):
        raise RiskError("asset returns or weights contain NaN or infinite values")
    unknown = sorted(set(shocks) - set(asset_classes))
    if unknown:
        raise RiskError(
            f"shocks name asset classes no asset has: {', '.join(unknown)}; "
            f"classes: {', '.join(sorted(set(asset_classes)))}"
        )
    for cls, value in shocks.items():
        if not math.isfinite(value) or value < -1.0:
            raise RiskError(f"shock for {cls} must be a finite return >= -1, got {value}")
    for label, m in zip(("vol_multiplier", "corr_multiplier"), multipliers, strict=True):
        if not math.isfinite(m) or m < 0:
            raise RiskError(f"{label} must be a finite number >= 0, got {m}")
    if not 0 < confidence < 1:
        raise RiskError(f"confidence must be strictly between 0 and 1, got {confidence}")


def stressed_correlation(corr: np.ndarray, corr_multiplier: float) -> tuple[np.ndarray, int, bool]:
    """Off-diagonals scaled and clipped to ±0.999, then made PSD by eigenvalue clipping.

    Returns the matrix, how many asset pairs had their correlation clipped, and whether it
    was repaired.
    """
    c = np.asarray(corr, dtype=np.float64) * corr_multiplier
    upper = np.triu_indices(c.shape[0], k=1)
    clipped = int(np.sum(np.abs(c[upper]) > CORRELATION_BOUND))
    c = np.clip(c, -CORRELATION_BOUND, CORRELATION_BOUND)
    np.fill_diagonal(c, 1.0)
    vals, vecs = np.linalg.eigh(c)
    if vals.min() >= 0:
        return c, clipped, False
    fixed = (vecs * np.maximum(vals, 0.0)) @ vecs.T
    d = np.sqrt(np.diag(fixed))  # >= 1: clipping negative eigenvalues only adds to the diagonal
    fixed = fixed / np.outer(d, d)
    fixed = (fixed + fixed.T) / 2.0
    np.fill_diagonal(fixed, 1.0)
    return fixed, clipped, True


def hypothetical_shock(
    asset_returns: np.ndarray,
    weights: list[float] | np.ndarray,
    asset_classes: list[str],
    shocks: dict[str, float],
    vol_multiplier: float = 1.0,
    corr_multiplier: float = 1.0,
    confidence: float = 0.99,
) -> ShockResult:
    """Instant P&L ``Σ w_i · shock[class_i]`` (unshocked classes move 0) and normal VaR from
    the stressed covariance ``D·C'·D``, ``D = diag(σ · vol_multiplier)``."""
    x = np.asarray(asset_returns, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    _check_shock_inputs(x, w, asset_classes, shocks, (vol_multiplier, corr_multiplier), confidence)
    sigma = x.std(axis=0, ddof=1)
    flat = np.flatnonzero(sigma == 0)
    if flat.size:
        raise RiskError(f"assets {flat.tolist()} have constant returns: correlation is undefined")
    sample_cov = np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])
    corr, clipped, repaired = stressed_correlation(
        sample_cov / np.outer(sigma, sigma), corr_multiplier
    )
    d = sigma * vol_multiplier
    cov = corr * np.outer(d, d)
    vol = math.sqrt(max(float(w @ cov @ w), 0.0))
    z = float(stats.norm.ppf(confidence))
    instant = float(sum(wi * shocks.get(c, 0.0) for wi, c in zip(w, asset_classes, strict=True)))
    unshocked = sorted(set(asset_classes) - set(shocks))
    note = "zero-mean one-period normal VaR/CVaR from the stressed covariance"
    if repaired:
        note += "; stressed correlations repaired to PSD by eigenvalue clipping"
    if unshocked:
        note += f"; no shock for {', '.join(unshocked)} (taken as 0)"
    return ShockResult(
        instant_pnl=instant,
        stressed_volatility=vol,
        stressed_var=vol * z,
        stressed_cvar=vol * float(stats.norm.pdf(z)) / (1.0 - confidence),
        base_volatility=math.sqrt(max(float(w @ sample_cov @ w), 0.0)),
        confidence=confidence,
        stressed_covariance=cov,
        psd_repaired=repaired,
        clipped_correlations=clipped,
        note=note,
    )


__all__ = [
    "CORRELATION_BOUND",
    "HISTORICAL_SCENARIOS",
    "Scenario",
    "ShockResult",
    "StressResult",
    "StressSuite",
    "historical_stress",
    "hypothetical_shock",
    "run_all",
    "stressed_correlation",
]
