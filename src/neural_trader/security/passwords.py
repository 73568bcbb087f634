"""Password hashing with argon2id (argon2-cffi), and the rules a new password must meet.

The hasher's defaults are argon2-cffi's (RFC 9106's low-memory profile); a stored hash made
with weaker parameters is re-hashed on the next successful login. Unknown user names are
"verified" against a dummy hash too, so the time a refusal takes does not tell whether the
name exists.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from neural_trader.errors import AuthError

MIN_LENGTH = 12
MAX_LENGTH = 1024


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy = self._hasher.hash("not a password of anyone's")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    def burn(self, password: str) -> None:
        """Spend the time of one verification (for a user name that does not exist)."""
        self.verify(self._dummy, password)


def check_strength(username: str, password: str) -> None:
    """Refuse passwords that are short, very long, repetitive or contain the user name."""
    if len(password) < MIN_LENGTH:
        raise AuthError(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise AuthError(f"a password may have at most {MAX_LENGTH} characters")
    if len(set(password)) < 5:
        raise AuthError("a password needs at least 5 different characters")
    if username and username.lower() in password.lower():
        raise AuthError("a password may not contain the user name")
