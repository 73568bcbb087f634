"""Analytics: performance metrics of an equity curve and a self-contained HTML report.

Conventions (empyrical's) are documented in :mod:`neural_trader.analytics.metrics`.
"""

from neural_trader.analytics.metrics import (
    PerformanceSummary,
    annual_volatility,
    cagr,
    drawdown_series,
    exposure,
    max_drawdown,
    max_drawdown_duration,
    periods_per_year,
    returns_from_equity,
    sharpe,
    sortino,
    summarize,
    total_return,
    win_rate,
)
from neural_trader.analytics.report import write_html_report

__all__ = [
    "PerformanceSummary",
    "annual_volatility",
    "cagr",
    "drawdown_series",
    "exposure",
    "max_drawdown",
    "max_drawdown_duration",
    "periods_per_year",
    "returns_from_equity",
    "sharpe",
    "sortino",
    "summarize",
    "total_return",
    "win_rate",
    "write_html_report",
]
