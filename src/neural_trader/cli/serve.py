"""``neural-trader serve``: the REST and WebSocket API under uvicorn (127.0.0.1:8080 by
default, from ``[api.rest]``), paper-trading the stored account while it runs."""

from __future__ import annotations

from typing import Annotated

import typer

from neural_trader.cli.common import ConfigOpt, SetOpt, parse_pairs, settings_from


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default api.rest.host).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default api.rest.port).")
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes; with more than one, none trades.")
    ] = 1,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Serve the API; Ctrl-C or SIGTERM stops it gracefully (the session checkpoints)."""
    from neural_trader.api.server import serve as run_server  # FastAPI only when serving

    settings = settings_from(config, set_)
    rest = settings.api.rest
    run_server(
        settings, host or rest.host, port or rest.port, workers, config,
        dict(parse_pairs(set_, "--set")),
    )  # fmt: skip
