"""OpenTelemetry traces of real requests, exported to the SDK's in-memory exporter: a server
span per request continuing the caller's ``traceparent``, the order service's span under it,
the trace id in the request's log line, and tracing off unless configured."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from apitest_support import FAST_HASHER, ROLES, Api, api_settings, login, make_users
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from neural_trader.api import create_app
from neural_trader.api.tracing import tracer_provider
from neural_trader.config import TelemetrySettings, load_settings
from neural_trader.errors import ConfigError

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, InMemorySpanExporter]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('trace') / 'nt.db'}"
    make_users(url)
    exporter = InMemorySpanExporter()
    settings = api_settings(url, **{"log.json": True})
    app = create_app(settings, hasher=FAST_HASHER, span_exporter=exporter)
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client, url, {role: login(client, role) for role in ROLES})
        api.wait_for_data()
        yield api, exporter


def spans_of(exporter: InMemorySpanExporter, trace_id: int) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]


def test_a_request_continues_the_caller_s_trace_and_logs_its_id(
    traced: tuple[Api, InMemorySpanExporter], capsys: pytest.CaptureFixture[str]
) -> None:
    api, exporter = traced
    capsys.readouterr()
    r = api.client.get("/api/v1/orders/nope?token=hidden", headers={
        **api.headers("viewer"), "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})  # fmt: skip
    assert r.status_code == 404
    (span,) = spans_of(exporter, int(TRACE_ID, 16))
    assert span.kind is SpanKind.SERVER and span.name == "GET /api/v1/orders/{order_id}"
    assert span.parent is not None and span.parent.span_id == int(PARENT_ID, 16)
    attrs = dict(span.attributes or {})
    assert attrs["http.route"] == "/api/v1/orders/{order_id}"
    assert attrs["http.response.status_code"] == 404 and attrs["http.request.method"] == "GET"
    assert attrs["url.path"] == "/api/v1/orders/nope"  # the query (a token) is left out
    assert attrs["nt.request_id"] == r.headers["x-request-id"]
    assert span.resource.attributes["service.name"] == "neural-trader"
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    line = next(x for x in lines if x.get("request_id") == r.headers["x-request-id"])
    assert line["trace_id"] == TRACE_ID and line["span_id"] == format(span.context.span_id, "016x")


def test_an_order_s_service_span_is_a_child_of_the_request_span(
    traced: tuple[Api, InMemorySpanExporter],
) -> None:
    api, exporter = traced
    exporter.clear()
    body = {"symbol": "SPX", "side": "buy", "quantity": "1", "type": "limit", "limit_price": "1"}
    r = api.client.post("/api/v1/orders", json=body, headers=api.headers("trader"))
    assert r.status_code == 201
    server = next(s for s in exporter.get_finished_spans() if s.name == "POST /api/v1/orders")
    (child,) = [s for s in spans_of(exporter, server.context.trace_id) if s is not server]
    assert child.name == "order.submit" and child.kind is SpanKind.INTERNAL
    assert child.parent is not None and child.parent.span_id == server.context.span_id
    assert server.parent is None  # no traceparent sent: the trace starts here
    attrs = dict(child.attributes or {})
    assert attrs == {"nt.symbol": "SPX", "nt.order_id": r.json()["id"], "nt.status": "accepted"}
    assert server.status.status_code is StatusCode.UNSET
    assert dict(server.attributes or {})["http.response.status_code"] == 201


def test_tracing_is_off_unless_an_endpoint_is_configured(
    traced: tuple[Api, InMemorySpanExporter],
) -> None:
    assert tracer_provider(TelemetrySettings()) is None
    on = tracer_provider(TelemetrySettings(otlp_endpoint="http://127.0.0.1:4318/v1/traces"))
    assert isinstance(on, TracerProvider)
    on.shutdown()  # nothing was recorded, so nothing is sent
    assert load_settings(None, {}, env={}).telemetry.otlp_endpoint is None
    with pytest.raises(ConfigError, match=r"telemetry\.otlp_endpoint"):
        load_settings(None, {"telemetry.otlp_endpoint": "collector:4318"}, env={})
    api, _ = traced
    assert api.client.app.state.tracer is not None  # type: ignore[attr-defined]
