"""``/ws``: the real-time stream.

Authenticated at connect with ``Authorization: Bearer <token or key>``, ``X-API-Key``, or
``?token=`` (browsers cannot set headers; the access log never prints query strings). Then
JSON messages both ways::

    -> {"op": "subscribe", "channels": ["orders", "fills"], "since": {"orders": 41}}
    <- {"type": "subscribed", "channel": "orders", "seq": 57, "replayed": 16, "complete": true}
    <- {"type": "event", "channel": "fills", "seq": 3, "data": {...}}
    -> {"op": "unsubscribe", "channels": ["fills"]}      -> {"op": "ping"}  <- {"type": "pong"}
    <- {"type": "heartbeat", "ts": ..., "interval": 15}  every ``ws_heartbeat_seconds``

Each channel needs a permission (``orders`` and ``fills``: orders:read, ``portfolio``:
portfolio:read, ``risk``: risk:read, ``jobs``: backtests:read, ``signals``: strategies:read,
``bars:SYMBOL`` and ``quotes:SYMBOL``: market:read);
a channel the caller may not read is refused with an error message, the connection stays.
A bad credential closes the connection with 4401; a slow consumer is closed with 4008.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from neural_trader.api.auth import principal_for
from neural_trader.api.context import ApiContext, context_of
from neural_trader.api.hub import Client, heartbeat
from neural_trader.errors import AuthError

router = APIRouter()
CHANNELS = {
    "orders": "orders:read",
    "fills": "orders:read",
    "portfolio": "portfolio:read",
    "risk": "risk:read",
    "jobs": "backtests:read",
    "signals": "strategies:read",
}
UNAUTHORIZED = 4401
MAX_MESSAGE = 64 * 1024


class _SocketTransport:
    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket

    async def send(self, text: str) -> None:
        await self.websocket.send_text(text)

    async def close(self, code: int, reason: str) -> None:
        await self.websocket.close(code, reason)


def _credential(websocket: WebSocket) -> str | None:
    header = websocket.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return websocket.headers.get("x-api-key") or websocket.query_params.get("token")


def permission_for(ctx: ApiContext, channel: str) -> str | None:
    """The permission ``channel`` needs, or None when there is no such channel."""
    kind, _, symbol = channel.partition(":")
    if kind in ("bars", "quotes") and symbol:
        traded = ctx.orders.symbols if ctx.orders is not None else []
        return "market:read" if symbol in traded else None
    return CHANNELS.get(channel)


@router.websocket("/ws")
async def stream(websocket: WebSocket) -> None:
    ctx = context_of(websocket)
    await websocket.accept()
    credential = _credential(websocket)
    try:
        if not credential:
            raise AuthError("send a bearer token or an API key")
        principal = await principal_for(ctx.auth, credential)
    except AuthError as exc:
        await websocket.send_text(
            json.dumps({"type": "error", "error": "unauthorized", "detail": exc.message})
        )
        await websocket.close(UNAUTHORIZED, "unauthorized")
        return
    hub = ctx.hub
    client = hub.register(_SocketTransport(websocket), principal)
    readable = sorted(c for c, p in CHANNELS.items() if principal.can(p))
    hub.send(client, {"type": "welcome", "user": principal.username, "channels": readable,
                      "heartbeat": ctx.options.ws_heartbeat_seconds})  # fmt: skip
    loop = asyncio.get_running_loop()
    beat = loop.create_task(_heartbeats(ctx, client, ctx.options.ws_heartbeat_seconds))
    expiry = None
    if principal.expires_at is not None:  # the socket lives no longer than its credential
        delay = max(0.0, principal.expires_at - time.time())
        expiry = loop.call_later(
            delay, hub.disconnect, client, UNAUTHORIZED, "unauthorized", "the credential expired"
        )
    try:
        while not client.dropped:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            if text is None:
                hub.send(client, {"type": "error", "error": "bad_message",
                                  "detail": "send JSON text frames"})  # fmt: skip
                continue
            _handle(ctx, client, text)
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client left (RuntimeError: the hub closed the socket under us)
    finally:
        beat.cancel()
        if expiry is not None:
            expiry.cancel()
        hub.unregister(client)


async def _heartbeats(ctx: ApiContext, client: Client, seconds: float) -> None:
    while not client.dropped:
        await asyncio.sleep(seconds)
        ctx.hub.send(client, heartbeat(seconds))


def _handle(ctx: ApiContext, client: Client, text: str) -> None:
    hub = ctx.hub
    try:
        if len(text) > MAX_MESSAGE:
            raise ValueError(f"messages may have at most {MAX_MESSAGE} characters")
        message = json.loads(text)
        if not isinstance(message, dict):
            raise ValueError("a message is a JSON object")
        op = message.get("op")
        if op == "ping":
            hub.send(client, {"type": "pong"})
            return
        if op not in ("subscribe", "unsubscribe"):
            raise ValueError("op must be subscribe, unsubscribe or ping")
        channels = message.get("channels")
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise ValueError("channels must be a list of channel names")
        since = message.get("since", {})
        if not isinstance(since, dict):
            raise ValueError("since maps channel names to the last sequence number seen")
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        hub.send(client, {"type": "error", "error": "bad_message", "detail": str(exc)})
        return
    for channel in channels:
        _one(ctx, client, op, channel, since.get(channel))


def _one(ctx: ApiContext, client: Client, op: str, channel: str, since: Any) -> None:
    hub = ctx.hub
    if op == "unsubscribe":
        hub.unsubscribe(client, channel)
        hub.send(client, {"type": "unsubscribed", "channel": channel})
        return
    needed = permission_for(ctx, channel)
    if needed is None:
        hub.send(client, {"type": "error", "error": "unknown_channel", "channel": channel})
        return
    if not client.principal.can(needed):
        hub.send(client, {"type": "error", "error": "forbidden", "channel": channel,
                          "detail": f"this channel needs {needed}"})  # fmt: skip
        return
    start = since if isinstance(since, int) and not isinstance(since, bool) else None
    hub.subscribe(client, channel, start)
