"""The shape of the random credentials handed out: API keys and refresh tokens.

Each is ``<prefix><id>.<secret>``: the id finds the row, the secret (32 random bytes) is only
ever stored as its SHA-256 and compared in constant time. A fast hash is right here because
the secret is long and random (nothing to brute-force) and keys are checked on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

API_KEY_PREFIX = "ntk_"
REFRESH_PREFIX = "ntr_"
_SHAPE = re.compile(r"^(?P<prefix>nt[kr]_)(?P<id>[0-9a-f]{16})\.(?P<secret>[A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class IssuedSecret:
    id: str
    secret: str
    prefix: str

    @property
    def token(self) -> str:
        """The whole credential, shown to its owner once."""
        return f"{self.prefix}{self.id}.{self.secret}"

    @property
    def digest(self) -> str:
        return digest(self.secret)


def issue(prefix: str) -> IssuedSecret:
    return IssuedSecret(secrets.token_hex(8), secrets.token_urlsafe(32), prefix)


def parse(token: str, prefix: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed credential with ``prefix``, else None."""
    match = _SHAPE.match(token.strip())
    if match is None or match["prefix"] != prefix:
        return None
    return match["id"], match["secret"]


def looks_like_key(token: str) -> bool:
    return token.startswith(API_KEY_PREFIX)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)
