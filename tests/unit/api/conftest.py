"""A running API on a fresh SQLite database: a viewer, a trader and an admin (created the way
the CLI does), the paper session replaying SPX from 2005 with no strategy of its own, so the
only orders are the tests'."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apitest_support import FAST_HASHER, ROLES, Api, api_settings, login, make_users
from fastapi.testclient import TestClient

from neural_trader.api import ApiOptions, create_app


@pytest.fixture(scope="module")
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A test module may set ``API_SETTINGS`` (dotted overrides) for its own server."""
    db = tmp_path_factory.mktemp("api") / "nt.db"
    url = f"sqlite:///{db}"
    make_users(url)
    settings = api_settings(url, **getattr(request.module, "API_SETTINGS", {}))
    # Heartbeats every half second: a test waiting on the socket is never blocked for long.
    options = ApiOptions.from_settings(settings, ws_heartbeat_seconds=0.5)
    app = create_app(settings, options, hasher=FAST_HASHER)
    with TestClient(app, raise_server_exceptions=False) as client:
        tokens = {role: login(client, role) for role in ROLES}
        ready = Api(client, url, tokens)
        ready.wait_for_data()
        yield ready
