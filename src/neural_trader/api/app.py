"""The FastAPI app factory: :func:`create_app` builds the API on the NeuralTrader facade.

Everything is built when the app is made (so a bad database URL fails before the server
binds a port); the lifespan starts the paper session's replay and, on shutdown, stops taking
jobs, says goodbye to WebSocket clients, lets the session checkpoint and closes the database.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

import structlog
from argon2 import PasswordHasher
from fastapi import FastAPI, Path
from fastapi.middleware.cors import CORSMiddleware
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from neural_trader import __version__
from neural_trader.api import problems
from neural_trader.api.context import ApiContext
from neural_trader.api.fanout import redis_fanout
from neural_trader.api.hub import Backend, Hub
from neural_trader.api.jobs import BacktestJobs
from neural_trader.api.logs import configure_logging, secrets_of
from neural_trader.api.metrics import ApiMetrics, watch_loop_lag
from neural_trader.api.middleware import BodyLimit, RequestObserver
from neural_trader.api.options import ApiOptions
from neural_trader.api.orders_service import OrderService
from neural_trader.api.ratelimit import AddressLimit, RateLimiter
from neural_trader.api.routers import (
    admin,
    auth,
    backtests,
    brokers,
    health,
    models,
    orders,
    portfolio,
    risk,
    strategies,
)
from neural_trader.api.routers.common import NOT_FOUND
from neural_trader.api.shared_limits import RedisBuckets
from neural_trader.api.tracing import TRACER_NAME, ServerSpans, tracer_provider
from neural_trader.api.ws import router as ws_router
from neural_trader.config import Settings
from neural_trader.errors import StorageError
from neural_trader.security import Authenticator, Passwords
from neural_trader.storage import AuditLog
from neural_trader.trader import NeuralTrader

log = structlog.get_logger("neural_trader.api")


def build_context(
    settings: Settings,
    options: ApiOptions,
    hasher: PasswordHasher | None = None,
    backend: Backend | None = None,
) -> ApiContext:
    trader = NeuralTrader(settings)
    store = trader.store  # opens and migrates the database now
    metrics = ApiMetrics()
    backend = backend or redis_fanout(settings, options.account)  # None: one process
    hub = Hub(backend, options.ws_queue_size, options.ws_replay_size, metrics)
    audit = AuditLog(store)
    ctx = ApiContext(
        trader=trader,
        options=options,
        auth=Authenticator(store, options.auth_config(), Passwords(hasher)),
        audit=audit,
        hub=hub,
        metrics=metrics,
        jobs=BacktestJobs(trader, hub, metrics, options.job_workers),
    )
    if options.trading:
        ctx.orders = OrderService(trader, options.account, hub, metrics, audit)
        audit.write_with(ctx.orders.session.recorder)  # one commit per step for both
    return ctx


def create_app(
    settings: Settings,
    options: ApiOptions | None = None,
    *,
    hasher: PasswordHasher | None = None,
    backend: Backend | None = None,
    span_exporter: SpanExporter | None = None,
) -> FastAPI:
    """The API for ``settings``; ``options`` default to the ``[api]`` section's knobs,
    ``hasher`` to argon2-cffi's defaults, ``backend`` to the in-process WebSocket fan-out;
    ``span_exporter`` receives the traces (else ``[telemetry]`` says where they go)."""
    configure_logging(settings.log.level, settings.log.json_, secrets_of(settings))
    opts = options or ApiOptions.from_settings(settings)
    ctx = build_context(settings, opts, hasher, backend)
    provider = tracer_provider(settings.telemetry, span_exporter)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ctx.hub.start()
        stop = asyncio.Event()
        session = None
        if ctx.orders is not None:
            session = asyncio.get_running_loop().create_task(ctx.orders.run(stop))
        lag = asyncio.get_running_loop().create_task(watch_loop_lag(ctx.metrics, stop))
        try:
            yield
        finally:
            lag.cancel()
            await _shutdown(ctx, stop, session)
            if shared is not None:
                await shared.close()
            app.state.ctx = None
            if provider is not None:
                provider.shutdown()  # the last spans are exported

    app = FastAPI(
        title="neural-trader",
        version=__version__,
        summary="Paper trading, backtests, risk and models on one kernel.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
        # Our own spans (api/tracing.py) and metrics; FastAPI's built-in telemetry would look
        # up the OpenTelemetry providers in the environment on every request (a tenth of
        # an order's time under load).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.ctx = ctx
    problems.install(app)
    for module in (auth, portfolio, orders, backtests, risk, strategies, models, brokers, admin):
        app.include_router(module.router)
    app.include_router(health.router)
    app.include_router(ws_router)
    app.add_api_route(
        "/problems/{slug}", _problem_type, methods=["GET"], tags=["health"], responses=NOT_FOUND
    )
    if opts.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=opts.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
        )
    app.add_middleware(BodyLimit, max_bytes=opts.max_body_bytes)
    shared = None if settings.redis.url is None else RedisBuckets(settings.redis.url)
    limiter = RateLimiter(
        settings.api.rate_limit_per_s, settings.api.rate_limit_burst, shared=shared
    )
    app.state.rate_limiter = limiter  # the auth dependency spends a token per caller
    if limiter.enabled:
        app.add_middleware(AddressLimit, limiter=limiter, metrics=ctx.metrics)
    app.add_middleware(
        RequestObserver,
        metrics=ctx.metrics,
        audit=lambda: None if app.state.ctx is None else app.state.ctx.audit,
    )
    _observe(app, ctx, provider)
    return app


def _observe(app: FastAPI, ctx: ApiContext, provider: TracerProvider | None) -> None:
    """Gauges read at each scrape, and the server spans (outermost, so the request's log
    line is written inside its span and carries the trace id)."""
    metrics = ctx.metrics
    metrics.job_queue.set_function(lambda: float(ctx.jobs.pending))
    service = ctx.orders
    if service is not None:
        metrics.portfolio_value.set_function(service.equity)
        venue = service.session.venue.name
        metrics.broker_up.labels(venue).set_function(lambda: 1.0 if service.running else 0.0)
    app.state.tracer = None if provider is None else provider.get_tracer(TRACER_NAME)
    if app.state.tracer is not None:
        app.add_middleware(ServerSpans, tracer=app.state.tracer)


async def _problem_type(slug: Annotated[str, Path(max_length=64)]) -> dict[str, object]:
    """What a problem ``type`` means (the URIs in error responses resolve here)."""
    kind = problems.TYPES.get(slug)
    if kind is None:
        raise problems.Problem("not-found", f"no problem type {slug!r}")
    return {"type": kind.uri, "title": kind.title, "status": kind.status,
            "description": kind.description}  # fmt: skip


async def _shutdown(
    ctx: ApiContext, stop: asyncio.Event, session: asyncio.Task[None] | None
) -> None:
    """Stop in the order that loses nothing: no new jobs, WebSockets told, the session
    stops and checkpoints, the queued audit entries are stored, the facade closes the
    database."""
    stop.set()
    await asyncio.to_thread(ctx.jobs.close)
    await ctx.hub.close()
    if session is not None:
        try:
            await session
        except Exception as exc:
            log.error("the paper session had failed", error=str(exc))
    try:
        ctx.audit.flush()
    except StorageError as exc:
        log.error("audit entries lost at shutdown", error=str(exc))
    await ctx.trader.shutdown()
