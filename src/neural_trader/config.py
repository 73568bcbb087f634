"""Settings: command line > ``NT_`` environment > TOML file > defaults.

:func:`load_settings` is the way in. It builds pydantic-settings' own sources (init kwargs for
the command line, an environment source with prefix ``NT_`` and ``__`` for nesting, a TOML file
source) and lets :class:`Settings` merge them. Anything wrong becomes one
:class:`~neural_trader.errors.ConfigError` naming the dotted key, where the bad value came from
(``cli``, ``env NT_...``, ``file config.toml`` or ``default``) and what is allowed, e.g.::

    risk.max_portfolio_heat = 5 (from env NT_RISK__MAX_PORTFOLIO_HEAT): Input should be less
    than or equal to 1

The TOML shape is the seed's: ``[brokers]`` with one ``[brokers.NAME]`` table per venue and
``[strategies]`` with one ``[strategies.NAME]`` table of parameters per strategy; those tables are
exposed as ``settings.brokers.venues[NAME]`` and ``settings.strategies.params[NAME]``.
Relative paths are relative to the working directory, not to the config file.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from neural_trader.errors import ConfigError

ENV_PREFIX = "NT_"
ENV_DELIMITER = "__"
CONFIG_ENV_VAR = "NT_CONFIG"
DEFAULT_CONFIG_FILE = Path("config.toml")
REDACTED = "**********"
_NONE_WORDS = frozenset({"", "none", "null"})


# -- value coercions shared by the sections ------------------------------------------------------
def _split_list(value: Any) -> Any:
    """A list given as text (CLI ``--set``, environment): a JSON array or comma-separated items."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not a valid JSON list ({exc})") from None
    return [item.strip() for item in text.split(",") if item.strip()]


def _json_object(value: Any) -> Any:
    """A table given as text: a JSON object."""
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ValueError(f"not a valid JSON object ({exc})") from None
    return value


def _no_duplicates(items: list[str]) -> list[str]:
    seen = {item for item in items if items.count(item) > 1}
    if seen:
        raise ValueError(f"lists {', '.join(sorted(seen))} more than once")
    return items


StrList = Annotated[list[str], NoDecode, BeforeValidator(_split_list)]
NameList = Annotated[
    list[str], NoDecode, BeforeValidator(_split_list), AfterValidator(_no_duplicates)
]
UserPath = Annotated[Path, AfterValidator(lambda p: p.expanduser())]


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _allows_none(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, UnionType) and NoneType in get_args(annotation)


