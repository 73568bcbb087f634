"""Analytics: performance metrics, ratios and reports."""

from neural_trader.analytics import ratios
from neural_trader.analytics.metrics import PerformanceSummary, summarize
from neural_trader.analytics.report import write_html_report

__all__ = ["PerformanceSummary", "ratios", "summarize", "write_html_report"]
