"""Stress scenarios drawn from a generative model of a market factor (e.g. the GAN on SPX).

History holds three crises; a generator trained on the factor's returns can draw thousands of
plausible paths with fat tails and volatility clustering. The portfolio is mapped onto each
path through its single-factor regression on the factor's daily returns over the history,
``r_p = alpha + beta * r_f``: the **systematic** part of its risk. The idiosyncratic part
(residual volatility, reported) is left out on purpose: it diversifies across positions and is
covered by the VaR methods on the assets themselves.

Path figures are fractions of portfolio value, negative for losses; VaR and CVaR are positive
loss fractions at ``confidence`` over the path horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from neural_trader.errors import RiskError

MIN_SHARED_DAYS = 30


@dataclass(frozen=True)
class SyntheticStress:
    source: str  # what drew the paths, e.g. "gan-SPX v1"
    factor: str
    paths: int
    horizon: int
    confidence: float
    beta: float
    alpha: float
    residual_volatility: float  # daily, left out of the paths
    var: float
    cvar: float
    mean_return: float
    worst_return: float
    median_max_drawdown: float
    worst_max_drawdown: float


def factor_fit(portfolio: npt.ArrayLike, factor: npt.ArrayLike) -> tuple[float, float, float, int]:
    """OLS ``portfolio = alpha + beta * factor`` over the days both are finite:
    (alpha, beta, residual std, days)."""
    p = np.asarray(portfolio, dtype=np.float64)
    f = np.asarray(factor, dtype=np.float64)
    if p.shape != f.shape or p.ndim != 1:
        raise RiskError(
            f"portfolio and factor returns must be 1-D of one length: {p.shape}, {f.shape}"
        )
    ok = np.isfinite(p) & np.isfinite(f)
    n = int(ok.sum())
    if n < MIN_SHARED_DAYS:
        raise RiskError(f"the portfolio and the factor share {n} days; {MIN_SHARED_DAYS} needed")
    p, f = p[ok], f[ok]
    f_var = float(np.var(f, ddof=1))
    if not f_var > 0:
        raise RiskError("the factor's returns are constant: no beta")
    beta = float(np.cov(p, f, ddof=1)[0, 1] / f_var)
    alpha = float(p.mean() - beta * f.mean())
    residual = p - alpha - beta * f
    return alpha, beta, float(residual.std(ddof=2)), n


def synthetic_stress(
    portfolio_returns: npt.ArrayLike,
    factor_returns: npt.ArrayLike,
    factor_log_paths: npt.ArrayLike,
    confidence: float = 0.99,
    *,
    factor: str = "factor",
    source: str = "generator",
) -> SyntheticStress:
    """Distribution of the portfolio's return over generated factor paths.

    ``factor_log_paths`` is (paths, horizon) daily log returns of the factor; the portfolio's
    daily simple return on each day of a path is ``alpha + beta * (exp(r) - 1)``.
    """
    if not 0 < confidence < 1:
        raise RiskError(f"confidence must be strictly between 0 and 1, got {confidence}")
    log_paths = np.asarray(factor_log_paths, dtype=np.float64)
    if log_paths.ndim != 2 or log_paths.shape[0] < 2 or log_paths.shape[1] < 1:
        raise RiskError(f"factor paths must be (paths >= 2, horizon >= 1), got {log_paths.shape}")
    if not np.isfinite(log_paths).all():
        raise RiskError("factor paths hold NaN or infinite returns")
    alpha, beta, resid, _ = factor_fit(portfolio_returns, factor_returns)
    daily = alpha + beta * np.expm1(log_paths)
    wealth = np.cumprod(1.0 + daily, axis=1)
    totals = wealth[:, -1] - 1.0
    start = np.ones((wealth.shape[0], 1))
    with_start = np.concatenate([start, wealth], axis=1)
    drawdowns = np.min(with_start / np.maximum.accumulate(with_start, axis=1) - 1.0, axis=1)
    cut = float(np.quantile(totals, 1.0 - confidence))
    tail = totals[totals <= cut]
    return SyntheticStress(
        source=source,
        factor=factor,
        paths=int(log_paths.shape[0]),
        horizon=int(log_paths.shape[1]),
        confidence=confidence,
        beta=beta,
        alpha=alpha,
        residual_volatility=resid,
        var=-cut,
        cvar=-float(tail.mean()),
        mean_return=float(totals.mean()),
        worst_return=float(totals.min()),
        median_max_drawdown=float(np.median(drawdowns)),
        worst_max_drawdown=float(drawdowns.min()),
    )
