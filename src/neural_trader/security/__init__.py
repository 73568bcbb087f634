"""Who may do what: users and roles, permissions, argon2 passwords, API keys, JWT access and
rotating refresh tokens. Free of any web framework, so the CLI and the API share it."""

from neural_trader.security.accounts import Accounts, NewKey
from neural_trader.security.auth import AuthConfig, Authenticator, GrantError, TokenGrant
from neural_trader.security.passwords import Passwords
from neural_trader.security.permissions import (
    PERMISSIONS,
    ROLE_PERMISSIONS,
    Principal,
    Role,
)
from neural_trader.security.tokens import InvalidTokenError

__all__ = [
    "PERMISSIONS",
    "ROLE_PERMISSIONS",
    "Accounts",
    "AuthConfig",
    "Authenticator",
    "GrantError",
    "InvalidTokenError",
    "NewKey",
    "Passwords",
    "Principal",
    "Role",
    "TokenGrant",
]
