"""Shared fixtures: the real PostgreSQL on loopback, or a clear skip (a failure in CI)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

PG_CANDIDATES = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg://root@127.0.0.1:5432/test",
)


def _unavailable(reason: str) -> None:
    if os.environ.get("NT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"NT_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    errors = []
    for url in PG_CANDIDATES:
        try:
            engine = create_engine(url, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(text("select 1"))
            engine.dispose()
            return url
        except Exception as exc:  # any failure to connect means: not available here
            errors.append(f"{url.split('@')[0].split('//')[1]}: {str(exc).splitlines()[0]}")
    _unavailable(f"PostgreSQL not reachable at 127.0.0.1:5432/test ({'; '.join(errors)})")
    raise AssertionError("unreachable")


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh schema of the real server for one test, dropped afterwards."""
    schema = f"nt_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server_url)
    with admin.begin() as conn:
        conn.execute(text(f'create schema "{schema}"'))
    try:
        yield f"{pg_server_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'drop schema "{schema}" cascade'))
        admin.dispose()
