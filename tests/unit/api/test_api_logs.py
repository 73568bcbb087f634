"""The API's logs: one JSON line per request with its id, route template, status, latency and
principal; the console format and the level from ``[log]``; and no credential in any line,
whatever the request carried or a caller handed the logger."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from apitest_support import FAST_HASHER, PASSWORDS, api_settings, login, make_users
from fastapi.testclient import TestClient
from pydantic import SecretStr

from neural_trader.api import create_app
from neural_trader.api.logs import REDACTED, configure_logging, secrets_of
from neural_trader.security import Accounts
from neural_trader.storage import Store

JWT_SECRET = "a-signing-secret-of-at-least-32-characters"
BROKER_SECRET = "broker-secret-ZZ9-plural-z-alpha"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str, Any]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('logs') / 'nt.db'}"
    make_users(url)
    settings = api_settings(
        url,
        **{
            "log.json": True,
            "log.level": "DEBUG",
            "api.trading": False,
            "api.jwt_secret": JWT_SECRET,
            "brokers.alpaca.api_secret": BROKER_SECRET,
        },
    )
    app = create_app(settings, hasher=FAST_HASHER)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, url, settings


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_each_request_is_one_json_line_with_id_route_status_and_principal(
    app_url: tuple[TestClient, str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    client, _, _ = app_url
    token = login(client, "viewer")
    capsys.readouterr()
    r = client.get("/api/v1/orders/no-such-order", headers={
        "Authorization": f"Bearer {token}", "X-Request-ID": "req-0123456789"})  # fmt: skip
    assert r.status_code == 404 and r.headers["x-request-id"] == "req-0123456789"
    bad_id = client.get("/health/live", headers={"X-Request-ID": "no spaces allowed!"})
    generated = bad_id.headers["x-request-id"]
    assert generated != "no spaces allowed!" and len(generated) == 32
    lines = [e for e in json_lines(capsys.readouterr().err) if e["event"] == "request"]
    ours = next(e for e in lines if e["request_id"] == "req-0123456789")
    assert ours["method"] == "GET" and ours["route"] == "/api/v1/orders/{order_id}"
    assert ours["status"] == 404 and ours["level"] == "info" and ours["ms"] >= 0
    assert ours["user"] == "viewer-user" and ours["via"] == "password"
    assert isinstance(ours["user_id"], int) and ours["key_id"] is None
    assert "timestamp" in ours and "trace_id" not in ours  # tracing is off here
    anonymous = next(e for e in lines if e["request_id"] == generated)
    assert anonymous["route"] == "/health/live" and "user" not in anonymous


def test_no_secret_a_request_carries_reaches_the_log(
    app_url: tuple[TestClient, str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    client, url, _ = app_url
    capsys.readouterr()
    password = PASSWORDS["trader"]
    r = client.post("/api/v1/auth/token", data={
        "grant_type": "password", "username": "trader-user", "password": password})  # fmt: skip
    token, refresh = r.json()["access_token"], r.json()["refresh_token"]
    store = Store(url)
    key = Accounts(store).create_key("trader-user", "logs")
    store.close()
    key_id, key_secret = key.record.id, key.token.split(".")[1]
    basic = base64.b64encode(f"{key_id}:{key.token}".encode()).decode()
    client.post("/api/v1/auth/token", data={"grant_type": "client_credentials"},
                headers={"Authorization": f"Basic {basic}"})  # fmt: skip
    client.get(f"/api/v1/orders?token={token}&password={password}",
               headers={"X-API-Key": key.token})  # fmt: skip
    client.get("/api/v1/orders", headers={"Authorization": f"Bearer {token[:-2]}xx"})
    client.post(
        "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh}
    )
    client.post("/api/v1/auth/token", data={"grant_type": "password", "username": "trader-user",
                                            "password": password + "!"})  # fmt: skip
    logged = capsys.readouterr()
    text = logged.out + logged.err
    requests = [e for e in json_lines(logged.err) if e["event"] == "request"]
    assert len(requests) >= 6 and any(e.get("key_id") == key_id for e in requests)
    for secret in (password, token, token[:-2], refresh, key.token, key_secret, basic):
        assert secret not in text


def test_the_redactor_blanks_secrets_handed_to_the_logger(
    app_url: tuple[TestClient, str, Any],
) -> None:
    _, _, settings = app_url
    out = io.StringIO()
    configure_logging("INFO", True, secrets_of(settings), stream=out)
    try:
        log = structlog.get_logger("test")
        log.info("headers", headers={"Authorization": "Bearer abc.def.ghi", "Accept": "*/*"})
        log.info("settings", broker=settings.brokers.venues["alpaca"], jwt=settings.api.jwt_secret)
        log.info("calling https://user:hunter2pass@db.example/x?password=p4ss&secret=s3cr&n=1")
        log.info("loaded", detail=f"signing with {JWT_SECRET}", nested=[{"api_key": "k-123456"}])
        log.info("wrapped", value=SecretStr("plain-secret-value"), client_secret="cs-99999")
        try:
            raise ValueError(f"venue said no to api_secret={BROKER_SECRET}")
        except ValueError:
            log.exception("venue failed")
    finally:
        configure_logging(settings.log.level, settings.log.json_, secrets_of(settings))
    lines = json_lines(out.getvalue())
    assert len(lines) == 6
    text = out.getvalue()
    for secret in ("abc.def.ghi", "hunter2pass", "p4ss", "s3cr", JWT_SECRET, BROKER_SECRET,
                   "k-123456", "plain-secret-value", "cs-99999"):  # fmt: skip
        assert secret not in text, secret
    assert lines[0]["headers"] == {"Authorization": REDACTED, "Accept": "*/*"}
    assert lines[1]["broker"]["api_secret"] == REDACTED and lines[1]["jwt"] == REDACTED
    assert lines[2]["event"].endswith(f"?password={REDACTED}&secret={REDACTED}&n=1")
    assert f"user:{REDACTED}@db.example" in lines[2]["event"]
    assert lines[5]["level"] == "error" and "ValueError" in lines[5]["exception"]


def test_console_format_and_level_come_from_the_log_section(
    app_url: tuple[TestClient, str, Any],
) -> None:
    client, _, settings = app_url
    out = io.StringIO()
    try:
        configure_logging("INFO", False, stream=out)
        client.get("/health/live", headers={"X-Request-ID": "console-line-1"})
        configure_logging("WARNING", True, stream=out)
        client.get("/health/live", headers={"X-Request-ID": "filtered-out-1"})
    finally:
        configure_logging(settings.log.level, settings.log.json_, secrets_of(settings))
    text = out.getvalue()
    line = next(ln for ln in text.splitlines() if "console-line-1" in ln)
    assert not line.startswith("{") and "request" in line and "route=/health/live" in line
    assert "filtered-out-1" not in text


def test_standard_library_loggers_get_the_same_format_and_redaction(
    app_url: tuple[TestClient, str, Any],
) -> None:
    _, _, settings = app_url
    out = io.StringIO()
    configure_logging("INFO", True, secrets_of(settings), stream=out)
    try:
        lib = logging.getLogger("some_library.client")
        lib.info("connect postgresql://nt:pg-pass-123@db/nt with %s", f"jwt={JWT_SECRET}")
        lib.debug("below the level")
        try:
            raise RuntimeError("Authorization: Bearer eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl")
        except RuntimeError:
            lib.exception("request failed")
    finally:
        configure_logging(settings.log.level, settings.log.json_, secrets_of(settings))
    lines = json_lines(out.getvalue())
    assert [(x["level"], x["event"][:7]) for x in lines] == [
        ("info", "connect"), ("error", "request")]  # fmt: skip
    for secret in ("pg-pass-123", JWT_SECRET, "eyJzdWIiOi", "c2lnbmF0dXJl"):
        assert secret not in out.getvalue()
    assert "RuntimeError" in lines[1]["exception"] and "timestamp" in lines[0]
    ours = [h for h in logging.getLogger().handlers if h.get_name() == "neural_trader.logs"]
    assert len(ours) == 1  # configuring again replaced the handler, it did not add one


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_unset_json_means_json_lines_unless_the_log_is_a_terminal(
    app_url: tuple[TestClient, str, Any],
) -> None:
    _, _, settings = app_url
    piped, terminal = io.StringIO(), _Terminal()
    try:
        for stream in (piped, terminal):
            configure_logging("INFO", None, stream=stream)
            structlog.get_logger("t").info("order placed", big=2**70, ids={1: "a"})
    finally:
        configure_logging(settings.log.level, settings.log.json_, secrets_of(settings))
    (line,) = json_lines(piped.getvalue())  # integers past 64 bits and non-text keys too
    assert (line["event"], line["big"], line["ids"]) == ("order placed", 2**70, {"1": "a"})
    shown = terminal.getvalue()
    assert not shown.startswith("{") and "order placed" in shown and "big=" in shown