class Section(BaseModel):
    """A ``[section]`` of the file: unknown keys are errors; ``none``/``null``/empty text clears
    an optional value (how the command line and the environment say "unset")."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _text_none(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        out = dict(data)
        for name, field in cls.model_fields.items():
            key = field.alias or name
            value = out.get(key)
            is_none_word = isinstance(value, str) and value.strip().lower() in _NONE_WORDS
            if is_none_word and _allows_none(field.annotation):
                out[key] = None
        return out


def _collect_tables(data: Any, fields: tuple[str, ...], into: str) -> Any:
    """Move ``[section.NAME]`` tables (keys that are not ``fields``) under ``into``; a key that
    is not a table stays put so that it is reported as unknown."""
    if not isinstance(data, Mapping):
        return data
    out: dict[str, Any] = {}
    tables: dict[str, Any] = {}
    explicit = data.get(into)
    if isinstance(explicit, Mapping):
        tables.update(_plain(explicit))
    elif explicit is not None:
        out[into] = explicit
    for key, value in data.items():
        if key == into:
            continue
        value = _json_object(value) if key not in fields else value
        if key in fields or not isinstance(value, Mapping):
            out[key] = value
            continue
        tables[key] = _merge(tables.get(key), _plain(value))
    if tables or into in data:
        out[into] = tables
    return out


# -- sections -------------------------------------------------------------------------------------
class BrokerSettings(Section):
    """One ``[brokers.NAME]`` table: credentials and venue options."""

    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    # OAuth 1.0a access token and its secret (E*TRADE), renewed daily by the user's login.
    access_token: SecretStr | None = None
    access_token_secret: SecretStr | None = None
    # A login's password and TOTP secret (Robinhood equities).
    password: SecretStr | None = None
    mfa_secret: SecretStr | None = None
    paper_trading: bool = True
    base_url: str | None = None
    extra: Annotated[dict[str, str], NoDecode, BeforeValidator(_json_object)] = Field(
        default_factory=dict
    )  # venue options that are not secrets (account id, region, ...)
    timeout_s: float = Field(default=10.0, gt=0)
    connections: int = Field(default=1, ge=1, le=8)
    # None: the venue's documented request budget.
    max_requests_per_s: float | None = Field(default=None, gt=0)


_POOL_KEYS = ("enabled", "health_check_interval_s", "reconnect_max_s", "breaker_failures", "routes")


class BrokersSettings(Section):
    """``[brokers]``: which venues are on, how the pool treats them, plus a ``[brokers.NAME]``
    table per venue. ``routes`` maps an asset class or a symbol to venues in preference order
    (later ones are failover backups)."""

    tables_hint: ClassVar[str] = "or a [brokers.NAME] table"
    enabled: NameList = Field(default_factory=list)
    health_check_interval_s: float = Field(default=30.0, gt=0)
    reconnect_max_s: float = Field(default=60.0, gt=0)
    breaker_failures: int = Field(default=5, ge=1)
    routes: Annotated[dict[str, NameList], NoDecode, BeforeValidator(_json_object)] = Field(
        default_factory=dict
    )
    venues: dict[str, BrokerSettings] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _tables(cls, data: Any) -> Any:
        return _collect_tables(data, _POOL_KEYS, "venues")


class StrategiesSettings(Section):
    """``[strategies]``: which strategies run, plus a ``[strategies.NAME]`` table of parameters
    each (names and parameters are checked by the strategy registry, not here)."""

    tables_hint: ClassVar[str] = "or a [strategies.NAME] table of parameters"
    enabled: NameList = Field(default_factory=lambda: ["sma_cross"])
    # Share of the account per enabled strategy; those not named split what is left equally.
    allocation: dict[str, Annotated[float, Field(gt=0, le=1)]] = Field(default_factory=dict)
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _tables(cls, data: Any) -> Any:
        out = _collect_tables(data, ("enabled", "allocation"), "params")
        if isinstance(out, dict) and "allocation" in out:
            out["allocation"] = _json_object(out["allocation"])  # from env or --set: JSON text
        return out

    @model_validator(mode="after")
    def _shares(self) -> StrategiesSettings:
        unknown = sorted(set(self.allocation) - set(self.enabled))
        if unknown:
            raise ValueError(f"allocation names strategies that are not enabled: {unknown}")
        total = sum(self.allocation.values())
        if total > 1 + 1e-12:
            raise ValueError(f"allocations add up to {total:g}; at most 1")
        if total >= 1 - 1e-12 and len(self.allocation) < len(self.enabled):
            raise ValueError("allocations leave nothing for the enabled strategies not named")
        return self

    def shares(self) -> dict[str, float]:
        """Each enabled strategy's share of the account."""
        rest = [n for n in self.enabled if n not in self.allocation]
        left = 1.0 - sum(self.allocation.values())
        return {n: self.allocation.get(n, left / len(rest) if rest else 0.0) for n in self.enabled}


class BreakerSettings(Section):
    """The circuit breaker (off unless ``enabled``); fractions are of equity."""

    enabled: bool = False
    max_loss: float | None = Field(default=None, gt=0, lt=1)
    window_hours: float = Field(default=24.0, gt=0)
    max_drawdown: float | None = Field(default=None, gt=0, lt=1)
    max_consecutive_losses: int | None = Field(default=None, ge=1)
    vol_multiple: float | None = Field(default=None, gt=1)
    vol_short: int = Field(default=20, ge=2)
    vol_long: int = Field(default=250, ge=3)
    cooldown_hours: float = Field(default=24.0, gt=0)
    max_trips_per_day: int = Field(default=3, ge=1)
    on_trip: Annotated[Literal["reducing", "halted"], BeforeValidator(_lower)] = "reducing"


