"""Roles and the permissions each one grants: the one table every route and WebSocket
channel is checked against.

A credential's effective permissions are the intersection of what its role grants now and
what the credential was scoped to (an API key or token may carry fewer permissions than its
owner has, never more), so demoting a user narrows its keys and tokens at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from neural_trader.errors import AuthError


class Role(StrEnum):
    VIEWER = "viewer"
    TRADER = "trader"
    ADMIN = "admin"


PERMISSIONS: dict[str, str] = {
    "portfolio:read": "see the account's cash, positions and marks",
    "orders:read": "see orders and fills",
    "orders:write": "submit and cancel orders on the paper account",
    "backtests:read": "see backtest jobs and their results",
    "backtests:run": "submit backtest jobs",
    "risk:read": "see risk reports, limits and the trading state",
    "risk:admin": "change the trading state and the kill switch",
    "strategies:read": "list strategies and their parameter schemas",
    "strategies:write": "configure, start, pause and stop the paper session's strategies",
    "models:read": "list registered models",
    "models:predict": "ask a registered model for a forecast",
    "models:train": "submit model training jobs",
    "models:admin": "promote a model version to production and roll it back",
    "brokers:read": "see the configured venues, their capabilities and whether credentials are set",
    "market:read": "stream bars of the traded symbols",
    "users:admin": "list users and API keys",
    "audit:read": "read and verify the audit log",
}

_VIEWER = frozenset(
    {
        "portfolio:read",
        "orders:read",
        "backtests:read",
        "risk:read",
        "strategies:read",
        "models:read",
        "market:read",
    }
)
_TRADER = _VIEWER | {
    "orders:write",
    "backtests:run",
    "models:predict",
    "strategies:write",
    "models:train",
    "brokers:read",
}

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.VIEWER: _VIEWER,
    Role.TRADER: frozenset(_TRADER),
    Role.ADMIN: frozenset(PERMISSIONS),
}


def role_of(name: str) -> Role:
    try:
        return Role(name.strip().lower())
    except ValueError:
        raise AuthError(
            f"unknown role {name!r}; roles: {', '.join(r.value for r in Role)}"
        ) from None


def check_scopes(scopes: Iterable[str], role: Role) -> frozenset[str]:
    """``scopes`` as a set, refusing names that are not permissions or that ``role`` lacks."""
    wanted = frozenset(scopes)
    unknown = sorted(wanted - PERMISSIONS.keys())
    if unknown:
        raise AuthError(
            f"unknown permission {', '.join(unknown)}; permissions: {', '.join(PERMISSIONS)}"
        )
    beyond = sorted(wanted - ROLE_PERMISSIONS[role])
    if beyond:
        raise AuthError(f"role {role.value} does not grant {', '.join(beyond)}")
    return wanted


@dataclass(frozen=True)
class Principal:
    """Who is calling and what they may do, whatever credential they came with."""

    user_id: int
    username: str
    role: Role
    permissions: frozenset[str]
    via: str  # password, refresh_token, client_credentials, api_key
    key_id: str | None = None
    # When the credential it came with stops being valid (epoch seconds); None: no expiry.
    expires_at: float | None = None

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def kind(self) -> str:
        """For the audit log: a person with a token, or a program with a key."""
        return "api_key" if self.key_id is not None else "user"


def effective(role: Role, scopes: Iterable[str]) -> frozenset[str]:
    return ROLE_PERMISSIONS[role] & frozenset(scopes)
