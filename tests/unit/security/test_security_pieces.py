"""The security pieces on their own: argon2 passwords, JWT access tokens (expiry, tampering,
algorithm and audience pinning), the credential format, and the permission table."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from argon2 import PasswordHasher

from neural_trader.errors import AuthError
from neural_trader.security import credentials
from neural_trader.security.passwords import Passwords, check_strength
from neural_trader.security.permissions import (
    PERMISSIONS,
    ROLE_PERMISSIONS,
    Role,
    check_scopes,
    effective,
    role_of,
)
from neural_trader.security.tokens import (
    AUDIENCE,
    ISSUER,
    InvalidTokenError,
    StaticKey,
    TokenSigner,
)

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
SECRET = "s" * 16 + "e" * 16 + "c" * 8


# -- passwords ----------------------------------------------------------------------------------
def test_argon2_hashes_verify_only_the_right_password() -> None:
    pw = Passwords(FAST)
    stored = pw.hash("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert "correct horse battery" not in stored
    assert pw.verify(stored, "correct horse battery")
    assert not pw.verify(stored, "correct horse batterY")
    assert not pw.verify("not a hash at all", "correct horse battery")
    assert pw.hash("correct horse battery") != stored  # salted


def test_a_hash_made_with_weaker_parameters_needs_a_rehash() -> None:
    weak = Passwords(FAST).hash("correct horse battery")
    assert Passwords(PasswordHasher()).needs_rehash(weak)
    assert not Passwords(FAST).needs_rehash(weak)


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short pw 1", "at least 12"),
        ("aaaaaaaaaaaaaaaa", "5 different"),
        ("xx-alice-password-xx", "user name"),
        ("p" * 1025 + "abcde", "at most"),
    ],
)
def test_weak_passwords_are_refused(password: str, why: str) -> None:
    with pytest.raises(AuthError, match=why):
        check_strength("alice", password)


# -- access tokens ------------------------------------------------------------------------------
def signer(now: float = 1_800_000_000.0, ttl: float = 900.0) -> TokenSigner:
    return TokenSigner(StaticKey(SECRET), ttl, clock=lambda: now)


def issue(s: TokenSigner) -> str:
    return s.issue(7, "alice", Role.TRADER, frozenset({"orders:write"}), "password")


def test_a_fresh_token_verifies_with_its_claims() -> None:
    s = signer(now=time.time())
    claims = s.verify(issue(s))
    assert (claims.user_id, claims.username, claims.role) == (7, "alice", Role.TRADER)
    assert claims.scopes == {"orders:write"}
    header = jwt.get_unverified_header(issue(s))
    assert header["alg"] == "HS256" and header["kid"] == "config"


def test_an_expired_token_is_refused() -> None:
    old = signer(now=time.time() - 901)  # issued 901 s ago, lived 900 s
    with pytest.raises(InvalidTokenError, match="expired"):
        signer(now=time.time()).verify(issue(old))


class _Keys:
    """A key table that can rotate: ``get`` answers for the current key only."""

    def __init__(self) -> None:
        self.kid, self.secret = "k1", b"k" * 32

    def current(self) -> tuple[str, bytes]:
        return self.kid, self.secret

    def get(self, kid: str) -> bytes | None:
        return self.secret if kid == self.kid else None


def test_a_verified_token_still_expires_and_dies_with_its_key() -> None:
    now = [time.time()]
    keys = _Keys()
    s = TokenSigner(keys, 60, clock=lambda: now[0])
    token = issue(s)
    assert s.verify(token).username == "alice"
    assert s.verify(token).username == "alice"  # the second check is the remembered one
    now[0] += 61
    with pytest.raises(InvalidTokenError, match="expired"):
        s.verify(token)
    now[0] -= 61
    keys.kid, keys.secret = "k2", b"z" * 32  # the key is rotated out
    with pytest.raises(InvalidTokenError, match="unknown key"):
        s.verify(token)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_tampered_token_is_refused() -> None:
    s = signer(now=time.time())
    head, body, sig = issue(s).split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["role"] = "admin"
    forged = f"{head}.{_b64(json.dumps(claims).encode())}.{sig}"
    with pytest.raises(InvalidTokenError, match="not valid"):
        s.verify(forged)
    flipped = sig[:-2] + ("AA" if not sig.endswith("AA") else "BB")
    with pytest.raises(InvalidTokenError):
        s.verify(f"{head}.{body}.{flipped}")


def test_alg_none_other_audiences_and_other_keys_are_refused() -> None:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "7", "name": "a", "role": "admin",
            "typ": "access", "iat": now, "exp": now + 60}  # fmt: skip
    s = signer(now=now)
    unsigned = jwt.encode(base, key=None, algorithm="none", headers={"kid": "config"})
    with pytest.raises(InvalidTokenError):
        s.verify(unsigned)
    other_aud = jwt.encode({**base, "aud": "someone-else"}, SECRET, "HS256", {"kid": "config"})
    with pytest.raises(InvalidTokenError):
        s.verify(other_aud)
    refresh_like = jwt.encode({**base, "typ": "refresh"}, SECRET, "HS256", {"kid": "config"})
    with pytest.raises(InvalidTokenError, match="not an access token"):
        s.verify(refresh_like)
    wrong_key = jwt.encode(base, "x" * 40, "HS256", {"kid": "config"})
    with pytest.raises(InvalidTokenError):
        s.verify(wrong_key)
    with pytest.raises(InvalidTokenError, match="unknown key"):
        s.verify(jwt.encode(base, SECRET, "HS256", {"kid": "elsewhere"}))


def test_a_short_configured_secret_is_refused() -> None:
    with pytest.raises(AuthError, match="32 characters"):
        StaticKey("too short")


# -- credentials --------------------------------------------------------------------------------
def test_credentials_round_trip_and_store_only_a_digest() -> None:
    issued = credentials.issue(credentials.API_KEY_PREFIX)
    token = issued.token
    assert token.startswith("ntk_") and issued.secret in token
    assert credentials.parse(token, credentials.API_KEY_PREFIX) == (issued.id, issued.secret)
    assert credentials.parse(token, credentials.REFRESH_PREFIX) is None
    assert credentials.parse(token + "x", credentials.API_KEY_PREFIX) is None
    assert issued.secret not in issued.digest and len(issued.digest) == 64
    assert credentials.matches(issued.secret, issued.digest)
    other = "B" if issued.secret[-1] == "A" else "A"  # a different last character, always
    assert not credentials.matches(issued.secret[:-1] + other, issued.digest)


# -- the permission table -----------------------------------------------------------------------
def test_roles_nest_and_grant_what_the_table_says() -> None:
    viewer, trader, admin = (ROLE_PERMISSIONS[r] for r in Role)
    assert viewer < trader < admin == frozenset(PERMISSIONS)
    assert {"portfolio:read", "orders:read", "risk:read"} <= viewer
    assert not viewer & {"orders:write", "backtests:run", "risk:admin", "users:admin"}
    assert {"orders:write", "backtests:run", "models:predict"} <= trader
    assert not trader & {"risk:admin", "users:admin", "audit:read"}
    assert role_of(" Admin ") is Role.ADMIN
    with pytest.raises(AuthError, match="unknown role"):
        role_of("root")


def test_scopes_never_exceed_the_role() -> None:
    assert check_scopes(["orders:read"], Role.VIEWER) == {"orders:read"}
    with pytest.raises(AuthError, match="does not grant orders:write"):
        check_scopes(["orders:write"], Role.VIEWER)
    with pytest.raises(AuthError, match="unknown permission"):
        check_scopes(["orders:delete"], Role.ADMIN)
    # A key scoped to orders:write whose owner is demoted to viewer loses it.
    assert effective(Role.VIEWER, {"orders:write", "orders:read"}) == {"orders:read"}
