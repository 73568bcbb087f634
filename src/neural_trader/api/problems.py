"""RFC 9457 problem details: every error the API answers is ``application/problem+json``
with a stable ``type`` per kind of error, a ``title``, the HTTP ``status`` and a ``detail``
for people; never a stack trace. ``/problems/{slug}`` describes each type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from neural_trader.errors import NeuralTraderError
from neural_trader.security import GrantError

MEDIA_TYPE = "application/problem+json"
log = structlog.get_logger("neural_trader.api")


@dataclass(frozen=True)
class ProblemType:
    slug: str
    title: str
    status: int
    description: str

    @property
    def uri(self) -> str:
        return f"/problems/{self.slug}"


def _types(*items: tuple[str, str, int, str]) -> dict[str, ProblemType]:
    return {slug: ProblemType(slug, title, status, text) for slug, title, status, text in items}


TYPES = _types(
    ("malformed-request", "Malformed request", 400, "The body is not valid JSON or form data."),
    ("validation", "Invalid request", 422, "A field is missing, unknown or of the wrong type."),
    ("unauthorized", "Not authenticated", 401, "No valid token or API key was presented."),
    ("forbidden", "Permission denied", 403, "The credential lacks the permission needed."),
    ("not-found", "Not found", 404, "No such resource."),
    ("method-not-allowed", "Method not allowed", 405, "The resource does not take this method."),
    ("conflict", "Conflict", 409, "The resource is not in a state that allows this."),
    ("payload-too-large", "Request body too large", 413, "The body exceeds the size limit."),
    ("unsupported-media-type", "Unsupported media type", 415, "Send JSON."),
    ("rate-limited", "Too many requests", 429, "Rate limit spent; retry after `Retry-After` s."),
    ("oauth", "Token request refused", 400, "An OAuth2 grant was refused (see `error`)."),
    ("order-denied", "Order denied by the risk gate", 422, "A pre-trade risk rule said no."),
    ("unavailable", "Service unavailable", 503, "A component this needs is not running."),
    ("internal", "Internal error", 500, "An unexpected failure; the server log has the detail."),
    ("http", "HTTP error", 400, "An HTTP-level error."),
    # One per NeuralTraderError kind:
    ("config", "Configuration error", 500, "The server's configuration is invalid."),
    ("data", "Data error", 422, "Market data is missing or invalid for this request."),
    ("strategy", "Strategy error", 422, "Unknown strategy or parameters it cannot accept."),
    ("risk", "Risk error", 422, "A risk computation cannot be done on these inputs."),
    ("broker", "Broker error", 502, "A venue refused or failed."),
    ("storage", "Storage error", 503, "The database could not read or write."),
    ("neural", "Model error", 422, "A model is unknown, untrained or was fed the wrong shape."),
    ("memory", "Memory error", 500, "The learning memory failed."),
    ("service", "Service state error", 409, "A service is in a state that does not allow this."),
    ("order", "Order error", 422, "The order is malformed or asks for an illegal transition."),
    ("auth", "Credential refused", 401, "A credential is unknown, expired, revoked or disabled."),
    ("runtime", "Runtime error", 500, "A failure of the running system."),
)
_BY_STATUS = {
    400: "malformed-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation",
    429: "rate-limited",
    503: "unavailable",
}


class Problem(Exception):  # noqa: N818 - it is the RFC's name for the thing
    """Raise to answer with a problem of ``slug`` (``status`` defaults to the type's)."""

    def __init__(
        self,
        slug: str,
        detail: str,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.type = TYPES[slug]
        self.detail = detail
        self.status = status or self.type.status
        self.headers = headers or {}
        self.extensions = extensions


def problem_response(
    slug: str,
    detail: str,
    status: int | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    kind = TYPES[slug]
    body: dict[str, Any] = {
        "type": kind.uri,
        "title": kind.title,
        "status": status or kind.status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(body, status or kind.status, headers=headers, media_type=MEDIA_TYPE)


def _request_id(request: Request) -> str:
    return str(request.scope.get("nt.request_id", ""))


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(
        exc.type.slug, exc.detail, exc.status, request.url.path, exc.headers,
        request_id=_request_id(request), **exc.extensions,
    )  # fmt: skip


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
        for e in exc.errors()
    ]  # the offending input is left out: it may be a secret
    malformed = any(e["type"] in ("json_invalid", "json_type") for e in errors)
    slug = "malformed-request" if malformed else "validation"
    detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
    return problem_response(
        slug, detail, instance=request.url.path, errors=errors, request_id=_request_id(request)
    )


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    slug = _BY_STATUS.get(exc.status_code, "http")
    headers = dict(exc.headers or {})
    return problem_response(
        slug, str(exc.detail), exc.status_code, request.url.path, headers,
        request_id=_request_id(request),
    )  # fmt: skip


async def _on_grant(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GrantError)
    status = 401 if exc.error == "invalid_client" else 400
    headers = {"WWW-Authenticate": "Basic"} if status == 401 else None
    return problem_response(
        "oauth", exc.message, status, request.url.path, headers,
        error=exc.error, error_description=exc.message, request_id=_request_id(request),
    )  # fmt: skip


async def _on_platform(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NeuralTraderError)
    kind = TYPES.get(exc.kind, TYPES["runtime"])
    if kind.status >= 500:
        log.warning(
            "request failed", kind=exc.kind, error=str(exc), request_id=_request_id(request)
        )
    return problem_response(
        kind.slug, str(exc), instance=request.url.path, request_id=_request_id(request)
    )


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.error(
        "unexpected error", path=request.url.path, request_id=_request_id(request),
        exc_info=exc,
    )  # fmt: skip
    return problem_response(
        "internal",
        "an unexpected error occurred; quote the request id when you report it",
        instance=request.url.path,
        request_id=_request_id(request),
    )


def install(app: FastAPI) -> None:
    """Route every error the app can meet to its problem response."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(GrantError, _on_grant)
    app.add_exception_handler(NeuralTraderError, _on_platform)
    app.add_exception_handler(Exception, _on_unexpected)
