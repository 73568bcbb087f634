"""Probes and metrics, outside the versioned API and without authentication (they are what a
load balancer, Kubernetes and Prometheus call): ``/health/live`` (the process answers),
``/health/ready`` (each component's status; 503 until all that are needed are up) and
``/metrics`` (Prometheus text format)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from neural_trader.api.context import ApiContext, context_of
from neural_trader.api.metrics import CONTENT_TYPE
from neural_trader.errors import NeuralTraderError
from neural_trader.security import Role

router = APIRouter(tags=["health"])


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


def _components(ctx: ApiContext) -> dict[str, dict[str, Any]]:
    report = ctx.trader.health_check()
    report.pop("trading", None)
    try:
        ctx.auth.signer.issue(0, "health", Role.VIEWER, frozenset(), "health")
        report["auth"] = {"status": "ok"}
    except NeuralTraderError as exc:
        report["auth"] = {"status": "down", "error": str(exc)}
    if ctx.orders is None:
        report["trading"] = {"status": "disabled"}
    elif ctx.orders.running:
        report["trading"] = {"status": "ok", **ctx.orders.status_view()}
    else:
        report["trading"] = {"status": "down", "error": ctx.orders.failure or "not running"}
    # A Redis fan-out outage degrades, not downs: this replica still serves its own clients.
    fanout = ctx.hub.backend.status()
    report["websocket"] = {"status": "ok", "clients": ctx.hub.clients, "fanout": fanout}
    return report


@router.get(
    "/health/ready",
    responses={503: {"description": "A component the server needs is down (same body)."}},
)
async def ready(request: Request) -> JSONResponse:
    ctx = context_of(request)
    components = await run_in_threadpool(_components, ctx)
    ok = all(c["status"] in ("ok", "disabled") for c in components.values())
    body = {"status": "ok" if ok else "unavailable", "components": components}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"description": "Prometheus text exposition format."}},
)
async def metrics(request: Request) -> Response:
    return Response(context_of(request).metrics.render(), media_type=CONTENT_TYPE)