class RiskSettings(Section):
    max_position_size: Decimal = Field(default=Decimal(1_000_000), gt=0)
    max_order_notional: Decimal = Field(default=Decimal(1_000_000), gt=0)
    kill_switch: bool = False
    enable_gpu: bool = False
    # Optional limits (unset = no limit); fractions are of equity.
    max_portfolio_heat: float | None = Field(default=None, gt=0, le=1)
    max_position_quantity: Decimal | None = Field(default=None, gt=0)
    max_concentration: float | None = Field(default=None, gt=0)
    max_gross_leverage: float | None = Field(default=None, gt=0)
    max_net_leverage: float | None = Field(default=None, gt=0)
    max_open_orders: int | None = Field(default=None, ge=1)
    max_orders_per_second: int | None = Field(default=None, ge=1)
    allowed_symbols: NameList | None = None
    circuit_breaker: BreakerSettings = Field(default_factory=BreakerSettings)


class NeuralSettings(Section):
    models: StrList = Field(default_factory=lambda: ["lstm", "transformer"])
    device: Annotated[Literal["auto", "cpu", "cuda"], BeforeValidator(_lower)] = "auto"
    # Model weights (safetensors) live here; the registry itself is in the database.
    models_dir: UserPath = Path("./data/models")
    # Live error over the registered test error above this ratio flags drift.
    drift_ratio: float = Field(default=1.5, gt=1)


class MemorySettings(Section):
    agentdb_path: UserPath = Path("./data/agentdb")
    cache_size: int = Field(default=10_000, gt=0)


_DB_URL = re.compile(r"^(sqlite|postgresql)(\+[A-Za-z0-9_]+)?://(?P<rest>.*)$")


class DatabaseSettings(Section):
    url: str = "sqlite:///./data/neural_trader.db"
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _sqlalchemy_url(cls, url: str) -> str:
        match = _DB_URL.match(url.strip())
        if match is None:
            raise ValueError(
                "must be an SQLAlchemy URL with a sqlite or postgresql scheme, e.g. "
                "sqlite:///./data/neural_trader.db or postgresql+psycopg://user:pass@host/db"
            )
        if match["rest"] == "" and not url.startswith("sqlite"):
            raise ValueError("a postgresql URL needs a host and database after '://'")
        return url.strip()


class DataSettings(Section):
    dir: UserPath = Path("./data")
    results_dir: UserPath = Path("./results")


class PaperSettings(Section):
    """The simulated venue: cash, fees, slippage and fill limits."""

    starting_cash: Decimal = Field(default=Decimal(100_000), gt=0)
    currency: Annotated[str, BeforeValidator(_upper)] = Field(
        default="USD", pattern=r"^[A-Z][A-Z0-9]{2,9}$"
    )
    commission_per_share: Decimal = Field(default=Decimal(0), ge=0)
    commission_bps: Decimal = Field(default=Decimal(0), ge=0)
    commission_min: Decimal = Field(default=Decimal(0), ge=0)
    slippage_bps: Decimal = Field(default=Decimal(0), ge=0)
    max_volume_participation: float | None = Field(default=None, gt=0, le=1)


class RunSettings(Section):
    """The main job (``neural-trader run``): paper trading over a replay of bundled data."""

    symbols: NameList = Field(default_factory=lambda: ["SPX"], min_length=1)
    start: date | None = None
    # Replay speed in bars per second; 0 replays as fast as possible.
    speed: float = Field(default=20.0, ge=0, allow_inf_nan=False)
    until_end: bool = False
    # News file (CSV or JSONL: time, symbols, headline) replayed among the bars.
    news: UserPath | None = None
    # Where orders go: "sim" (the in-process simulated venue) or "pool" (the BrokerPool of
    # [brokers]: its routes, reconnection, reconciliation; paper alone by default).
    venue: Literal["sim", "pool"] = "sim"


class RestSettings(Section):
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8080, ge=1, le=65535)


