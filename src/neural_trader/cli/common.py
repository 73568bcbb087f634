"""Options and helpers the commands share."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from neural_trader.config import Settings, load_settings
from neural_trader.errors import ConfigError

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config file (default: $NT_CONFIG or ./config.toml)."),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a setting, e.g. --set risk.max_position_size=5000."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]

console = Console(stderr=False)
err_console = Console(stderr=True)


def parse_pairs(pairs: list[str] | None, what: str) -> dict[str, str]:
    """``["a=1", "b.c=x"]`` -> ``{"a": "1", "b.c": "x"}``, refusing malformed items."""
    out: dict[str, str] = {}
    for item in pairs or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{what} must look like key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def settings_from(config: Path | None, sets: list[str] | None, **cli: Any) -> Settings:
    overrides: dict[str, Any] = dict(parse_pairs(sets, "--set"))
    overrides.update({k: v for k, v in cli.items() if v is not None})
    return load_settings(config, overrides)


def print_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
