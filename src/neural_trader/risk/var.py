"""Value at Risk and expected shortfall by several methods, on one return history.

Losses are positive fractions of portfolio value. ``confidence`` c is the probability of not
losing more than VaR over ``horizon`` periods. Methods:

* ``historical`` / ``normal`` — see :mod:`neural_trader.risk.measures`.
* ``student_t`` — a location-scale Student-t fitted by maximum likelihood (scipy); CVaR by the
  closed form of the t tail. Horizons scale the scale by √h (an approximation: sums of t are
  not t).
* ``cornish_fisher`` — the normal quantile corrected for sample skew S and excess kurtosis K:
  z_cf = z + (z²−1)S/6 + (z³−3z)K/24 − (2z³−5z)S²/36; CVaR by averaging z_cf over the tail.
* ``monte_carlo`` — correlated normal paths of the assets by Cholesky, antithetic pairs, the
  horizon's N(hμ, hΣ) drawn at once; torch normals on CUDA when present, else on the CPU.
* ``garch`` — a GARCH(1,1) with Student-t innovations fitted with ``arch``; VaR from the
  one-step-ahead conditional mean and volatility (horizon h by summing the h-step variance
  forecasts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import integrate, stats

from neural_trader.errors import RiskError
from neural_trader.risk.measures import (
    check_returns,
    historical_var_cvar,
    normal_var_cvar,
    portfolio_returns,
)

METHODS = ("historical", "normal", "student_t", "cornish_fisher", "monte_carlo", "garch")


@dataclass(frozen=True)
class VaRResult:
    method: str
    confidence: float
    horizon: int
    var: float
    cvar: float


def student_t_var_cvar(
    returns: np.ndarray, confidence: float, horizon: int = 1
) -> tuple[float, float]:
    r = check_returns(returns, confidence, horizon)
    df, loc, scale = stats.t.fit(r)
    if not df > 1:
        raise RiskError(f"fitted Student-t has df={df:.3g} <= 1: its mean (and CVaR) is undefined")
    mu = loc * horizon
    s = scale * math.sqrt(horizon)
    q = float(stats.t.ppf(1 - confidence, df))  # lower-tail quantile of the standard t
    var = -(mu + s * q)
    # E[X | X <= q] for a standard t: -(df + q²)/(df - 1) · pdf(q) / (1 - c)
    tail_mean = -(df + q * q) / (df - 1) * float(stats.t.pdf(q, df)) / (1 - confidence)
    return var, -(mu + s * tail_mean)


def _cf_quantile(z: float, skew: float, kurt: float) -> float:
    return (
        z
        + (z * z - 1) * skew / 6
        + (z**3 - 3 * z) * kurt / 24
        - (2 * z**3 - 5 * z) * skew * skew / 36
    )


def cornish_fisher_var_cvar(
    returns: np.ndarray, confidence: float, horizon: int = 1
) -> tuple[float, float]:
    r = check_returns(returns, confidence, horizon)
    mu = float(r.mean()) * horizon
    sd = float(r.std(ddof=1)) * math.sqrt(horizon)
    skew = float(stats.skew(r))
    kurt = float(stats.kurtosis(r))  # excess
    alpha = 1 - confidence
    var = -(mu + sd * _cf_quantile(float(stats.norm.ppf(alpha)), skew, kurt))
    tail, _ = integrate.quad(
        lambda p: _cf_quantile(float(stats.norm.ppf(p)), skew, kurt), 0.0, alpha, limit=200
    )
    return var, -(mu + sd * tail / alpha)


def monte_carlo_var_cvar(
    asset_returns: np.ndarray,
    weights: np.ndarray,
    confidence: float,
    horizon: int = 1,
    paths: int = 100_000,
    seed: int | None = 0,
    use_gpu: bool = True,
) -> tuple[float, float]:
    """Simulate ``paths`` (antithetic pairs) of the horizon's portfolio return from a
    multivariate normal fitted to the assets' history.

    Each path draws one correlated shock per asset (Cholesky); the sum of h independent
    N(μ, Σ) one-period returns is exactly N(hμ, hΣ), so the horizon costs nothing extra. The
    shocks are torch float32 normals (CUDA when present and ``use_gpu``, else the CPU; a seeded
    torch generator gives the same paths on every run). With antithetic pairs ±s the worst
    losses are those of the largest |s|, so only the top of |s| is selected, never sorted.
    """
    x = np.asarray(asset_returns, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    w = np.asarray(weights, dtype=np.float64)
    check_returns(x @ w, confidence, horizon)
    if paths < 2:
        raise RiskError(f"Monte Carlo needs at least 2 paths, got {paths}")
    mu = x.mean(axis=0)
    cov = np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise RiskError(
            "covariance of the assets is not positive definite (collinear assets?)"
        ) from None
    # A portfolio's return is linear in the asset shocks z: its shock is z·(Lᵀw).
    loading = chol.T @ w * math.sqrt(horizon)
    drift = float(mu @ w) * horizon
    return _antithetic_tail(loading, drift, paths // 2, confidence, seed, use_gpu)


def _antithetic_tail(
    loading: np.ndarray, drift: float, half: int, confidence: float, seed: int | None, gpu: bool
) -> tuple[float, float]:
    """np.quantile's linear VaR of the 2·half losses −drift ∓ s, and the mean loss at or
    beyond it."""
    import torch

    device = torch.device("cuda" if gpu and torch.cuda.is_available() else "cpu")
    gen = torch.Generator(device=device)
    gen.manual_seed(0 if seed is None else seed)
    lo = torch.as_tensor(loading, dtype=torch.float32, device=device)
    shocks = torch.randn((half, lo.numel()), generator=gen, device=device) @ lo
    n = 2 * half
    g = (n - 1) * confidence
    below = math.floor(g)
    t = g - below
    rank = n - 1 - below  # the lower neighbour's rank from the top of the losses
    if rank >= half:  # confidence under about one half: the tail is not the top of |s|
        s = shocks.double().cpu().numpy()
        losses = np.concatenate([-(drift + s), -(drift - s)])
        q = np.quantile(losses, confidence)
        return float(q), float(losses[losses >= q].mean())
    top = torch.topk(shocks.abs(), rank + 1).values.double().cpu().numpy() - drift
    a = float(top[rank])
    b = float(top[rank - 1]) if rank > 0 else a
    var = a + (b - a) * t if t < 0.5 else b - (b - a) * (1 - t)
    return var, float(top[top >= var].mean())


def garch_var_cvar(returns: np.ndarray, confidence: float, horizon: int = 1) -> tuple[float, float]:
    from arch import arch_model

    r = check_returns(returns, confidence, horizon)
    scale = 100.0  # arch's optimiser prefers percent returns
    model = arch_model(r * scale, mean="Constant", vol="GARCH", p=1, q=1, dist="t")
    fit = model.fit(disp="off")
    if fit.convergence_flag != 0:
        raise RiskError(f"GARCH fit did not converge (flag {fit.convergence_flag})")
    fc = fit.forecast(horizon=horizon, reindex=False)
    mu = float(fc.mean.iloc[-1].sum()) / scale
    sigma = math.sqrt(float(fc.variance.iloc[-1].sum())) / scale
    nu = float(fit.params["nu"])
    alpha = 1 - confidence
    # arch's standardised t has unit variance: scale the standard t by sqrt((nu-2)/nu).
    k = math.sqrt((nu - 2) / nu)
    q = float(stats.t.ppf(alpha, nu))
    tail_mean = -(nu + q * q) / (nu - 1) * float(stats.t.pdf(q, nu)) / alpha
    return -(mu + sigma * k * q), -(mu + sigma * k * tail_mean)


def value_at_risk(
    asset_returns: np.ndarray,
    weights: np.ndarray,
    confidence: float = 0.95,
    horizon: int = 1,
    methods: tuple[str, ...] = METHODS,
    paths: int = 100_000,
    seed: int | None = 0,
) -> list[VaRResult]:
    """VaR and CVaR of a weighted portfolio of assets by each requested method."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise RiskError(f"unknown VaR method(s) {unknown}; choose from {', '.join(METHODS)}")
    x = np.asarray(asset_returns, dtype=np.float64)
    r = portfolio_returns(x if x.ndim == 2 else x[:, None], np.asarray(weights))
    out = []
    for method in methods:
        if method == "historical":
            v, c = historical_var_cvar(r, confidence, horizon)
        elif method == "normal":
            v, c = normal_var_cvar(r, confidence, horizon)
        elif method == "student_t":
            v, c = student_t_var_cvar(r, confidence, horizon)
        elif method == "cornish_fisher":
            v, c = cornish_fisher_var_cvar(r, confidence, horizon)
        elif method == "monte_carlo":
            v, c = monte_carlo_var_cvar(x, np.asarray(weights), confidence, horizon, paths, seed)
        else:
            v, c = garch_var_cvar(r, confidence, horizon)
        out.append(VaRResult(method, confidence, horizon, v, c))
    return out