class ApiSettings(Section):
    """``[api]``: the API server (``neural-trader serve``); ``[api.rest]`` is its address."""

    rest: RestSettings = Field(default_factory=RestSettings)
    # Run the paper session inside the server, so that orders sent over the API fill.
    trading: bool = True
    account: str = Field(default="paper", min_length=1, max_length=64)
    access_token_minutes: float = Field(default=15.0, gt=0, le=24 * 60)
    refresh_token_days: float = Field(default=7.0, gt=0, le=365)
    # Seconds a user's role and disabled flag are cached between database reads.
    auth_cache_seconds: float = Field(default=1.0, ge=0, le=60)
    # Sign access tokens with this (32+ characters) instead of a key kept in the database.
    jwt_secret: SecretStr | None = None
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    cors_origins: StrList = Field(default_factory=list)
    ws_queue_size: int = Field(default=1024, ge=1)
    ws_heartbeat_seconds: float = Field(default=15.0, gt=0)
    ws_replay_size: int = Field(default=1000, ge=0)
    job_workers: int = Field(default=1, ge=1, le=32)
    # Requests per second each API key or user (and each client address on /api/v1/auth/*)
    # may make on average, and how many at once (0: the rate rounded up); rate 0: no limit.
    rate_limit_per_s: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    rate_limit_burst: int = Field(default=0, ge=0)


class RedisSettings(Section):
    url: str | None = None

    @field_validator("url")
    @classmethod
    def _redis_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return url


class LogSettings(Section):
    model_config = ConfigDict(
        validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(_upper)] = "INFO"
    # ``json`` would shadow BaseModel.json; the key in files and the environment is ``json``.
    # Unset: JSON lines unless the log goes to a terminal (then console text for people).
    json_: bool | None = Field(default=None, alias="json")


class TelemetrySettings(Section):
    """``[telemetry]``: OpenTelemetry traces, exported over OTLP/HTTP when an endpoint is set."""

    otlp_endpoint: str | None = None  # e.g. http://localhost:4318/v1/traces; unset: off
    service_name: str = Field(default="neural-trader", min_length=1)

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return url


# -- the settings ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Sources:
    """The sources of one :func:`load_settings` call, highest precedence first."""

    cli: dict[str, Any]
    env: Mapping[str, str]
    env_source: EnvSettingsSource
    file: Path | None
    file_source: TomlConfigSettingsSource


_ACTIVE: ContextVar[_Sources | None] = ContextVar("neural_trader_config_sources", default=None)


