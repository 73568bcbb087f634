"""Users, API keys, refresh tokens and token-signing keys in the project database.

Only digests of secrets are stored (argon2 for passwords, SHA-256 for the long random API key
and refresh token secrets); the rules about what a credential allows live in
``neural_trader.security``, this module only reads and writes rows, each operation in one
transaction.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from neural_trader.errors import AuthError, StorageError
from neural_trader.storage.store import Store
from neural_trader.storage.tables import (
    ApiKeyRow,
    RefreshTokenRow,
    SigningKeyRow,
    UserRow,
)


@dataclass(frozen=True)
class UserRecord:
    id: int
    username: str
    password_hash: str
    role: str
    disabled: bool
    created_at: int
    updated_at: int

    def public(self) -> dict[str, object]:
        """What may be shown: everything but the password hash."""
        return {
            "id": self.id,
            "username": self.username,
            "role": self.role,
            "disabled": self.disabled,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class KeyRecord:
    id: str
    user_id: int
    username: str
    name: str
    secret_hash: str
    scopes: frozenset[str]
    created_at: int
    expires_at: int | None
    revoked_at: int | None

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "user": self.username,
            "name": self.name,
            "scopes": sorted(self.scopes),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True)
class RefreshRecord:
    id: str
    user_id: int
    family: str
    secret_hash: str
    scopes: frozenset[str]
    expires_at: int
    used_at: int | None
    revoked_at: int | None


def _user(row: UserRow) -> UserRecord:
    return UserRecord(
        row.id, row.username, row.password_hash, row.role, row.disabled, row.created_at,
        row.updated_at,
    )  # fmt: skip


def _scopes(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _key(row: ApiKeyRow, username: str) -> KeyRecord:
    return KeyRecord(
        row.id, row.user_id, username, row.name, row.secret_hash, _scopes(row.scopes),
        row.created_at, row.expires_at, row.revoked_at,
    )  # fmt: skip


def _refresh(row: RefreshTokenRow) -> RefreshRecord:
    return RefreshRecord(
        row.id, row.user_id, row.family, row.secret_hash, _scopes(row.scopes), row.expires_at,
        row.used_at, row.revoked_at,
    )  # fmt: skip


class SecurityStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    # -- users --------------------------------------------------------------------------------
    def add_user(self, username: str, password_hash: str, role: str) -> UserRecord:
        if self.get_user(username) is not None:
            raise AuthError(f"user {username!r} already exists")
        now = time.time_ns()
        try:
            with self._store._tx("create user") as s:
                row = UserRow(
                    username=username, password_hash=password_hash, role=role, disabled=False,
                    created_at=now, updated_at=now,
                )  # fmt: skip
                s.add(row)
                s.flush()
                return _user(row)
        except StorageError:
            if self.get_user(username) is not None:  # lost a race with another creator
                raise AuthError(f"user {username!r} already exists") from None
            raise

    def get_user(self, username: str) -> UserRecord | None:
        def load(s: Session) -> UserRecord | None:
            row = s.scalar(select(UserRow).where(UserRow.username == username))
            return None if row is None else _user(row)

        return self._store._read("load user", load)

    def get_user_by_id(self, user_id: int) -> UserRecord | None:
        def load(s: Session) -> UserRecord | None:
            row = s.get(UserRow, user_id)
            return None if row is None else _user(row)

        return self._store._read("load user", load)

    def list_users(self) -> list[UserRecord]:
        def load(s: Session) -> list[UserRecord]:
            return [_user(r) for r in s.scalars(select(UserRow).order_by(UserRow.id))]

        return self._store._read("list users", load)

    def user_states(self, ids: Iterable[int]) -> dict[int, tuple[str, bool]]:
        """Role and disabled flag of the given users (one query), for the status cache."""
        wanted = list(ids)

        def load(s: Session) -> dict[int, tuple[str, bool]]:
            q = select(UserRow.id, UserRow.role, UserRow.disabled).where(UserRow.id.in_(wanted))
            return {r.id: (r.role, bool(r.disabled)) for r in s.execute(q)}

        return self._store._read("load user states", load) if wanted else {}

    def set_disabled(self, username: str, disabled: bool) -> UserRecord:
        """Disable (or enable) a user; disabling also revokes its API keys and refresh tokens."""
        now = time.time_ns()
        with self._store._tx("disable user") as s:
            row = s.scalar(select(UserRow).where(UserRow.username == username))
            if row is None:
                raise AuthError(f"no user named {username!r}")
            row.disabled = disabled
            row.updated_at = now
            if disabled:
                for table in (ApiKeyRow, RefreshTokenRow):
                    s.execute(
                        update(table)
                        .where(table.user_id == row.id, table.revoked_at.is_(None))
                        .values(revoked_at=now)
                    )
            return _user(row)

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        with self._store._tx("update password hash") as s:
            row = s.get(UserRow, user_id)
            if row is not None:
                row.password_hash = password_hash
                row.updated_at = time.time_ns()

    # -- API keys -----------------------------------------------------------------------------
    def add_key(
        self,
        key_id: str,
        user_id: int,
        name: str,
        secret_hash: str,
        scopes: Iterable[str],
        expires_at: int | None,
    ) -> KeyRecord:
        with self._store._tx("create API key") as s:
            user = s.get(UserRow, user_id)
            if user is None:
                raise AuthError(f"no user with id {user_id}")
            row = ApiKeyRow(
                id=key_id, user_id=user_id, name=name, secret_hash=secret_hash,
                scopes=" ".join(sorted(scopes)), created_at=time.time_ns(), expires_at=expires_at,
            )  # fmt: skip
            s.add(row)
            s.flush()
            return _key(row, user.username)

    def get_key(self, key_id: str) -> tuple[KeyRecord, UserRecord] | None:
        def load(s: Session) -> tuple[KeyRecord, UserRecord] | None:
            found = s.execute(
                select(ApiKeyRow, UserRow)
                .join(UserRow, UserRow.id == ApiKeyRow.user_id)
                .where(ApiKeyRow.id == key_id)
            ).one_or_none()
            if found is None:
                return None
            key, user = found
            return _key(key, user.username), _user(user)

        return self._store._read("load API key", load)

    def list_keys(self, username: str | None = None) -> list[KeyRecord]:
        def load(s: Session) -> list[KeyRecord]:
            q = select(ApiKeyRow, UserRow.username).join(UserRow, UserRow.id == ApiKeyRow.user_id)
            if username is not None:
                q = q.where(UserRow.username == username)
            return [_key(k, name) for k, name in s.execute(q.order_by(ApiKeyRow.created_at))]

        return self._store._read("list API keys", load)

    def revoke_key(self, key_id: str) -> KeyRecord:
        with self._store._tx("revoke API key") as s:
            found = s.execute(
                select(ApiKeyRow, UserRow.username)
                .join(UserRow, UserRow.id == ApiKeyRow.user_id)
                .where(ApiKeyRow.id == key_id)
            ).one_or_none()
            if found is None:
                raise AuthError(f"no API key {key_id!r}")
            row, username = found
            if row.revoked_at is None:
                row.revoked_at = time.time_ns()
            return _key(row, username)

    def touch_key(self, key_id: str, ts: int) -> None:
        with self._store._tx("note API key use") as s:
            s.execute(update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(last_used_at=ts))

    # -- refresh tokens -----------------------------------------------------------------------
    def add_refresh(
        self,
        token_id: str,
        user_id: int,
        family: str,
        secret_hash: str,
        scopes: Iterable[str],
        expires_at: int,
    ) -> None:
        with self._store._tx("create refresh token") as s:
            s.add(_refresh_row(token_id, user_id, family, secret_hash, scopes, expires_at))

    def get_refresh(self, token_id: str) -> RefreshRecord | None:
        def load(s: Session) -> RefreshRecord | None:
            row = s.get(RefreshTokenRow, token_id)
            return None if row is None else _refresh(row)

        return self._store._read("load refresh token", load)

    def rotate_refresh(
        self, old_id: str, new_id: str, secret_hash: str, expires_at: int, now: int
    ) -> bool:
        """Mark ``old_id`` used and add its successor in the same family, atomically; False
        when ``old_id`` was already used or revoked (a concurrent rotation won)."""
        with self._store._tx("rotate refresh token") as s:
            won: CursorResult[Any] = s.execute(  # type: ignore[assignment]
                update(RefreshTokenRow)
                .where(
                    RefreshTokenRow.id == old_id,
                    RefreshTokenRow.used_at.is_(None),
                    RefreshTokenRow.revoked_at.is_(None),
                )
                .values(used_at=now)
            )
            if won.rowcount != 1:
                return False
            old = s.get(RefreshTokenRow, old_id)
            assert old is not None
            s.add(
                _refresh_row(
                    new_id, old.user_id, old.family, secret_hash, _scopes(old.scopes), expires_at
                )
            )
            return True

    def revoke_family(self, family: str) -> int:
        with self._store._tx("revoke refresh token family") as s:
            done: CursorResult[Any] = s.execute(  # type: ignore[assignment]
                update(RefreshTokenRow)
                .where(RefreshTokenRow.family == family, RefreshTokenRow.revoked_at.is_(None))
                .values(revoked_at=time.time_ns())
            )
            return int(done.rowcount)

    # -- signing keys -------------------------------------------------------------------------
    def signing_keys(self) -> list[tuple[str, str]]:
        """Every (kid, secret), newest first."""

        def load(s: Session) -> list[tuple[str, str]]:
            q = select(SigningKeyRow).order_by(
                SigningKeyRow.created_at.desc(), SigningKeyRow.kid.desc()
            )
            return [(r.kid, r.secret) for r in s.scalars(q)]

        return self._store._read("load signing keys", load)

    def add_signing_key(self, kid: str, secret: str) -> None:
        with self._store._tx("create signing key") as s:
            s.add(SigningKeyRow(kid=kid, secret=secret, created_at=time.time_ns()))


def _refresh_row(
    token_id: str,
    user_id: int,
    family: str,
    secret_hash: str,
    scopes: Iterable[str],
    expires_at: int,
) -> RefreshTokenRow:
    return RefreshTokenRow(
        id=token_id, user_id=user_id, family=family, secret_hash=secret_hash,
        scopes=" ".join(sorted(scopes)), created_at=time.time_ns(), expires_at=expires_at,
    )  # fmt: skip
