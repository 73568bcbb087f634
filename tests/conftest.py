"""Shared fixtures: the real PostgreSQL on loopback, or a clear skip (a failure in CI)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

PG_CANDIDATES = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg://root@127.0.0.1:5432/test",
)


def _unavailable(reason: str) -> None:
    """Skip, unless NT_REQUIRE_SERVICES=1 says the services must be there (CI): then fail."""
    if os.environ.get("NT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"NT_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """The URL of the loopback server's ``test`` database (user postgres, else root)."""
    errors = []
    for url in PG_CANDIDATES:
        engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(text("select 1"))
            return url
        except Exception as exc:  # any failure to connect means: not available here
            user = url.split("//", 1)[1].split("@", 1)[0]
            errors.append(f"user {user}: {str(exc).strip().splitlines()[0]}")
        finally:
            engine.dispose()
    _unavailable(f"PostgreSQL not reachable at 127.0.0.1:5432: {'; '.join(errors)}")
    raise AssertionError("unreachable")


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A URL whose ``search_path`` is a fresh schema of its own, dropped after the test: tests
    run repeatedly and in parallel (several pytest processes) without seeing each other."""
    schema = f"nt_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(pg_server_url, poolclass=NullPool)
    with admin.begin() as conn:
        conn.execute(text(f'create schema "{schema}"'))
    try:
        yield f"{pg_server_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            # A connection a test left open in the schema would otherwise hang the run here.
            conn.execute(text("set local lock_timeout = '30s'"))
            conn.execute(text(f'drop schema "{schema}" cascade'))
        admin.dispose()


REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The loopback Redis, or a clear skip (a failure with NT_REQUIRE_SERVICES=1)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        _unavailable(f"Redis not reachable at {REDIS_URL}: {exc}")
    finally:
        client.close()
    return REDIS_URL
