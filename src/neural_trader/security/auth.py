"""Turning a credential into a :class:`Principal`, and the OAuth2 grants that hand out tokens.

* password grant: user name and password -> access token + refresh token;
* refresh_token grant: a refresh token -> a new access token and a *new* refresh token; the
  old one is spent, and presenting a spent one again revokes its whole family (the token
  leaked: RFC 9700's refresh token rotation);
* client_credentials grant: an API key's id and the key -> an access token with the key's
  scopes (no refresh token, RFC 6749 section 4.4.3);
* a request's bearer token is an access token (JWT) or an API key (``ntk_...``).

Every path re-reads the user's role and disabled flag (cached for ``status_ttl`` seconds),
so disabling or demoting a user takes effect within that time on every replica.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from neural_trader.errors import AuthError
from neural_trader.security import credentials
from neural_trader.security.passwords import Passwords
from neural_trader.security.permissions import (
    PERMISSIONS,
    ROLE_PERMISSIONS,
    Principal,
    Role,
    effective,
    role_of,
)
from neural_trader.security.tokens import DatabaseKeys, SigningKeys, StaticKey, TokenSigner
from neural_trader.storage import SecurityStore, Store

NS = 1_000_000_000
KEY_TOUCH_EVERY_NS = 60 * NS


class GrantError(AuthError):
    """An OAuth2 grant that is refused; ``error`` is RFC 6749's code (invalid_grant, ...)."""

    def __init__(self, message: str, error: str = "invalid_grant") -> None:
        super().__init__(message)
        self.error = error


@dataclass(frozen=True)
class AuthConfig:
    access_ttl_seconds: float = 900.0
    refresh_ttl_seconds: float = 7 * 86_400.0
    status_ttl_seconds: float = 1.0
    jwt_secret: str | None = None


@dataclass(frozen=True)
class TokenGrant:
    """The token endpoint's answer (RFC 6749 section 5.1)."""

    access_token: str
    expires_in: int
    scope: str
    refresh_token: str | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "access_token": self.access_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.refresh_token is not None:
            out["refresh_token"] = self.refresh_token
        return out


