"""OpenTelemetry traces of the API: a server span per HTTP request (continuing the caller's
trace when it sends a W3C ``traceparent``) and child spans for the work a request hands on
(:func:`child_span`). Off unless ``[telemetry] otlp_endpoint`` is set; then spans go over
OTLP/HTTP in batches.

The provider is the app's own, not the process-wide one, so several apps (as in the tests)
each keep their spans; the span is still made current, so the log lines a request writes
carry its trace id.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neural_trader import __version__
from neural_trader.config import TelemetrySettings

TRACER_NAME = "neural_trader.api"
_PROPAGATOR = TraceContextTextMapPropagator()


def tracer_provider(
    settings: TelemetrySettings, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """The provider for ``settings``: spans to ``exporter`` as they end (tests), else in
    batches to the OTLP endpoint; None when neither is given (tracing off)."""
    if exporter is None and settings.otlp_endpoint is None:
        return None
    resource = Resource.create(
        {"service.name": settings.service_name, "service.version": __version__}
    )
    provider = TracerProvider(resource=resource)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint))
        )
    return provider


class ServerSpans:
    """ASGI middleware: one ``SERVER`` span per HTTP request, named ``METHOD /route/template``
    once routing has matched, with the method, route, status and request id; a 5xx marks it
    as an error."""

    def __init__(self, app: ASGIApp, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        parent = _PROPAGATOR.extract(carrier)
        method = str(scope.get("method", ""))
        with self.tracer.start_as_current_span(
            method, context=parent, kind=SpanKind.SERVER, attributes=_request(scope)
        ) as span:
            status = 500

            async def observed(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                await send(message)

            try:
                await self.app(scope, receive, observed)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if route:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", str(route))
                span.set_attribute("http.response.status_code", status)
                if "nt.request_id" in scope:
                    span.set_attribute("nt.request_id", str(scope["nt.request_id"]))
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))


def _request(scope: Scope) -> dict[str, AttributeValue]:
    client = scope.get("client")
    attrs: dict[str, AttributeValue] = {
        "http.request.method": str(scope.get("method", "")),
        "url.path": str(scope.get("path", "")),  # never the query: it may hold a token
        "url.scheme": str(scope.get("scheme", "http")),
    }
    if client:
        attrs["client.address"] = str(client[0])
    return attrs


@contextlib.contextmanager
def child_span(
    conn: HTTPConnection, name: str, **attributes: AttributeValue
) -> Iterator[trace.Span]:
    """A span under the request's span for work the request hands on (the order service,
    the venue); a non-recording span when tracing is off."""
    tracer = getattr(conn.app.state, "tracer", None)
    if not isinstance(tracer, Tracer):
        yield trace.INVALID_SPAN
        return
    with tracer.start_as_current_span(name, attributes=attributes) as span:
        yield span