class Settings(BaseSettings):
    """Everything configurable. Build it with :func:`load_settings` (``Settings()`` reads the
    process environment and the default file the same way, but reports pydantic's raw errors)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        case_sensitive=False,
        extra="forbid",
    )

    brokers: BrokersSettings = Field(default_factory=BrokersSettings)
    strategies: StrategiesSettings = Field(default_factory=StrategiesSettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    neural: NeuralSettings = Field(default_factory=NeuralSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    paper: PaperSettings = Field(default_factory=PaperSettings)
    run: RunSettings = Field(default_factory=RunSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        active = _ACTIVE.get()
        if active is None:
            file = _config_path(None, os.environ)
            return init_settings, env_settings, _file_source(settings_cls, file)
        return init_settings, active.env_source, active.file_source

    def redacted(self) -> dict[str, Any]:
        """A JSON-able dict for display: secrets as ``**********``, URL passwords masked."""
        out = self.model_dump(mode="json", by_alias=True)
        out["database"]["url"] = _mask_url(out["database"]["url"])
        if out["redis"]["url"] is not None:
            out["redis"]["url"] = _mask_url(out["redis"]["url"])
        return out


# -- building the sources -------------------------------------------------------------------------
class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source reading a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = dict(environ)
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        if self.case_sensitive:
            return dict(self._environ)
        return {key.lower(): value for key, value in self._environ.items()}


def _config_path(config_file: str | Path | None, env: Mapping[str, str]) -> Path | None:
    """The file to read: ``config_file``, else ``$NT_CONFIG``, else ``./config.toml`` if it
    exists; ``None`` when there is none. A file asked for by name must exist."""
    if config_file is not None:
        path, how = Path(config_file), ""
    elif env.get(CONFIG_ENV_VAR, "").strip():
        path, how = Path(env[CONFIG_ENV_VAR].strip()), f" (from env {CONFIG_ENV_VAR})"
    elif DEFAULT_CONFIG_FILE.is_file():
        return DEFAULT_CONFIG_FILE
    else:
        return None
    path = path.expanduser()
    if not path.exists():
        raise ConfigError(f"config file {path}{how} not found")
    if not path.is_file():
        raise ConfigError(f"config file {path}{how} is not a file")
    return path


def _file_source(settings_cls: type[BaseSettings], path: Path | None) -> TomlConfigSettingsSource:
    try:
        return TomlConfigSettingsSource(settings_cls, toml_file=path)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text: {exc.reason}") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from None


def _env_source(env: Mapping[str, str]) -> EnvSettingsSource:
    source = _MappingEnvSource(Settings, env)
    try:
        source()
    except SettingsError as exc:
        field = str(exc).split('"')[1] if '"' in str(exc) else ""
        names = _env_names(env, (field,)) if field else []
        where = ", ".join(names) or "an NT_ environment variable"
        reason = exc.__cause__ or exc
        raise ConfigError(f"{where}: not valid JSON for [{field}] ({reason})") from None
    return source


def _env_names(env: Mapping[str, str], path: tuple[str, ...]) -> list[str]:
    stem = (ENV_PREFIX + ENV_DELIMITER.join(path)).upper()
    return sorted(
        name
        for name in env
        if name.upper() == stem or name.upper().startswith(stem + ENV_DELIMITER)
    )


def _expand_overrides(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """CLI overrides as one nested dict; dotted keys (``risk.max_position_size``) are paths."""
    out: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        parts = [part.strip() for part in str(key).split(".")]
        if not all(parts):
            raise ConfigError(
                f"override key {key!r} (from cli) is not a dotted key like risk.kill_switch"
            )
        node = out
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                where = ".".join(parts[: i + 1])
                raise ConfigError(f"override {key} (from cli) conflicts with the value of {where}")
            node = child
        node[parts[-1]] = _merge(node.get(parts[-1]), _plain(value))
    for name in out:
        if name.startswith("_"):
            raise ConfigError(f"{name} (from cli): unknown section")
    return _fold_tables(out)


def _fold_tables(cli: dict[str, Any]) -> dict[str, Any]:
    """``brokers.venues.NAME`` -> ``brokers.NAME`` (and ``strategies.params.NAME`` ->
    ``strategies.NAME``), the spelling files and the environment use, so that sources merge
    table by table in precedence order (a dumped Settings can be fed back as overrides)."""
    for section, inner in _TABLES.items():
        body = cli.get(section)
        if not (isinstance(body, dict) and isinstance(body.get(inner), dict)):
            continue
        folded = dict(body.pop(inner))
        for key, value in body.items():
            folded[key] = _merge(folded.get(key), value)
        cli[section] = folded
    return cli


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _merge(old: Any, new: Any) -> Any:
    if isinstance(old, dict) and isinstance(new, dict):
        merged = dict(old)
        for key, value in new.items():
            merged[key] = _merge(merged.get(key), value)
        return merged
    return new


@contextmanager
def _active(sources: _Sources) -> Iterator[None]:
    token = _ACTIVE.set(sources)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def load_settings(
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from ``overrides`` (the command line: nested or dotted keys) > ``env`` (default
    ``os.environ``; ``NT_`` prefix, ``__`` nesting) > the TOML file (``config_file``, else
    ``$NT_CONFIG``, else ``./config.toml`` if present) > defaults. Raises ConfigError."""
    environ: Mapping[str, str] = os.environ if env is None else env
    chosen = _config_path(config_file, environ)
    sources = _Sources(
        cli=_expand_overrides(overrides),
        env=environ,
        env_source=_env_source(environ),
        file=chosen,
        file_source=_file_source(Settings, chosen),
    )
    try:
        with _active(sources):
            return Settings(**sources.cli)
    except SettingsError as exc:
        raise ConfigError(f"settings could not be read: {exc}") from None
    except ValidationError as exc:
        lines = [_describe(error, sources) for error in exc.errors(include_url=False)]
        raise ConfigError("; ".join(lines)) from None


# -- explaining a validation error ----------------------------------------------------------------
_TABLES = {"brokers": "venues", "strategies": "params"}


def _candidates(loc: tuple[int | str, ...]) -> list[tuple[int | str, ...]]:
    """The user's spelling of a pydantic location first: ``brokers.venues.alpaca`` is written
    ``[brokers.alpaca]``."""
    if len(loc) >= 3 and _TABLES.get(str(loc[0])) == loc[1]:
        return [(loc[0], *loc[2:]), loc]
    return [loc]


