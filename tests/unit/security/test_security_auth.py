"""The grants and per-request checks against a real database (SQLite file): password logins,
refresh token rotation and reuse detection, API key scope, expiry and revocation, the
client-credentials grant, and users disabled or demoted while their credentials live."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import update

from neural_trader.errors import AuthError
from neural_trader.security import Accounts, AuthConfig, Authenticator, GrantError, Passwords
from neural_trader.storage import Store
from neural_trader.storage.tables import RefreshTokenRow, UserRow

PASSWORD = "correct horse battery"
FAST = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'nt.db'}")
    yield s
    s.close()


@pytest.fixture
def accounts(store: Store) -> Accounts:
    acc = Accounts(store, FAST)
    acc.create_user("alice", PASSWORD, "trader")
    acc.create_user("vera", PASSWORD + "!", "viewer")
    return acc


@pytest.fixture
def auth(store: Store, accounts: Accounts) -> Authenticator:
    return Authenticator(store, AuthConfig(status_ttl_seconds=0), FAST)


def test_password_grant_issues_tokens_that_authenticate(auth: Authenticator) -> None:
    grant = auth.password_grant("alice", PASSWORD)
    assert grant.refresh_token is not None and grant.refresh_token.startswith("ntr_")
    who = auth.bearer(grant.access_token)
    assert who.username == "alice" and who.can("orders:write") and not who.can("risk:admin")
    narrow = auth.password_grant("alice", PASSWORD, scope="orders:read")
    assert auth.bearer(narrow.access_token).permissions == {"orders:read"}
    with pytest.raises(GrantError) as refused:
        auth.password_grant("alice", PASSWORD, scope="risk:admin")
    assert refused.value.error == "invalid_scope"


@pytest.mark.parametrize(
    ("user", "password"), [("alice", "wrong password!!"), ("nobody", PASSWORD)]
)
def test_wrong_credentials_get_the_same_answer(
    auth: Authenticator, user: str, password: str
) -> None:
    with pytest.raises(GrantError, match="wrong user name or password"):
        auth.password_grant(user, password)


def test_the_stored_hash_is_argon2_and_upgraded_on_login(store: Store, accounts: Accounts) -> None:
    strong = Authenticator(store, passwords=Passwords(PasswordHasher()))
    before = accounts.rows.get_user("alice")
    assert before is not None and "m=1024" in before.password_hash
    strong.password_grant("alice", PASSWORD)
    after = accounts.rows.get_user("alice")
    assert after is not None and "m=65536" in after.password_hash


def test_refresh_rotates_and_a_reused_token_revokes_the_family(auth: Authenticator) -> None:
    first = auth.password_grant("alice", PASSWORD)
    assert first.refresh_token
    second = auth.refresh_grant(first.refresh_token)
    assert second.refresh_token and second.refresh_token != first.refresh_token
    assert auth.bearer(second.access_token).via == "refresh_token"
    with pytest.raises(GrantError, match="already used"):
        auth.refresh_grant(first.refresh_token)  # replayed: someone else has a copy
    with pytest.raises(GrantError, match="revoked"):
        auth.refresh_grant(second.refresh_token)  # the whole family died with it
    other = auth.password_grant("alice", PASSWORD)  # a separate login is unaffected
    assert other.refresh_token and auth.refresh_grant(other.refresh_token).access_token


def test_an_expired_or_forged_refresh_token_is_refused(auth: Authenticator, store: Store) -> None:
    grant = auth.password_grant("alice", PASSWORD)
    assert grant.refresh_token
    forged = grant.refresh_token[:-3] + (
        "abc" if not grant.refresh_token.endswith("abc") else "xyz"
    )
    with pytest.raises(GrantError, match="unknown"):
        auth.refresh_grant(forged)
    with store.engine.begin() as conn:
        conn.execute(update(RefreshTokenRow).values(expires_at=time.time_ns() - 1))
    with pytest.raises(GrantError, match="expired"):
        auth.refresh_grant(grant.refresh_token)


def test_api_keys_are_scoped_expiring_and_revocable(
    auth: Authenticator, accounts: Accounts
) -> None:
    made = accounts.create_key("alice", "reporting", ["orders:read", "portfolio:read"])
    stored = accounts.rows.get_key(made.record.id)
    assert stored is not None and made.token.split(".")[1] not in stored[0].secret_hash
    who = auth.bearer(made.token)
    assert who.permissions == {"orders:read", "portfolio:read"} and who.key_id == made.record.id
    with pytest.raises(AuthError, match="does not grant risk:admin"):
        accounts.create_key("alice", "too much", ["risk:admin"])
    short = accounts.create_key("alice", "short", None, expires_in_days=1e-9)
    time.sleep(0.01)
    with pytest.raises(GrantError, match="expired"):
        auth.api_key(short.token)
    accounts.revoke_key(made.record.id)
    with pytest.raises(GrantError, match="revoked"):
        auth.bearer(made.token)
    with pytest.raises(GrantError, match="unknown"):
        auth.api_key(made.token[:-2] + "zz")


def test_client_credentials_tokens_carry_the_key_scopes_and_die_with_it(
    auth: Authenticator, accounts: Accounts
) -> None:
    made = accounts.create_key("alice", "bot", ["orders:read", "orders:write"])
    grant = auth.client_credentials_grant(made.record.id, made.token)
    assert grant.refresh_token is None  # RFC 6749 4.4.3
    who = auth.bearer(grant.access_token)
    assert who.permissions == {"orders:read", "orders:write"} and who.via == "client_credentials"
    with pytest.raises(GrantError) as wrong:
        auth.client_credentials_grant("ntk_0000000000000000", made.token)
    assert wrong.value.error == "invalid_client"
    accounts.revoke_key(made.record.id)
    with pytest.raises(AuthError, match="revoked"):
        auth.bearer(grant.access_token)


def test_disabling_a_user_stops_tokens_keys_and_refreshes(
    auth: Authenticator, accounts: Accounts
) -> None:
    grant = auth.password_grant("alice", PASSWORD)
    key = accounts.create_key("alice", "bot")
    accounts.disable_user("alice")
    with pytest.raises(AuthError, match="disabled"):
        auth.bearer(grant.access_token)
    with pytest.raises(GrantError):
        auth.bearer(key.token)
    assert grant.refresh_token
    with pytest.raises(GrantError):
        auth.refresh_grant(grant.refresh_token)
    with pytest.raises(GrantError, match="disabled"):
        auth.password_grant("alice", PASSWORD)


def test_demoting_a_user_narrows_its_live_token(auth: Authenticator, store: Store) -> None:
    grant = auth.password_grant("alice", PASSWORD)
    assert auth.bearer(grant.access_token).can("orders:write")
    with store.engine.begin() as conn:
        conn.execute(update(UserRow).where(UserRow.username == "alice").values(role="viewer"))
    assert not auth.bearer(grant.access_token).can("orders:write")


def test_user_names_and_duplicates_are_checked(accounts: Accounts) -> None:
    with pytest.raises(AuthError, match="already exists"):
        accounts.create_user("alice", PASSWORD, "viewer")
    with pytest.raises(AuthError, match="user name"):
        accounts.create_user("a b", PASSWORD, "viewer")
    with pytest.raises(AuthError, match="unknown role"):
        accounts.create_user("carol", PASSWORD, "superuser")
