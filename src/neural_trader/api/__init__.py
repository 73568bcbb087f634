"""The REST and WebSocket API (FastAPI): :func:`create_app` builds it on the facade."""

from neural_trader.api.app import create_app
from neural_trader.api.options import ApiOptions

__all__ = ["ApiOptions", "create_app"]
