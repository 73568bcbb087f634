"""Schemathesis against the published ``/openapi.json`` of a real uvicorn server (lifespan on,
the paper session replaying): generated requests to every operation, as an admin (every
permission), must get no 5xx, and every reply must conform to the schema (status codes,
content types, headers, bodies). Backtest jobs are generated too, so examples are few.

Schemathesis' positive-data check expects a schema-valid request never to be a 422; ours
answers 422 for a well-formed request a rule refuses (an untraded symbol, a price a limit
order needs) with its own problem type. So that check is replaced by a sharper one: a
schema-valid request must never be refused by *request validation* (``/problems/validation``),
which is what a schema that disagrees with the code it publishes would cause."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "api"))
from apitest_support import FAST_HASHER, PASSWORDS, api_settings, make_users

from neural_trader.api import ApiOptions, create_app


@schemathesis.check
def validation_agrees_with_the_schema(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    if response.status_code == 422:
        body = response.json()
        assert body["type"] != "/problems/validation", (
            f"the published schema accepts what validation refuses: {body['detail']}"
        )
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("contract") / "nt.db"
    url = f"sqlite:///{db}"
    make_users(url)
    # Generated train requests start real jobs: their artifacts go to the test's directory.
    s = api_settings(url, **{"neural.models_dir": str(tmp_path_factory.mktemp("models"))})
    app = create_app(s, ApiOptions.from_settings(s), hasher=FAST_HASHER)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


@pytest.fixture(scope="module")
def admin(base_url: str) -> dict[str, str]:
    form = {"grant_type": "password", "username": "admin-user", "password": PASSWORDS["admin"]}
    r = requests.post(f"{base_url}/api/v1/auth/token", data=form, timeout=10)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_no_server_error_and_every_reply_conforms(base_url: str, admin: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", timeout=10)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    session = requests.Session()
    checked: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=base_url,
                session=session,
                headers=admin,
                timeout=30,
                excluded_checks=[positive_data_acceptance],
                additional_checks=[validation_agrees_with_the_schema],
            )

        run()
        checked.append(operation.label)
    assert len(checked) == len(operations)