class Authenticator:
    def __init__(
        self,
        store: Store,
        config: AuthConfig | None = None,
        passwords: Passwords | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or AuthConfig()
        self.rows = SecurityStore(store)
        self._passwords = passwords or Passwords()
        self._clock = clock
        keys: SigningKeys = (
            StaticKey(self.config.jwt_secret) if self.config.jwt_secret else DatabaseKeys(self.rows)
        )
        self.signer = TokenSigner(keys, self.config.access_ttl_seconds, clock)
        self._status: dict[int, tuple[float, str, bool]] = {}
        self._touched: dict[str, int] = {}

    # -- grants -------------------------------------------------------------------------------
    def password_grant(self, username: str, password: str, scope: str = "") -> TokenGrant:
        user = self.rows.get_user(username)
        if user is None:
            self._passwords.burn(password)
            raise GrantError("wrong user name or password")
        if not self._passwords.verify(user.password_hash, password):
            raise GrantError("wrong user name or password")
        if user.disabled:
            raise GrantError("this user is disabled")
        if self._passwords.needs_rehash(user.password_hash):
            self.rows.set_password_hash(user.id, self._passwords.hash(password))
        role = role_of(user.role)
        scopes = _requested(scope, ROLE_PERMISSIONS[role])
        principal = Principal(user.id, user.username, role, scopes, "password")
        return self._grant(principal, with_refresh=True)

    def client_credentials_grant(
        self, client_id: str, client_secret: str, scope: str = ""
    ) -> TokenGrant:
        principal = self.api_key(client_secret)
        if principal.key_id != client_id.strip():
            raise GrantError("the client id does not belong to this key", "invalid_client")
        scopes = _requested(scope, principal.permissions)
        limited = Principal(
            principal.user_id, principal.username, principal.role, scopes,
            "client_credentials", principal.key_id,
        )  # fmt: skip
        return self._grant(limited, with_refresh=False)

    def refresh_grant(self, token: str, scope: str = "") -> TokenGrant:
        parsed = credentials.parse(token, credentials.REFRESH_PREFIX)
        if parsed is None:
            raise GrantError("not a refresh token")
        token_id, secret = parsed
        row = self.rows.get_refresh(token_id)
        if row is None or not credentials.matches(secret, row.secret_hash):
            raise GrantError("unknown refresh token")
        now = time.time_ns()
        if row.revoked_at is not None:
            raise GrantError("the refresh token was revoked")
        if row.used_at is not None:
            self.rows.revoke_family(row.family)
            raise GrantError("the refresh token was already used: its family is revoked")
        if row.expires_at <= self._clock() * NS:
            raise GrantError("the refresh token has expired")
        user = self.rows.get_user_by_id(row.user_id)
        if user is None or user.disabled:
            raise GrantError("this user is disabled")
        role = role_of(user.role)
        scopes = _requested(scope, effective(role, row.scopes))
        successor = credentials.issue(credentials.REFRESH_PREFIX)
        expires = int((self._clock() + self.config.refresh_ttl_seconds) * NS)
        if not self.rows.rotate_refresh(token_id, successor.id, successor.digest, expires, now):
            self.rows.revoke_family(row.family)
            raise GrantError("the refresh token was already used: its family is revoked")
        principal = Principal(user.id, user.username, role, scopes, "refresh_token")
        access = self._access(principal)
        return TokenGrant(access, int(self.signer.ttl_seconds), _scope(scopes), successor.token)

    def _grant(self, principal: Principal, with_refresh: bool) -> TokenGrant:
        access = self._access(principal)
        refresh = None
        if with_refresh:
            issued = credentials.issue(credentials.REFRESH_PREFIX)
            expires = int((self._clock() + self.config.refresh_ttl_seconds) * NS)
            self.rows.add_refresh(
                issued.id, principal.user_id, uuid.uuid4().hex, issued.digest,
                principal.permissions, expires,
            )  # fmt: skip
            refresh = issued.token
        return TokenGrant(
            access, int(self.signer.ttl_seconds), _scope(principal.permissions), refresh
        )

    def _access(self, p: Principal) -> str:
        return self.signer.issue(p.user_id, p.username, p.role, p.permissions, p.via, p.key_id)

    # -- per request --------------------------------------------------------------------------
    def bearer(self, token: str) -> Principal:
        """The caller behind an ``Authorization: Bearer`` value: an access token or a key."""
        if credentials.looks_like_key(token):
            return self.api_key(token)
        claims = self.signer.verify(token)
        role, disabled = self._user_status(claims.user_id)
        if disabled:
            raise AuthError("this user is disabled")
        if claims.key_id is not None:
            self._check_key_alive(claims.key_id)
        return Principal(
            claims.user_id, claims.username, role, effective(role, claims.scopes), claims.via,
            claims.key_id, claims.expires_at,
        )  # fmt: skip

    def api_key(self, token: str) -> Principal:
        parsed = credentials.parse(token, credentials.API_KEY_PREFIX)
        if parsed is None:
            raise GrantError("not an API key", "invalid_client")
        key_id = credentials.API_KEY_PREFIX + parsed[0]
        found = self.rows.get_key(key_id)
        if found is None or not credentials.matches(parsed[1], found[0].secret_hash):
            raise GrantError("unknown API key", "invalid_client")
        key, user = found
        now = int(self._clock() * NS)
        if key.revoked_at is not None:
            raise GrantError("the API key was revoked", "invalid_client")
        if key.expires_at is not None and key.expires_at <= now:
            raise GrantError("the API key has expired", "invalid_client")
        if user.disabled:
            raise GrantError("this user is disabled", "invalid_client")
        if now - self._touched.get(key_id, 0) >= KEY_TOUCH_EVERY_NS:
            self._touched[key_id] = now
            self.rows.touch_key(key_id, now)
        role = role_of(user.role)
        allowed = effective(role, key.scopes)
        expires = None if key.expires_at is None else key.expires_at / NS
        return Principal(user.id, user.username, role, allowed, "api_key", key_id, expires)

    def _check_key_alive(self, key_id: str) -> None:
        """A token from the client-credentials grant dies with its key."""
        found = self.rows.get_key(key_id)
        now = int(self._clock() * NS)
        if found is None or found[0].revoked_at is not None:
            raise AuthError("the API key behind this token was revoked")
        if found[0].expires_at is not None and found[0].expires_at <= now:
            raise AuthError("the API key behind this token has expired")

    def _user_status(self, user_id: int) -> tuple[Role, bool]:
        now = time.monotonic()
        cached = self._status.get(user_id)
        if cached is None or now - cached[0] > self.config.status_ttl_seconds:
            states = self.rows.user_states([user_id])
            if user_id not in states:
                raise AuthError("the token's user no longer exists")
            role, disabled = states[user_id]
            cached = (now, role, disabled)
            self._status[user_id] = cached
        return role_of(cached[1]), cached[2]


def _requested(scope: str, allowed: Iterable[str]) -> frozenset[str]:
    """The scopes asked for (all ``allowed`` when none), refusing any not allowed."""
    allowed = frozenset(allowed)
    asked = frozenset(scope.split())
    if not asked:
        return allowed
    unknown = sorted(asked - PERMISSIONS.keys())
    if unknown:
        raise GrantError(f"unknown scope {', '.join(unknown)}", "invalid_scope")
    beyond = sorted(asked - allowed)
    if beyond:
        raise GrantError(f"not granted: {', '.join(beyond)}", "invalid_scope")
    return asked


def _scope(scopes: Iterable[str]) -> str:
    return " ".join(sorted(scopes))
