"""structlog, configured once from ``[log]``: JSON lines for machines (``json = true``, or
unset and the log is not a terminal) or console text for people, at ``level``, every line
carrying what was bound for the request (``request_id``, ``trace_id``) and passed through
:class:`Redactor` last, so that no credential reaches a log whatever a caller hands the
logger. Lines of the standard library's loggers (SQLAlchemy, Alembic, httpx, ...) go through
the same redactor and renderer.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

import structlog
from opentelemetry import trace
from pydantic import BaseModel, SecretBytes, SecretStr
from structlog.typing import EventDict, Processor, WrappedLogger

from neural_trader.api.encoding import json_text

REDACTED = "[REDACTED]"
_HANDLER_NAME = "neural_trader.logs"
# Keys whose values are credentials whatever they hold.
_SECRET_KEY = re.compile(
    r"authorization|password|passwd|passphrase|secret|token|api[_-]?key|cookie|credential",
    re.IGNORECASE,
)
# Credentials inside free text: query/form parameters, bearer/basic headers, URL userinfo,
# JWTs and the API keys and refresh tokens this package hands out.
_IN_TEXT = (
    (
        re.compile(
            r"(?i)\b((?:access_|refresh_|id_)?token|password|passwd|secret|client_secret|"
            r"api[_-]?key|api[_-]?secret|key)=[^&\s'\"]+"
        ),
        rf"\1={REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*):[^@\s/]*@"), rf"\1:{REDACTED}@"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"\bnt[kr]_[0-9a-f]{16}\.[A-Za-z0-9_-]+"), REDACTED),
)
# What each shape of _IN_TEXT needs somewhere in the text; without it none can match.
_MAYBE = re.compile(r"=|(?i:bearer|basic)|://|eyJ|nt[kr]_")


class Redactor:
    """A structlog processor that blanks credentials: values under secret-sounding keys,
    pydantic secrets, the plain text of ``known`` secrets (those of the settings) and the
    credential shapes of :data:`_IN_TEXT`, at any depth of the event."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is blanked whole.
        self.known = sorted({k for k in known if len(k) >= 4}, key=len, reverse=True)

    def __call__(self, logger: WrappedLogger, name: str, event: EventDict) -> EventDict:
        return {key: self._value(key, value) for key, value in event.items()}

    def _value(self, key: str, value: Any) -> Any:
        if key != "event" and _secret_key(key) and value is not None:
            return REDACTED
        return self.clean(value)

    def clean(self, value: Any) -> Any:
        if isinstance(value, int | float | bool) or value is None:
            return value
        if isinstance(value, SecretStr | SecretBytes):
            return REDACTED
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, BaseModel):
            return self.clean(value.model_dump())
        if isinstance(value, Mapping):
            return {k: self._value(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.clean(v) for v in value]
        return self.text(str(value))

    def text(self, text: str) -> str:
        for secret in self.known:
            if secret in text:
                text = text.replace(secret, REDACTED)
        if _MAYBE.search(text) is None:
            return text  # none of the shapes can match: most lines (ids, routes, figures)
        for pattern, replacement in _IN_TEXT:
            text = pattern.sub(replacement, text)
        return text


@functools.lru_cache(maxsize=4096)
def _secret_key(key: str) -> bool:
    return _SECRET_KEY.search(key) is not None


def secrets_of(model: BaseModel) -> list[str]:
    """The plain text of every ``SecretStr`` in ``model`` (the settings), to blank in logs."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            out.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, Mapping):
            for v in value.values():
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)

    walk(model)
    return out


def add_trace_id(logger: WrappedLogger, name: str, event: EventDict) -> EventDict:
    """The current OpenTelemetry span's trace and span ids, when one is recording."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event.setdefault("span_id", format(ctx.span_id, "016x"))
    return event


def _json_line(event: Any, **_: Any) -> str:
    return json_text(event)  # orjson: a fifth of a request's time went to the access log


def _renderer(json_lines: bool) -> Processor:
    if json_lines:
        return structlog.processors.JSONRenderer(serializer=_json_line)
    return structlog.dev.ConsoleRenderer(colors=False)


def _context() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        add_trace_id,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def processors(json_lines: bool, redactor: Redactor) -> list[Processor]:
    """The chain: request context, level and time, exceptions rendered to text (so the
    redactor sees them), the redactor, then the renderer."""
    return [
        *_context(),
        structlog.processors.format_exc_info,
        redactor,
        _renderer(json_lines),
    ]


class _LiveStream(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler on ``stream``, or on the ``sys.stderr`` of the moment."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream or sys.stderr)
        self.fixed = stream

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = self.fixed or sys.stderr
        super().emit(record)


def _route_stdlib(level: str, json_lines: bool, redactor: Redactor, stream: TextIO | None) -> None:
    """Replace our handler on the root logger (others, such as pytest's, stay)."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_context(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redactor,
            _renderer(json_lines),
        ],
    )
    handler = _LiveStream(stream)
    handler.setFormatter(formatter)
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def configure_logging(
    level: str,
    json_lines: bool | None,
    known_secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Configure structlog and the root logger for the process (idempotent: the last call
    wins). ``stream`` defaults to whatever ``sys.stderr`` is when a line is written;
    ``json_lines=None`` picks JSON unless that stream is a terminal."""
    if json_lines is None:
        json_lines = not _is_terminal(stream or sys.stderr)
    redactor = Redactor(known_secrets)
    _route_stdlib(level, json_lines, redactor, stream)
    structlog.configure(
        processors=processors(json_lines, redactor),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=_StreamLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


class _StreamLoggerFactory:
    """Print loggers on ``stream``, or on the ``sys.stderr`` of the moment (pytest's capture
    and a redirected stderr see the lines)."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream

    def __call__(self, *args: Any) -> structlog.PrintLogger:
        return structlog.PrintLogger(self.stream or sys.stderr)
