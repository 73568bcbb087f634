"""Prometheus metrics of one API app, in a registry of its own (several apps in one process,
as in the tests, do not collide), served at ``/metrics``.

Counted: requests and their latency by route template (not by raw path, which would make a
series per order id), order events by status and venue, fills, risk-gate denials by rule,
WebSocket clients and the slow ones dropped, backtest jobs by state, and the paper account's
cash after its last fill.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class ApiMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "nt_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "nt_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.orders = Counter(
            "nt_order_events_total", "Order events by status and venue", ["status", "venue"],
            registry=r,
        )  # fmt: skip
        self.fills = Counter("nt_fills_total", "Fills by venue", ["venue"], registry=r)
        self.denials = Counter(
            "nt_order_denials_total", "Orders the risk gate denied, by rule", ["rule"], registry=r
        )
        self.ws_clients = Gauge("nt_ws_clients", "Connected WebSocket clients", registry=r)
        self.ws_dropped = Counter(
            "nt_ws_slow_clients_dropped_total", "WebSocket clients dropped as slow", registry=r
        )
        self.jobs = Counter("nt_jobs_total", "Backtest jobs by state", ["state"], registry=r)
        self.cash = Gauge("nt_portfolio_cash", "Paper account cash after its last fill", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
