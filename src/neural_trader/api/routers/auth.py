"""``/api/v1/auth``: the OAuth2 token endpoint (password, refresh_token and
client_credentials grants, RFC 6749), token revocation (RFC 7009) and who-am-I."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Security
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from neural_trader.api.auth import authorize
from neural_trader.api.context import context_of
from neural_trader.api.routers.common import API_PREFIX, PROTECTED
from neural_trader.api.schemas import TokenOut
from neural_trader.security import GrantError, Principal, TokenGrant
from neural_trader.security import credentials as creds

router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
FormText = Annotated[str | None, Form(max_length=4096)]


def _basic(request: Request) -> tuple[str, str] | None:
    """Client id and secret from ``Authorization: Basic`` (client_secret_basic)."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise GrantError("malformed Basic credentials", "invalid_client") from None
    client_id, sep, secret = raw.partition(":")
    if not sep:
        raise GrantError("malformed Basic credentials", "invalid_client")
    return client_id, secret


@router.post("/token", response_model=TokenOut, responses=PROTECTED)
async def token(
    request: Request,
    grant_type: Annotated[str, Form(min_length=1, max_length=64)],
    username: FormText = None,
    password: FormText = None,
    scope: Annotated[str, Form(max_length=4096)] = "",
    refresh_token: FormText = None,
    client_id: FormText = None,
    client_secret: FormText = None,
) -> JSONResponse:
    """Exchange credentials for an access token (and, for people, a refresh token)."""
    auth = context_of(request).auth
    audit: dict[str, Any] = {"grant_type": grant_type}
    request.scope["nt.audit"] = audit
    grant: TokenGrant
    if grant_type == "password":
        if not username or password is None:
            raise GrantError("the password grant needs username and password", "invalid_request")
        audit.update(actor=username, actor_kind="user")
        grant = await run_in_threadpool(auth.password_grant, username, password, scope)
    elif grant_type == "refresh_token":
        if not refresh_token:
            raise GrantError("the refresh_token grant needs refresh_token", "invalid_request")
        grant = await run_in_threadpool(auth.refresh_grant, refresh_token, scope)
    elif grant_type == "client_credentials":
        pair = _basic(request) or (client_id, client_secret)
        if not pair[0] or not pair[1]:
            raise GrantError(
                "client_credentials needs client_id and client_secret", "invalid_client"
            )
        audit.update(actor=pair[0], actor_kind="api_key")
        grant = await run_in_threadpool(auth.client_credentials_grant, pair[0], pair[1], scope)
    else:
        raise GrantError(f"unsupported grant_type {grant_type!r}", "unsupported_grant_type")
    return JSONResponse(grant.as_dict(), headers=NO_STORE)


@router.post("/revoke", responses=PROTECTED)
async def revoke(
    request: Request, token: Annotated[str, Form(min_length=1, max_length=4096)]
) -> dict[str, str]:
    """Revoke a refresh token and every token rotated from the same login (RFC 7009: the
    answer is the same whether or not the token was valid)."""
    auth = context_of(request).auth
    parsed = creds.parse(token, creds.REFRESH_PREFIX)
    if parsed is not None:
        row = await run_in_threadpool(auth.rows.get_refresh, parsed[0])
        if row is not None and creds.matches(parsed[1], row.secret_hash):
            await run_in_threadpool(auth.rows.revoke_family, row.family)
    return {"status": "ok"}


@router.get("/me", responses=PROTECTED)
async def me(principal: Annotated[Principal, Security(authorize)]) -> dict[str, Any]:
    """The caller: user, role, the permissions this credential carries, how it signed in."""
    return {
        "user_id": principal.user_id,
        "username": principal.username,
        "role": principal.role.value,
        "permissions": sorted(principal.permissions),
        "via": principal.via,
        "key_id": principal.key_id,
    }
