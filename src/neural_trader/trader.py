"""The facade: the one object a notebook or script needs.

    nt = NeuralTrader()                                   # embedded default
    run = nt.backtest("sma_cross", "SPX", start="2000-01-01", fast=10, slow=30)
    print(run.metrics); run.report("sma.html")

Everything it does is a thin composition of the services below it; it owns their lifetimes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from neural_trader.analytics.report import write_html_report
from neural_trader.brokers.paper import FeeModel
from neural_trader.config import Settings, load_settings
from neural_trader.core.market_data import BarSeries
from neural_trader.core.news import NewsItem
from neural_trader.data import list_datasets, load_bars
from neural_trader.errors import NeuralError, NeuralTraderError, RiskError, ServiceError
from neural_trader.news import load_news
from neural_trader.risk.analyze import DEFAULT_BENCHMARK, analyze, synthetic_scenarios
from neural_trader.risk.gate import limits_from
from neural_trader.risk.report import RiskReport
from neural_trader.risk.var import METHODS
from neural_trader.storage import Store
from neural_trader.strategies import Strategy, strategy_class
from neural_trader.strategies.services import StrategyServices, attach_services
from neural_trader.trading.backtest import BacktestConfig, BacktestResult, run_backtest
from neural_trader.trading.holdings import Holdings, holdings
from neural_trader.trading.performance import account_performance
from neural_trader.trading.results import buy_and_hold, result_dict, trade_rows
from neural_trader.trading.session import STREAM, PaperSession

if TYPE_CHECKING:  # torch loads only when a neural model is used
    from neural_trader.neural.service import NeuralService
    from neural_trader.storage.registry import ModelRecord


@dataclass
class BacktestRun:
    """A finished backtest with its numbers, its trades and a way to write its report."""

    result: BacktestResult
    benchmark: np.ndarray | None = None  # buy-and-hold of the one traded instrument

    @property
    def metrics(self) -> dict[str, Any]:
        return self.result.summary.as_dict()

    @property
    def trades(self) -> list[dict[str, Any]]:
        return trade_rows(self.result)

    @property
    def equity(self) -> pd.Series:
        index = pd.to_datetime(self.result.timestamps, utc=True)
        return pd.Series(self.result.equity, index=index, name="equity")

    def to_dict(self) -> dict[str, Any]:
        return result_dict(self.result)

    def report(self, path: str | Path) -> Path:
        r = self.result
        return write_html_report(
            Path(path),
            title=f"{r.strategy} on {', '.join(r.symbols)}",
            timestamps_ns=r.timestamps,
            equity=r.equity,
            summary=r.summary,
            trades=self.trades,
            benchmark=self.benchmark,
        )


class NeuralTrader:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self._store: Store | None = None
        self._neural: NeuralService | None = None
        self._session: PaperSession | None = None
        self._stop: asyncio.Event | None = None
        self._closed = False

    # -- construction (the seed's new / from_settings) ---------------------------------------
    @classmethod
    def new(cls, **overrides: Any) -> NeuralTrader:
        """Embedded default plus dotted overrides, e.g. ``new(**{"risk.kill_switch": True})``."""
        return cls(load_settings(None, overrides))

    @classmethod
    def from_settings(cls, settings: Settings) -> NeuralTrader:
        return cls(settings)

    @classmethod
    def from_config(cls, path: str | Path, **overrides: Any) -> NeuralTrader:
        return cls(load_settings(path, overrides))

    @property
    def store(self) -> Store:
        self._alive()
        if self._store is None:
            self._store = Store(self.settings.database.url, echo=self.settings.database.echo)
        return self._store

    def _alive(self) -> None:
        if self._closed:
            raise ServiceError("this NeuralTrader has been shut down")

    # -- research -----------------------------------------------------------------------------
    def backtest(
        self,
        strategy: str | Strategy,
        symbols: str | list[str] = "SPX",
        start: str | None = None,
        end: str | None = None,
        *,
        data: BarSeries | list[BarSeries] | None = None,
        cash: float | Decimal | None = None,
        commission_bps: float | Decimal | None = None,
        slippage_bps: float | Decimal | None = None,
        news: list[NewsItem] | str | Path | None = None,
        **params: Any,
    ) -> BacktestRun:
        """Run ``strategy`` (a name plus ``params``, or an instance) over bundled or given data,
        with ``news`` (items, or a CSV/JSONL file) replayed among the bars."""
        self._alive()
        if isinstance(strategy, str):
            strat = self.strategy(strategy, params)
        else:
            strat = attach_services(strategy, self.services)
        if data is not None:
            series = data if isinstance(data, list) else [data]
        else:
            names = [symbols] if isinstance(symbols, str) else list(symbols)
            series = [load_bars(s, start=start, end=end) for s in names]
        paper = self.settings.paper
        config = BacktestConfig(
            starting_cash=Decimal(str(cash)) if cash is not None else paper.starting_cash,
            currency=paper.currency,
            fees=FeeModel(
                paper.commission_per_share,
                Decimal(str(commission_bps))
                if commission_bps is not None
                else paper.commission_bps,
                paper.commission_min,
            ),
            slippage_bps=(
                Decimal(str(slippage_bps)) if slippage_bps is not None else paper.slippage_bps
            ),
            max_volume_participation=paper.max_volume_participation,
            limits=limits_from(self.settings.risk),
        )
        items = load_news(news) if isinstance(news, str | Path) else news
        result = run_backtest(strat, series, config, news=items)
        return BacktestRun(result, buy_and_hold(series, result.timestamps))

    def analyze_risk(
        self,
        symbols: list[str],
        weights: list[float],
        confidence: float = 0.95,
        horizon: int = 1,
        start: str | None = None,
        end: str | None = None,
        methods: tuple[str, ...] = METHODS,
        *,
        benchmark: str | None = DEFAULT_BENCHMARK,
        stop_distances: list[float] | None = None,
        stress: bool = True,
        prices: Path | None = None,
        gan: str | None = None,
        gan_paths: int = 1000,
        gan_horizon: int = 21,
    ) -> RiskReport:
        """VaR/CVaR by every method, volatility, drawdown, beta, exposures, heat, component
        VaR and stress replays of a weighted basket of bundled symbols (or ``prices``); with
        ``gan`` (a registered GAN, e.g. ``gan-SPX``) also the loss over ``gan_paths`` generated
        paths of ``gan_horizon`` days of its factor."""
        self._alive()
        if gan is not None and prices is not None:
            raise RiskError("generated stress scenarios need the bundled history: drop --prices")
        report = analyze(
            symbols,
            weights,
            confidence=confidence,
            horizon=horizon,
            methods=methods,
            start=start,
            end=end,
            prices=prices,
            benchmark=benchmark,
            stop_distances=stop_distances,
            stress=stress,
        )
        if gan is None:
            return report
        record = self.neural.registry.get_model(gan)
        if gan_paths < 2 or gan_horizon < 1:
            raise RiskError(
                f"need at least 2 paths of 1 day or more, got {gan_paths}, {gan_horizon}"
            )
        paths = self.neural.sample_paths(gan, gan_paths, gan_horizon)
        synthetic = synthetic_scenarios(
            symbols, weights, record.symbol, paths, confidence, start=start, end=end,
            source=f"{record.name} v{record.version}",
        )  # fmt: skip
        return replace(report, synthetic=synthetic)

    def analyze_portfolio_risk(
        self,
        account: str = "paper",
        confidence: float = 0.95,
        horizon: int = 1,
        methods: tuple[str, ...] = METHODS,
        *,
        benchmark: str | None = DEFAULT_BENCHMARK,
        stress: bool = True,
    ) -> tuple[RiskReport, Holdings]:
        """The same report for the stored paper account: its open positions weighted by market
        value at the data time it has reached, on history up to that time only."""
        self._alive()
        state = self.store.load_account(account)
        if state is None:
            raise RiskError(
                f"no paper account named {account!r} in the database; `neural-trader run` "
                "creates one"
            )
        as_of = self.store.load_checkpoint(account, STREAM)
        if as_of is None:
            raise RiskError(f"account {account!r} has not processed any data yet")
        held = holdings(state, as_of)
        end = pd.Timestamp(as_of, unit="ns", tz="UTC").isoformat()
        report = analyze(
            held.symbols,
            held.weights,
            confidence=confidence,
            horizon=horizon,
            methods=methods,
            end=end,
            benchmark=benchmark,
            stress=stress,
            source=f"account {account}",
        )
        return report, held

    @property
    def services(self) -> StrategyServices:
        """What strategies built here are given: the NeuralService's forecasts, on first use."""
        return StrategyServices(forecasts=lambda: self.neural)

    def strategy(
        self, name: str, params: dict[str, Any] | None = None, symbols: list[str] | None = None
    ) -> Strategy:
        """A registered strategy with validated ``params`` and the services it needs."""
        built = strategy_class(name).from_params(params or {}, None, symbols)
        return attach_services(built, self.services)

    # -- neural -------------------------------------------------------------------------------
    @property
    def neural(self) -> NeuralService:
        self._alive()
        if self._neural is None:
            from neural_trader.neural.service import NeuralService

            self._neural = NeuralService(self.settings.neural, self.store)
        return self._neural

    def train_model(self, architecture: str, symbol: str = "SPX", **options: Any) -> ModelRecord:
        """Train ``architecture`` (lstm, transformer, gan) on a bundled symbol and register it
        in staging; ``options`` are :class:`TrainSpec` fields (epochs, window, end, hparams...).
        Runs in the worker thread, like an API job, and waits for it."""
        from neural_trader.neural.service import TrainSpec

        job = self.neural.submit(TrainSpec(architecture, symbol, **options))
        done = self.neural.wait(job.id)
        if done.status != "succeeded" or done.result is None:
            raise NeuralError(f"training {done.status}: {done.error or done.message}")
        return self.neural.registry.get_model(done.result["name"], done.result["version"])

    def predict(
        self, model: str, symbol: str | None = None, as_of: str | None = None
    ) -> dict[str, Any]:
        """The registered model's forecast (production version, else newest staging)."""
        from neural_trader.neural.service import model_name

        return self.neural.predict(model_name(model, symbol), symbol, as_of).as_dict()

    # -- trading ------------------------------------------------------------------------------
    async def start_trading(
        self, *, speed: float | None = None, until_end: bool = True, account: str = "paper"
    ) -> dict[str, Any]:
        """Paper-trade the enabled strategies on bundled data (resuming stored state) until the
        data ends or :meth:`shutdown` is called; returns the final portfolio."""
        self._alive()
        if self._session is not None:
            raise ServiceError("trading is already running")
        self._session = PaperSession(self.settings, self.store, account, self.services)
        self._stop = asyncio.Event()
        try:
            await self._session.run(
                self._stop, self.settings.run.speed if speed is None else speed, until_end
            )
            return self.get_portfolio(account)
        finally:
            self._session = None

    async def execute_strategy(
        self,
        name: str,
        symbols: list[str] | None = None,
        account: str | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Run one strategy (with ``params``) on the paper venue over the bundled replay."""
        self._alive()
        overrides: dict[str, Any] = {
            "strategies.enabled": [name],
            f"strategies.{name}": params,
        }
        if symbols is not None:
            overrides["run.symbols"] = symbols
        settings = load_settings(None, {**self.settings.model_dump(), **overrides})
        trader = NeuralTrader(settings)
        trader._store = self.store
        return await trader.start_trading(
            speed=0, until_end=True, account=account or f"exec-{name}"
        )

    def get_portfolio(self, account: str = "paper") -> dict[str, Any]:
        """The stored book of record for ``account`` (cash, positions, open orders)."""
        self._alive()
        state = self.store.load_account(account)
        if state is None:
            raise ServiceError(f"no paper account named {account!r} in the database")
        return {
            "account": account,
            "currency": state.currency,
            "starting_cash": str(state.starting_cash),
            "cash": str(state.cash),
            "commissions": str(state.total_commissions),
            "positions": [
                {
                    "symbol": p.symbol,
                    "quantity": str(p.quantity),
                    "avg_price": str(p.avg_price),
                    "realized_pnl": str(p.realized_pnl),
                }
                for p in state.positions
                if p.quantity
            ],
            "open_orders": [o.client_order_id for o, _ in state.open_orders],
        }

    def strategy_performance(self, account: str = "paper") -> dict[str, Any]:
        """Each strategy's trades, win rate, PnL (realized and open) on a stored account."""
        self._alive()
        if self.store.load_account(account) is None:
            raise ServiceError(f"no paper account named {account!r} in the database")
        as_of = self.store.load_checkpoint(account, STREAM)
        stats, trades = account_performance(self.store, account, as_of)
        return {
            "account": account,
            "data_time": None if as_of is None else pd.Timestamp(as_of, tz="UTC").isoformat(),
            "strategies": {name: p.as_dict() for name, p in stats.items()},
            "trades": len(trades),
        }

    # -- operations ---------------------------------------------------------------------------
    def health_check(self) -> dict[str, dict[str, Any]]:
        """Each component's status: ``ok`` or ``down`` with the reason."""
        report: dict[str, dict[str, Any]] = {}
        try:
            n = len(list_datasets())
            report["data"] = {"status": "ok", "datasets": n}
        except NeuralTraderError as exc:
            report["data"] = {"status": "down", "error": str(exc)}
        try:
            self.store.load_checkpoint("__health__", "__health__")
            report["database"] = {"status": "ok", "url": self.store.safe_url}
        except NeuralTraderError as exc:
            report["database"] = {"status": "down", "error": str(exc)}
        report["trading"] = {"status": "running" if self._session else "idle"}
        return report

    async def shutdown(self) -> None:
        """Stop trading (the session checkpoints on its way out) and close the database."""
        if self._stop is not None:
            self._stop.set()
        while self._session is not None:
            await asyncio.sleep(0.01)
        if self._neural is not None:
            self._neural.close()
            self._neural = None
        if self._store is not None:
            self._store.close()
            self._store = None
        self._closed = True
