"""Inputs the published schema allows reach the database only within what it can store:
found by schemathesis as a 500 (an integer past SQLite's 64 bits), now refused at the edge."""

from __future__ import annotations

import pytest
from apitest_support import Api


@pytest.mark.parametrize("path", ["/api/v1/audit", "/api/v1/orders"])
def test_a_cursor_past_64_bits_is_a_422_naming_it(api: Api, path: str) -> None:
    r = api.client.get(path, params={"after": 2**63}, headers=api.headers("admin"))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == "/problems/validation" and "after" in r.json()["detail"]
    largest = api.client.get(path, params={"after": 2**63 - 1}, headers=api.headers("admin"))
    assert largest.status_code == 200


@pytest.mark.parametrize("token", ["", None])
def test_revoke_without_a_token_is_a_422(api: Api, token: str | None) -> None:
    data = {} if token is None else {"token": token}
    r = api.client.post("/api/v1/auth/revoke", data=data, headers=api.headers("viewer"))
    assert r.status_code == 422 and r.json()["type"] == "/problems/validation"
