"""The API server's own knobs, read from the ``[api]`` section of the settings.

Every field has a default, so a server runs with no ``[api]`` keys at all; each one named in
``[api]`` (e.g. ``NT_API__ACCESS_TOKEN_MINUTES=5``) replaces its default. ``api.rest`` keeps
the address the server listens on.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from neural_trader.config import Settings
from neural_trader.security.auth import AuthConfig


class ApiOptions(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    # Run the paper session (the stored paper account replaying bundled data) inside the
    # server, so that orders submitted over the API are matched and filled.
    trading: bool = True
    account: str = Field(default="paper", min_length=1, max_length=64)
    access_token_minutes: float = Field(default=15.0, gt=0, le=24 * 60)
    refresh_token_days: float = Field(default=7.0, gt=0, le=365)
    # Seconds a user's role and disabled flag are cached between database reads.
    auth_cache_seconds: float = Field(default=1.0, ge=0, le=60)
    # Sign access tokens with this secret instead of a key kept in the database.
    jwt_secret: SecretStr | None = None
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    cors_origins: list[str] = Field(default_factory=list)
    ws_queue_size: int = Field(default=1024, ge=1)
    ws_heartbeat_seconds: float = Field(default=15.0, gt=0)
    # Messages of each channel kept for clients that resume after a reconnect.
    ws_replay_size: int = Field(default=1000, ge=0)
    job_workers: int = Field(default=1, ge=1, le=32)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ApiOptions:
        """The ``[api]`` keys of ``settings`` that are server knobs, then ``overrides``."""
        given = settings.api.model_dump()
        given.pop("rest", None)
        return cls.model_validate({**given, **overrides})

    def auth_config(self) -> AuthConfig:
        return AuthConfig(
            access_ttl_seconds=self.access_token_minutes * 60,
            refresh_ttl_seconds=self.refresh_token_days * 86_400,
            status_ttl_seconds=self.auth_cache_seconds,
            jwt_secret=None if self.jwt_secret is None else self.jwt_secret.get_secret_value(),
        )
