"""``/api/v1/brokers``: every venue the settings or the registry know, whether it is enabled,
whether an adapter exists, its capabilities and whether its credentials are set (never their
values) — the rows of ``neural-trader brokers list`` — and the venue the paper session trades on.

Nothing here connects to a venue: a health check that reaches out is ``brokers check``'s job.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Security
from starlette.concurrency import run_in_threadpool

from neural_trader.api.auth import authorize
from neural_trader.api.context import context_of
from neural_trader.api.encoding import jsonable
from neural_trader.api.routers.common import API_PREFIX, PROTECTED
from neural_trader.security import Principal

router = APIRouter(prefix=f"{API_PREFIX}/brokers", tags=["brokers"], responses=PROTECTED)
Reader = Annotated[Principal, Security(authorize, scopes=["brokers:read"])]


@router.get("")
async def list_(request: Request, _: Reader) -> dict[str, Any]:
    """The venues (in a worker thread: the first call imports the adapters' SDKs)."""
    # The rows ``brokers list`` prints, so the API and the CLI cannot drift apart.
    from neural_trader.brokers.registry import venue_rows

    ctx = context_of(request)
    settings = ctx.trader.settings
    rows = await run_in_threadpool(venue_rows, settings)
    service = ctx.orders
    session = (
        None
        if service is None
        else {"venue": service.session.venue.name, "running": service.running}
    )
    return {
        "brokers": jsonable(rows),
        "routes": jsonable(settings.brokers.routes),
        "session": session,
    }
