"""The dependency every protected route declares: who is calling, and do they hold the
permission the route names (``Security(authorize, scopes=["orders:write"])``, which also puts
the permission into the route's OpenAPI security requirement).

A credential comes as ``Authorization: Bearer <access token or API key>`` or as
``X-API-Key: <API key>``. A missing or bad one is 401 with ``WWW-Authenticate``; a good one
without the permission is 403 naming the permission.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer, SecurityScopes
from starlette.concurrency import run_in_threadpool

from neural_trader.api.context import context_of
from neural_trader.api.events import Actor
from neural_trader.api.problems import Problem
from neural_trader.api.ratelimit import limit_principal
from neural_trader.errors import AuthError
from neural_trader.security import PERMISSIONS, Authenticator, Principal
from neural_trader.security.credentials import looks_like_key

TOKEN_URL = "/api/v1/auth/token"
bearer_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, scopes=PERMISSIONS, auto_error=False)
key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)


async def principal_for(auth: Authenticator, credential: str) -> Principal:
    """Check a credential: an access token in the loop (it is a signature check and a cached
    status read), an API key in a worker thread (a database read every time)."""
    if looks_like_key(credential):
        return await run_in_threadpool(auth.api_key, credential)
    return auth.bearer(credential)


async def authorize(
    scopes: SecurityScopes,
    request: Request,
    token: str | None = Depends(bearer_scheme),
    key: str | None = Depends(key_scheme),
) -> Principal:
    credential = key or token
    challenge = {"WWW-Authenticate": f'Bearer scope="{scopes.scope_str}"'}
    if not credential:
        raise Problem("unauthorized", "send a bearer token or an API key", headers=challenge)
    try:
        principal = await principal_for(context_of(request).auth, credential)
    except AuthError as exc:
        raise Problem(
            "unauthorized",
            exc.message,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None
    request.scope["nt.principal"] = principal
    await limit_principal(request, principal)  # 429 once the caller's bucket is empty
    missing = [s for s in scopes.scopes if not principal.can(s)]
    if missing:
        raise Problem(
            "forbidden",
            f"this needs the permission {', '.join(missing)}, which {principal.username} "
            f"({principal.role.value}) does not hold here",
            required=missing,
        )
    return principal


def actor(request: Request, principal: Principal) -> Actor:
    client = request.client
    return Actor(principal.username, principal.kind, client.host if client else "")
