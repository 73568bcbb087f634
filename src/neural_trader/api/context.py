"""Everything the routes share, built once per app from the settings: the facade, the
authenticator, the audit log, the WebSocket hub, the order service (when the server trades)
and the backtest jobs."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from neural_trader.api.hub import Hub
from neural_trader.api.jobs import BacktestJobs
from neural_trader.api.metrics import ApiMetrics
from neural_trader.api.options import ApiOptions
from neural_trader.api.orders_service import OrderService
from neural_trader.api.problems import Problem
from neural_trader.security import Authenticator
from neural_trader.storage import AuditLog
from neural_trader.trader import NeuralTrader


@dataclass
class ApiContext:
    trader: NeuralTrader
    options: ApiOptions
    auth: Authenticator
    audit: AuditLog
    hub: Hub
    metrics: ApiMetrics
    jobs: BacktestJobs
    orders: OrderService | None = None

    @property
    def account(self) -> str:
        return self.options.account

    def trading(self) -> OrderService:
        """The order service, or 503 when this server does not trade."""
        if self.orders is None:
            raise Problem(
                "unavailable",
                "this server does not run the paper session (api.trading is off, or it runs "
                "with several workers)",
            )
        return self.orders


def context_of(conn: HTTPConnection) -> ApiContext:
    ctx = getattr(conn.app.state, "ctx", None)
    if not isinstance(ctx, ApiContext):
        raise Problem("unavailable", "the server is starting or stopping")
    return ctx
