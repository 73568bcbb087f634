"""``/api/v1/users``, ``/api/v1/keys`` and ``/api/v1/audit``: for admins, who may use the API
and what happened. Users and keys are made with the CLI (``neural-trader users|keys``);
here they are only listed, never with a secret or a hash."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Security
from starlette.concurrency import run_in_threadpool

from neural_trader.api.auth import authorize
from neural_trader.api.context import context_of
from neural_trader.api.encoding import iso_ns
from neural_trader.api.routers.common import API_PREFIX, MAX_SEQ, PROTECTED
from neural_trader.security import Principal

router = APIRouter(prefix=API_PREFIX, tags=["admin"], responses=PROTECTED)
UsersAdmin = Annotated[Principal, Security(authorize, scopes=["users:admin"])]
AuditReader = Annotated[Principal, Security(authorize, scopes=["audit:read"])]


@router.get("/users")
async def users(request: Request, _: UsersAdmin) -> dict[str, Any]:
    rows = context_of(request).auth.rows
    found = await run_in_threadpool(rows.list_users)
    return {"users": [{**u.public(), "created_at": iso_ns(u.created_at)} for u in found]}


@router.get("/keys")
async def keys(request: Request, _: UsersAdmin) -> dict[str, Any]:
    rows = context_of(request).auth.rows
    found = await run_in_threadpool(rows.list_keys, None)
    return {"keys": [k.public() for k in found]}


@router.get("/audit")
async def audit(
    request: Request,
    _: AuditReader,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Audit entries in order, ``limit`` at a time after sequence number ``after``."""
    log = context_of(request).audit
    entries = await run_in_threadpool(log.entries, after, limit)
    return {
        "entries": [{**e.as_dict(), "time": iso_ns(e.ts)} for e in entries],
        "next_after": entries[-1].seq if len(entries) == limit else None,
    }


@router.get("/audit/verify")
async def verify(request: Request, _: AuditReader) -> dict[str, Any]:
    """Walk the hash chain: ``ok``, or where it breaks and how."""
    result = await run_in_threadpool(context_of(request).audit.verify)
    return result.as_dict()
