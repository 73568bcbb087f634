"""Prometheus metrics of one API app, in a registry of its own (several apps in one process,
as in the tests, do not collide), served at ``/metrics``.

Counted: requests and their latency by route template (not by raw path, which would make a
series per order id), order events by status and venue, fills, risk-gate denials by rule,
WebSocket clients and the slow ones dropped, backtest jobs by state and how many wait or run,
the paper account's cash after its last fill and its value (read at each scrape), whether each
venue is up, requests refused by the rate limit, and how late the event loop wakes up.
"""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
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
        self.portfolio_value = Gauge(
            "nt_portfolio_value", "Paper account equity (cash and positions at last prices)",
            registry=r,
        )  # fmt: skip
        self.broker_up = Gauge(
            "nt_broker_up", "1 while the venue takes orders, else 0", ["venue"], registry=r
        )
        self.job_queue = Gauge("nt_job_queue_depth", "Backtest jobs queued or running", registry=r)
        self.rate_limited = Counter(
            "nt_rate_limited_total", "Requests refused by the rate limit, by caller kind",
            ["kind"], registry=r,
        )  # fmt: skip
        self.loop_lag = Histogram(
            "nt_event_loop_lag_seconds", "How late the event loop wakes from a probe's sleep",
            buckets=LAG_BUCKETS, registry=r,
        )  # fmt: skip

    def render(self) -> bytes:
        return generate_latest(self.registry)


async def watch_loop_lag(metrics: ApiMetrics, stop: asyncio.Event, every_s: float = 0.25) -> None:
    """Sleep ``every_s`` again and again and record how much later than asked the loop woke:
    a blocking call on the loop (the thing that stalls every request and WebSocket) shows up
    as lag, whoever made it."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        started = loop.time()
        await asyncio.sleep(every_s)
        metrics.loop_lag.observe(max(0.0, loop.time() - started - every_s))
