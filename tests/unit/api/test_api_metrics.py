"""``/metrics`` after real requests, read with prometheus_client's own parser: latency by
route template and method, orders by status and venue, fills, denials by rule, portfolio
value, venue health, WebSocket clients, job queue depth and event-loop lag."""

from __future__ import annotations

import time
from typing import Any

import pytest
from apitest_support import Api
from prometheus_client.parser import text_string_to_metric_families

# Five bars a second: the value check needs two portfolio reads and a scrape to fit between
# two bars, which at the usual 50 a second a slow machine cannot always do.
API_SETTINGS = {"run.speed": 5}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(api: Api) -> Samples:
    r = api.client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def order(api: Api, **fields: Any) -> Any:
    body = {"symbol": "SPX", "side": "buy", "quantity": "2", **fields}
    return api.client.post("/api/v1/orders", json=body, headers=api.headers("trader"))


def test_latency_is_a_histogram_by_route_template_and_method(api: Api) -> None:
    for oid in ("a-1", "b-2", "c-3"):
        api.client.get(f"/api/v1/orders/{oid}", headers=api.headers("viewer"))
    s = scrape(api)
    route = {"method": "GET", "route": "/api/v1/orders/{order_id}"}
    assert value(s, "nt_http_request_duration_seconds_count", **route) == 3
    assert value(s, "nt_http_request_duration_seconds_bucket", **route, le="+Inf") == 3
    assert value(s, "nt_http_requests_total", **route, status="404") == 3
    assert not any("a-1" in str(labels) for _, labels in s)  # no series per raw path


def test_orders_fills_denials_and_portfolio_value(api: Api) -> None:
    before = scrape(api)
    r = order(api)
    assert r.status_code == 201
    api.wait_order(r.json()["id"], "filled")
    denied = order(api, quantity="100000000")
    assert denied.status_code == 422 and denied.json()["order"]["status"] == "denied"
    book = api.client.get("/api/v1/portfolio", headers=api.headers("viewer")).json()
    s = scrape(api)  # cash changes only with a fill, and the last one is in

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return s[key] - before.get(key, 0.0)

    for status in ("submitted", "accepted", "filled"):
        assert grew("nt_order_events_total", status=status, venue="SIM") == 1
    assert grew("nt_order_events_total", status="denied", venue="SIM") == 1
    assert grew("nt_fills_total", venue="SIM") == 1
    rules = {dict(labels)["rule"]: v for (name, labels), v in s.items()
             if name == "nt_order_denials_total"}  # fmt: skip
    assert rules == {"max_order_notional": 1.0} and "notional" in denied.json()["detail"]
    assert value(s, "nt_portfolio_cash") == pytest.approx(float(book["cash"]))
    assert value(s, "nt_broker_up", venue="SIM") == 1.0
    assert_value_matches_the_book(api)


def assert_value_matches_the_book(api: Api) -> None:
    """The replay moves prices between two reads; a scrape between two equal book reads
    must show their equity."""
    for _ in range(100):
        first = api.client.get("/api/v1/portfolio", headers=api.headers("viewer")).json()
        gauge = value(scrape(api), "nt_portfolio_value")
        again = api.client.get("/api/v1/portfolio", headers=api.headers("viewer")).json()
        if first["equity"] == again["equity"]:
            assert gauge == pytest.approx(first["equity"], abs=0.01)
            return
    raise AssertionError("the book never held still between two reads")


def test_websocket_clients_and_job_queue_depth(api: Api) -> None:
    with api.client.websocket_connect(f"/ws?token={api.tokens['viewer']}") as ws:
        assert ws.receive_json()["type"] == "welcome"
        assert value(scrape(api), "nt_ws_clients") >= 1
    spec = {"strategy": "sma_cross", "symbols": ["SPX"], "start": "2014-01-01",
            "end": "2014-12-31"}  # fmt: skip
    job = api.client.post("/api/v1/backtests", json=spec, headers=api.headers("trader")).json()
    deadline = time.monotonic() + 60
    while api.client.get(f"/api/v1/backtests/{job['id']}", headers=api.headers("viewer")).json()[
        "status"
    ] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, "the backtest job never finished"
        time.sleep(0.05)
    s = scrape(api)
    assert value(s, "nt_jobs_total", state="queued") >= 1
    assert value(s, "nt_jobs_total", state="succeeded") >= 1
    for _ in range(100):  # the job leaves the queue just after it is stored as done
        if value(scrape(api), "nt_job_queue_depth") == 0:
            break
        time.sleep(0.02)
    assert value(scrape(api), "nt_job_queue_depth") == 0


def test_event_loop_lag_is_measured_while_the_server_runs(api: Api) -> None:
    deadline = time.monotonic() + 10
    while value(scrape(api), "nt_event_loop_lag_seconds_count") < 2:
        assert time.monotonic() < deadline, "the event-loop probe never ran"
        time.sleep(0.05)
    s = scrape(api)
    assert value(s, "nt_event_loop_lag_seconds_sum") >= 0
    assert value(s, "nt_event_loop_lag_seconds_bucket", le="+Inf") == value(
        s, "nt_event_loop_lag_seconds_count"
    )
