"""The platform's one error hierarchy.

Every layer raises a subclass of :class:`NeuralTraderError` and may add context on the way up
(``err.add_context("symbol", "SPX")``), so the message a user finally reads says what failed and
where without a traceback. The CLI maps each kind to its own exit code (2 is left to
command-line usage errors).
"""

from __future__ import annotations

from typing import Any, ClassVar


class NeuralTraderError(Exception):
    """Base of every error the platform raises on purpose."""

    kind: ClassVar[str] = "runtime"
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context: dict[str, Any] = dict(context)

    def add_context(self, key: str, value: Any) -> NeuralTraderError:
        """Attach where-it-happened detail on the way up; an inner layer's value wins."""
        self.context.setdefault(key, value)
        return self

    def __str__(self) -> str:
        if not self.context:
            return self.message
        where = ", ".join(f"{k}={v}" for k, v in self.context.items())
        return f"{self.message} ({where})"


class RuntimeError_(NeuralTraderError):  # noqa: N801, N818 - avoids shadowing the builtin
    """A failure of the running system that is not any of the more specific kinds."""

    kind = "runtime"
    exit_code = 1


class ConfigError(NeuralTraderError):
    """A configuration value is missing, malformed or out of range."""

    kind = "config"
    exit_code = 3


class DataError(NeuralTraderError):
    """Market data is missing or invalid (unsorted, duplicated, NaN, high < low, ...)."""

    kind = "data"
    exit_code = 4


class StrategyError(NeuralTraderError):
    """A strategy is unknown, or was given parameters it cannot accept."""

    kind = "strategy"
    exit_code = 5


class RiskError(NeuralTraderError):
    """A risk computation cannot be done on the inputs it was given."""

    kind = "risk"
    exit_code = 6


class BrokerError(NeuralTraderError):
    """A venue refused, failed or answered with something we cannot interpret."""

    kind = "broker"
    exit_code = 7


class StorageError(NeuralTraderError):
    """The database or file store could not read or write state."""

    kind = "storage"
    exit_code = 8


class NeuralError(NeuralTraderError):
    """A model is unknown, untrained, corrupt, or was fed the wrong shape."""

    kind = "neural"
    exit_code = 9


class MemoryError_(NeuralTraderError):  # noqa: N801, N818 - avoids shadowing the builtin
    """The learning memory (vector store, reasoning bank) failed."""

    kind = "memory"
    exit_code = 10


class ServiceError(NeuralTraderError):
    """A service was used in a state that does not allow it (not started, shut down, ...)."""

    kind = "service"
    exit_code = 11


class OrderError(NeuralTraderError):
    """An order was malformed or asked for an illegal state transition."""

    kind = "order"
    exit_code = 12


class AuthError(NeuralTraderError):
    """A credential was refused (unknown, disabled, expired, revoked, malformed, too weak) or
    an account operation is not possible (a user name already taken, an unknown user)."""

    kind = "auth"
    exit_code = 13


__all__ = [
    "AuthError",
    "BrokerError",
    "ConfigError",
    "DataError",
    "MemoryError_",
    "NeuralError",
    "NeuralTraderError",
    "OrderError",
    "RiskError",
    "RuntimeError_",
    "ServiceError",
    "StorageError",
    "StrategyError",
]
