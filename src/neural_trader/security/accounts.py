"""Managing who may use the API: users (with an argon2-hashed password and a role) and their
API keys. This is what ``neural-trader users`` and ``neural-trader keys`` drive; the first
admin can only be made here, there is no default account or password."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from neural_trader.errors import AuthError
from neural_trader.security import credentials
from neural_trader.security.passwords import Passwords, check_strength
from neural_trader.security.permissions import ROLE_PERMISSIONS, Role, check_scopes, role_of
from neural_trader.storage import KeyRecord, SecurityStore, Store, UserRecord

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
DAY_NS = 86_400 * 1_000_000_000


@dataclass(frozen=True)
class NewKey:
    """A key just made: its record and the whole secret, which is shown this once only."""

    record: KeyRecord
    token: str


class Accounts:
    def __init__(self, store: Store, passwords: Passwords | None = None) -> None:
        self.rows = SecurityStore(store)
        self._passwords = passwords or Passwords()

    def create_user(self, username: str, password: str, role: str | Role) -> UserRecord:
        if not USERNAME.match(username):
            raise AuthError(
                "a user name has 2-64 letters, digits or . _ @ - and starts with a letter or digit"
            )
        chosen = role if isinstance(role, Role) else role_of(role)
        check_strength(username, password)
        return self.rows.add_user(username, self._passwords.hash(password), chosen.value)

    def list_users(self) -> list[UserRecord]:
        return self.rows.list_users()

    def disable_user(self, username: str) -> UserRecord:
        return self.rows.set_disabled(username, True)

    def enable_user(self, username: str) -> UserRecord:
        return self.rows.set_disabled(username, False)

    def create_key(
        self,
        username: str,
        name: str,
        scopes: Iterable[str] | None = None,
        expires_in_days: float | None = 90,
    ) -> NewKey:
        """A key for ``username`` limited to ``scopes`` (default: everything its role grants),
        expiring after ``expires_in_days`` (None: never)."""
        user = self.rows.get_user(username)
        if user is None:
            raise AuthError(f"no user named {username!r}")
        if user.disabled:
            raise AuthError(f"user {username!r} is disabled")
        if not name.strip() or len(name) > 128:
            raise AuthError("a key needs a name of 1-128 characters")
        role = role_of(user.role)
        granted = ROLE_PERMISSIONS[role] if scopes is None else check_scopes(scopes, role)
        if not granted:
            raise AuthError("a key needs at least one permission")
        if expires_in_days is not None and not expires_in_days > 0:
            raise AuthError(f"a key's lifetime must be positive, got {expires_in_days} days")
        expires = None
        if expires_in_days is not None:
            expires = time.time_ns() + int(expires_in_days * DAY_NS)
        issued = credentials.issue(credentials.API_KEY_PREFIX)
        key_id = credentials.API_KEY_PREFIX + issued.id
        record = self.rows.add_key(key_id, user.id, name.strip(), issued.digest, granted, expires)
        return NewKey(record, issued.token)

    def list_keys(self, username: str | None = None) -> list[KeyRecord]:
        return self.rows.list_keys(username)

    def revoke_key(self, key_id: str) -> KeyRecord:
        return self.rows.revoke_key(key_id)
