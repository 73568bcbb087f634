"""Analytics: performance metrics and reports."""

from neural_trader.analytics.metrics import PerformanceSummary, summarize
from neural_trader.analytics.report import write_html_report

__all__ = ["PerformanceSummary", "summarize", "write_html_report"]
