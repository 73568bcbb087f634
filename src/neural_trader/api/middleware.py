"""Plain ASGI middleware (no per-request task or body copy): the request size limit, and the
observer that gives each request an id, times it, counts it, logs it and audits it.

The access log names the route and path but never the query string, headers or body, which
may carry a token or a key (``/ws?token=...``); uvicorn's own access log is turned off.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neural_trader.api.metrics import ApiMetrics
from neural_trader.api.problems import problem_response
from neural_trader.security import Principal
from neural_trader.storage import AuditEntry, AuditLog

log = structlog.get_logger("neural_trader.api")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class BodyLimit:
    """Refuse bodies over ``max_bytes`` with 413 before any route sees them: at once when
    ``Content-Length`` says so, else as soon as the streamed body passes the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        seen = 0
        too_large = False

        async def limited() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_large = True
                    raise _TooLarge
            return message

        async def guarded(message: Message) -> None:
            # The app answers a body it could not read with its own error; it is replaced.
            if not too_large:
                await send(message)
            elif message["type"] == "http.response.start":
                await self._refuse(scope, receive, send)

        await self.app(scope, limited, guarded)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            "payload-too-large",
            f"the body may have at most {self.max_bytes} bytes",
            instance=scope.get("path"),
        )
        await response(scope, receive, send)


class _TooLarge(Exception):  # noqa: N818 - internal signal, never leaves this module
    """Raised into the app's body read when the limit is passed."""


class RequestObserver:
    """Request id (``X-Request-ID``, taken from the client when well-formed), latency and
    count by route, one access log line, and an audit entry for every state-changing
    request: who (the principal the auth dependency found), what (method and route), when,
    from where (client address) and the result (the status)."""

    def __init__(
        self, app: ASGIApp, metrics: ApiMetrics, audit: Callable[[], AuditLog | None]
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.audit = audit
        # The series of each (method, route, status): prometheus_client's labels() takes a
        # lock and builds the key on every call. Route templates keep this small.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope["nt.request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        # Every line logged while the request runs carries its id (see api/logs.py).
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, observed)
            finally:
                elapsed = time.perf_counter() - started
                self._after(scope, status, elapsed, request_id)

    def _after(self, scope: Scope, status: int, elapsed: float, request_id: str) -> None:
        method = str(scope.get("method", ""))
        route = _route(scope)
        series = self._series.get((method, route, status))
        if series is None:
            series = self._series[(method, route, status)] = (
                self.metrics.requests.labels(method, route, str(status)),
                self.metrics.latency.labels(method, route),
            )
        series[0].inc()
        series[1].observe(elapsed)
        principal = scope.get("nt.principal")
        who: dict[str, Any] = {}
        if isinstance(principal, Principal):
            who = {"user": principal.username, "user_id": principal.user_id,
                   "key_id": principal.key_id, "via": principal.via}  # fmt: skip
        log.info(
            "request", method=method, route=route, path=scope.get("path"), status=status,
            ms=round(elapsed * 1000, 2), request_id=request_id, **who,
        )  # fmt: skip
        audit = self.audit()
        if method in STATE_CHANGING and audit is not None:
            # Stored with the loop step's other entries; a failure is logged there.
            audit.submit(_entry(scope, method, route, status, request_id, principal))


def _entry(
    scope: Scope, method: str, route: str, status: int, request_id: str, principal: Any
) -> AuditEntry:
    extra: dict[str, Any] = dict(scope.get("nt.audit", {}))
    actor = extra.pop("actor", None)
    kind = str(extra.pop("actor_kind", "anonymous"))
    if isinstance(principal, Principal):
        actor, kind = principal.username, principal.kind
        extra.setdefault("key_id", principal.key_id)
    result = "ok" if status < 400 else ("refused" if status < 500 else "failed")
    client = scope.get("client")
    return AuditEntry(
        actor=str(actor or "anonymous"),
        actor_kind=kind,
        action=f"{method} {route}",
        target=str(scope.get("path", "")),
        source=str(client[0]) if client else "",
        result=result,
        detail={"status": status, "request_id": request_id, **extra},
    )


def _route(scope: Scope) -> str:
    """The matched route's template (``/api/v1/orders/{order_id}``), else ``unmatched``."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1").strip())
    return None
