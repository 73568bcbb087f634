"""Short-lived access tokens: JWTs signed with HS256 (PyJWT).

The signing key comes from the configuration when one is set, else from the database, where
the first server to need one creates it, so every replica on the database verifies the
others' tokens. Verification pins the algorithm, issuer and audience and requires ``exp``,
``iat``, ``sub`` and ``typ``, so an ``alg: none`` token, a token for another service or a
refresh token presented as an access token are all refused.
"""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import jwt

from neural_trader.errors import AuthError
from neural_trader.security.permissions import Role, role_of
from neural_trader.storage import SecurityStore

ALGORITHM = "HS256"
ISSUER = "neural-trader"
AUDIENCE = "neural-trader-api"
ACCESS = "access"
RELOAD_EVERY_S = 5.0


class InvalidTokenError(AuthError):
    """An access token that is malformed, tampered with, expired or not for us."""


class SigningKeys(Protocol):
    def current(self) -> tuple[str, bytes]: ...

    def get(self, kid: str) -> bytes | None: ...


class StaticKey:
    """One configured secret (``kid`` ``config``)."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 32:
            raise AuthError("the JWT secret needs at least 32 characters")
        self._secret = secret.encode()

    def current(self) -> tuple[str, bytes]:
        return "config", self._secret

    def get(self, kid: str) -> bytes | None:
        return self._secret if kid == "config" else None


class DatabaseKeys:
    """Keys in the ``signing_keys`` table; made on first use, cached, reloaded for an
    unknown ``kid`` (another replica may have made one)."""

    def __init__(self, store: SecurityStore) -> None:
        self._store = store
        self._keys: dict[str, bytes] = {}
        self._current: tuple[str, bytes] | None = None
        self._loaded_at = -RELOAD_EVERY_S

    def _load(self) -> None:
        rows = self._store.signing_keys()
        if not rows:
            self._store.add_signing_key(uuid.uuid4().hex, _b64(secrets.token_bytes(32)))
            rows = self._store.signing_keys()
        self._keys = {kid: base64.urlsafe_b64decode(secret) for kid, secret in rows}
        self._loaded_at = time.monotonic()
        kid = rows[0][0]
        self._current = (kid, self._keys[kid])

    def current(self) -> tuple[str, bytes]:
        if self._current is None:
            self._load()
        assert self._current is not None
        return self._current

    def get(self, kid: str) -> bytes | None:
        # An unknown kid rereads the table, at most every few seconds (made-up kids must not
        # turn every request into a database read).
        now = time.monotonic()
        if kid not in self._keys and now - self._loaded_at >= RELOAD_EVERY_S:
            self._load()
        return self._keys.get(kid)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    username: str
    role: Role
    scopes: frozenset[str]
    via: str
    key_id: str | None
    expires_at: float
    token_id: str


VERIFIED_CACHE = 4096


class TokenSigner:
    def __init__(
        self,
        keys: SigningKeys,
        ttl_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        # Tokens whose signature and claims were checked, with the key that signed them: a
        # client sends the same token on every request until it expires. A hit still checks
        # expiry and that the key is still the one signing under that kid.
        self._verified: OrderedDict[str, tuple[AccessClaims, str, bytes]] = OrderedDict()

    def issue(
        self,
        user_id: int,
        username: str,
        role: Role,
        scopes: frozenset[str],
        via: str,
        key_id: str | None = None,
    ) -> str:
        kid, secret = self._keys.current()
        now = int(self._clock())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(user_id),
            "name": username,
            "role": role.value,
            "scope": " ".join(sorted(scopes)),
            "via": via,
            "typ": ACCESS,
            "iat": now,
            "exp": now + int(self.ttl_seconds),
            "jti": uuid.uuid4().hex,
        }
        if key_id is not None:
            claims["kid"] = key_id
        return jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": kid})

    def verify(self, token: str) -> AccessClaims:
        hit = self._verified.get(token)
        if hit is not None:
            claims_, kid, secret = hit
            if self._keys.get(kid) == secret:
                if claims_.expires_at <= self._clock():
                    raise InvalidTokenError("the access token has expired")
                self._verified.move_to_end(token)
                return claims_
        verified, kid, secret = self._verify(token)
        self._verified[token] = (verified, kid, secret)
        if len(self._verified) > VERIFIED_CACHE:
            self._verified.popitem(last=False)
        return verified

    def _verify(self, token: str) -> tuple[AccessClaims, str, bytes]:
        try:
            header = jwt.get_unverified_header(token)
            kid = str(header.get("kid", ""))
            secret = self._keys.get(kid)
            if secret is None:
                raise InvalidTokenError("the token was signed with an unknown key")
            claims = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "typ"]},
                leeway=0,
            )
        except jwt.ExpiredSignatureError:
            raise InvalidTokenError("the access token has expired") from None
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(f"the access token is not valid: {exc}") from None
        if claims.get("typ") != ACCESS:
            raise InvalidTokenError("not an access token")
        if claims["exp"] <= self._clock():
            raise InvalidTokenError("the access token has expired")
        try:
            verified = AccessClaims(
                user_id=int(claims["sub"]),
                username=str(claims["name"]),
                role=role_of(str(claims["role"])),
                scopes=frozenset(str(claims.get("scope", "")).split()),
                via=str(claims.get("via", "password")),
                key_id=claims.get("kid"),
                expires_at=float(claims["exp"]),
                token_id=str(claims.get("jti", "")),
            )
        except (KeyError, ValueError, AuthError):
            raise InvalidTokenError("the access token's claims are malformed") from None
        return verified, kid, secret
