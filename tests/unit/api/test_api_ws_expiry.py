"""A WebSocket lives no longer than the credential it was opened with: when the access token
expires, the server says so and closes the socket with 4401."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from apitest_support import FAST_HASHER, api_settings, login, make_users
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from neural_trader.api import ApiOptions, create_app


def test_the_socket_closes_when_its_token_expires(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nt.db'}"
    make_users(url)
    settings = api_settings(url, **{"api.access_token_minutes": 0.1, "api.trading": False})
    options = ApiOptions.from_settings(settings, ws_heartbeat_seconds=0.2)
    with TestClient(create_app(settings, options, hasher=FAST_HASHER)) as client:
        token = login(client, "viewer")
        opened = time.monotonic()
        with client.websocket_connect(f"/ws?token={token}") as ws:
            assert ws.receive_json()["type"] == "welcome"
            while True:  # heartbeats until the token's 6 s are up (the JWT's exp is
                # whole seconds, and a loaded CI machine may take a second to connect)
                message = ws.receive_json()
                if message["type"] != "heartbeat":
                    break
                assert time.monotonic() - opened < 30, "the socket outlived its token"
            assert message == {
                "type": "error",
                "error": "unauthorized",
                "detail": "the credential expired",
            }
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4401
        r = client.get("/api/v1/portfolio", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401  # the same token is refused over HTTP too
