"""Running the API under uvicorn: one worker gets the app object built here (a bad setting
fails before the port is bound); several workers each build their own from the same config
file and overrides, handed over in the environment, and do not run the paper session (one
account must have one kernel: orders then answer 503 and reads work on every worker).

Once the app is built its objects (settings, models, the loaded data, the kernel) live as
long as the process, so they are frozen out of the garbage collector's full passes (a full
pass over them cost an order placed through the API a tenth of its time), and the youngest
generation is collected every 10,000 allocations instead of 700 (a request's objects die
with it; collecting every few requests cost an order a further 4 %)."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from neural_trader.api.app import create_app
from neural_trader.api.options import ApiOptions
from neural_trader.config import Settings, load_settings

SERVE_ENV = "NT_SERVE_SPEC"


def serve(
    settings: Settings,
    host: str,
    port: int,
    workers: int = 1,
    config: Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> None:
    level = settings.log.level.lower()
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,  # ours never prints query strings (tokens) or bodies
        "log_level": level,
        "lifespan": "on",
        "timeout_graceful_shutdown": 10,
        "server_header": False,
    }
    if workers <= 1:
        app = create_app(settings)
        _tune_gc()
        uvicorn.run(app, **common)
        return
    os.environ[SERVE_ENV] = json.dumps(
        {"config": None if config is None else str(config), "overrides": overrides or {}}
    )
    uvicorn.run("neural_trader.api.server:app_from_env", factory=True, workers=workers, **common)


def app_from_env() -> FastAPI:
    """The app of one of several workers (see the module doc)."""
    spec = json.loads(os.environ[SERVE_ENV])
    settings = load_settings(spec["config"], spec["overrides"])
    app = create_app(settings, ApiOptions.from_settings(settings, trading=False))
    _tune_gc()
    return app


def _tune_gc() -> None:
    """See the module doc."""
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