def _reach(data: Any, path: tuple[int | str, ...]) -> tuple[int | str, ...] | None:
    """How much of ``path`` ``data`` supplies: the prefix ending at a leaf (a leaf replaces
    everything beneath it when sources merge), or ``None`` when ``data`` lacks the key."""
    node = data
    for depth, part in enumerate(path):
        if not isinstance(node, Mapping):
            return path[:depth]
        if part not in node:
            return None
        node = node[part]
    return path


def _origin(loc: tuple[int | str, ...], sources: _Sources) -> tuple[str, tuple[int | str, ...]]:
    """Which source supplied ``loc``, checked in precedence order, and the key as written there."""
    candidates = _candidates(loc)
    env_data = sources.env_source()
    labelled = (("cli", sources.cli), ("env", env_data), ("file", sources.file_source()))
    for label, data in labelled:
        for path in candidates:
            reached = _reach(data, path)
            if reached is None:
                continue
            if label == "env":
                return _env_label(reached, sources.env), path
            if label == "file":
                return f"file {sources.file}", path
            return label, path
    return "default", candidates[0]


def _env_label(reached: tuple[int | str, ...], env: Mapping[str, str]) -> str:
    by_upper = {name.upper(): name for name in env}
    for size in range(len(reached), 0, -1):
        stem = (ENV_PREFIX + ENV_DELIMITER.join(str(p) for p in reached[:size])).upper()
        if stem in by_upper:
            return f"env {by_upper[stem]}"
    return "env " + (ENV_PREFIX + ENV_DELIMITER.join(str(p) for p in reached)).upper()


def _annotation_at(path: tuple[int | str, ...]) -> Any:
    """The declared type at a pydantic location (``None`` when the location is not declared)."""
    node: Any = Settings
    for part in path:
        if get_origin(node) in (Union, UnionType):
            node = next((a for a in get_args(node) if a is not NoneType), None)
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = next((f for n, f in node.model_fields.items() if part in (n, f.alias)), None)
            node = field.annotation if field is not None else None
        elif get_origin(node) is dict or get_origin(node) is list:
            node = get_args(node)[-1] if get_args(node) else None
        else:
            return None
    return node


def _is_secret(loc: tuple[int | str, ...]) -> bool:
    annotation = _annotation_at(loc)
    if annotation is SecretStr or SecretStr in get_args(annotation):
        return True
    return len(loc) >= 4 and loc[:2] == ("brokers", "venues") and loc[3] == "extra"


def _allowed_keys(parent: tuple[int | str, ...]) -> str:
    model = _annotation_at(parent)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return ""
    names = [f.alias or n for n, f in model.model_fields.items() if n not in _TABLES.values()]
    hint = getattr(model, "tables_hint", "")
    return f"; allowed: {', '.join(names)}" + (f" {hint}" if hint else "")


def _show(value: Any) -> str:
    if isinstance(value, str):
        text = _mask_url(value)
        shown = text if text and text == text.strip() and " " not in text else repr(text)
    else:
        shown = json.dumps(value, default=str) if isinstance(value, list | dict) else str(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _describe(error: ErrorDetails, sources: _Sources) -> str:
    loc = tuple(error["loc"])
    label, path = _origin(loc, sources)
    key = ".".join(str(part) for part in path) or "(settings)"
    if error["type"] == "extra_forbidden":
        section = "section" if len(loc) == 1 else "key"
        return f"{key} (from {label}): unknown {section}{_allowed_keys(loc[:-1])}"
    value = REDACTED if _is_secret(loc) else _show(error["input"])
    problem = error["msg"].removeprefix("Value error, ")
    return f"{key} = {value} (from {label}): {problem}"


_URL_PASSWORD = re.compile(r"(://[^/:@]*:)[^/@]*@")


def _mask_url(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    return _URL_PASSWORD.sub(r"\1***@", url)


__all__ = [
    "ApiSettings",
    "BrokerSettings",
    "BrokersSettings",
    "DataSettings",
    "DatabaseSettings",
    "LogSettings",
    "MemorySettings",
    "NeuralSettings",
    "PaperSettings",
    "RedisSettings",
    "RestSettings",
    "RiskSettings",
    "RunSettings",
    "Settings",
    "StrategiesSettings",
    "load_settings",
]
