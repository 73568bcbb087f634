"""Orders from the API onto the stored paper account, through the one kernel.

The server runs the same :class:`PaperSession` as ``neural-trader run`` (the stored account,
resumed, replaying bundled data on the live clock, with the enabled strategies), and an API
order is handed to that session's kernel like a strategy's: the risk gate checks it, the
paper venue matches it against the next replayed bar, the ledger recorder stores every state
it goes through. Nothing here places, fills or books an order itself.

All of it runs on the server's event loop (the routes that call it are ``async``), so the
kernel is only ever touched from one thread.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from neural_trader.api.encoding import exact, iso_ns
from neural_trader.api.events import API_STRATEGY, Actor, EventBridge
from neural_trader.api.hub import Hub
from neural_trader.api.metrics import ApiMetrics
from neural_trader.api.problems import Problem
from neural_trader.api.schemas import OrderRequest
from neural_trader.api.strategy_journal import StrategyJournal
from neural_trader.core.market_data import Bar, QuoteTick, TradeTick
from neural_trader.core.news import NewsItem
from neural_trader.core.orders import Order, OrderSide, OrderType, TimeInForce
from neural_trader.errors import DataError, ServiceError
from neural_trader.risk.gate import TradingState
from neural_trader.storage import AuditLog
from neural_trader.storage.queries import last_event
from neural_trader.trader import NeuralTrader
from neural_trader.trading.session import PaperSession

BAR_FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
QUOTE_FIELDS: tuple[str, ...] = ("bid", "ask", "bid_size", "ask_size")


class LiveSession(PaperSession):
    """The paper session, also showing each replayed bar and quote to ``shown`` once the
    kernel has processed it (for the ``bars:SYMBOL`` and ``quotes:SYMBOL`` channels; quotes
    exist when the session replays ticks, for strategies that quote)."""

    def __init__(
        self, trader: NeuralTrader, account: str, shown: Callable[[Bar | QuoteTick], None]
    ) -> None:
        super().__init__(trader.settings, trader.store, account, trader.services)
        self._shown = shown

    def events(self) -> Iterator[Bar | TradeTick | QuoteTick | NewsItem]:
        for event in super().events():
            yield event  # the runner dispatches it to the kernel before asking for the next
            if isinstance(event, Bar | QuoteTick):
                self._shown(event)


class OrderService:
    def __init__(
        self,
        trader: NeuralTrader,
        account: str,
        hub: Hub,
        metrics: ApiMetrics,
        audit: AuditLog,
    ) -> None:
        self.trader = trader
        self.account = account
        self.hub = hub
        self.session = LiveSession(trader, account, self._on_market)
        self.kernel = self.session.kernel
        self.gate = self.kernel.gate
        self.bridge = EventBridge(
            self.session.bus, account, hub, metrics, audit, self.session.venue.name
        )
        self.symbols = self.session.symbols
        self._bar_channels = {s: f"bars:{s}" for s in self.symbols}
        self._quote_channels = {s: f"quotes:{s}" for s in self.symbols}
        self.running = False
        self.failure: str | None = None
        self._restore_state()
        self.journal = StrategyJournal(trader.store, account, self.session, trader.services)
        self.journal.replay()  # what operators did to the strategies before a restart

    def _restore_state(self) -> None:
        """An operator's last trading state outlives a restart (a configured kill switch
        still wins over it)."""
        if self.gate.limits.kill_switch:
            return
        last = last_event(self.trader.store, self.account, "trading_state")
        if last is not None:
            self.gate.set_state(TradingState(last["payload"]["state"]))

    async def run(self, stop: asyncio.Event) -> None:
        """Replay until ``stop``; at the end of the data the session waits for ``stop``."""
        self.running = True
        try:
            await self.session.run(stop, self.trader.settings.run.speed, until_end=False)
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self.running = False

    def _on_market(self, event: Bar | QuoteTick) -> None:
        if isinstance(event, QuoteTick):
            channel, fields = self._quote_channels.get(event.symbol), QUOTE_FIELDS
        else:
            channel, fields = self._bar_channels.get(event.symbol), BAR_FIELDS
        if channel is not None and self.hub.has_subscribers(channel):
            shown = {f: getattr(event, f) for f in fields}
            self.hub.publish(channel, {"symbol": event.symbol, "time": iso_ns(event.ts), **shown})

    # -- orders -------------------------------------------------------------------------------
    def _tradable(self) -> None:
        if not self.running:
            raise Problem("unavailable", self.failure or "the paper session is not running")
        if self.session.status.finished:
            raise ServiceError(
                "the replay has reached the end of its data: a new order could never fill"
            )

    def submit(self, request: OrderRequest, actor: Actor) -> Order:
        """Build the order and hand it to the kernel (gate, venue, ledger, events)."""
        self._tradable()
        if request.symbol not in self.symbols:
            raise DataError(
                f"{request.symbol} is not traded by this server; traded: {', '.join(self.symbols)}"
            )
        coid = request.client_order_id or f"api-{uuid.uuid4().hex[:16]}"
        if coid in self.kernel.orders or coid in self.kernel.known_order_ids:
            raise Problem("conflict", f"an order with id {coid!r} already exists")
        order = Order(
            coid,
            API_STRATEGY,
            request.symbol,
            OrderSide(request.side),
            request.quantity,
            OrderType(request.type),
            request.limit_price,
            request.stop_price,
            TimeInForce(request.time_in_force),
            self.kernel.now_ns(),
            request.stop_loss,
        )
        self.bridge.origins[coid] = actor
        return self.kernel.submit(order)

    async def stored(self) -> None:
        """Return once what the last request changed is in the database: the ledger writes
        queued in this loop step are stored when it ends, so one yield suffices."""
        await asyncio.sleep(0)
        failure = self.session.recorder.failure
        if failure is not None:
            raise Problem("unavailable", f"the ledger could not be written: {failure}")

    def cancel(self, order_id: str, actor: Actor) -> Order:
        order = self.kernel.orders.get(order_id)
        if order is None and order_id in self.kernel.known_order_ids:
            raise Problem("conflict", f"order {order_id} is finished, not open")
        if order is None:
            raise Problem("not-found", f"no working order {order_id!r} in this session")
        if not order.is_open:
            raise Problem("conflict", f"order {order_id} is {order.status.value}, not open")
        self.bridge.origins[order_id] = actor
        self.kernel.cancel(order_id)
        return order

    # -- trading state ------------------------------------------------------------------------
    def set_state(self, state: TradingState, actor: Actor, reason: str) -> dict[str, Any]:
        """Switch the gate (active, reducing or halted) and keep the switch in the database."""
        self.gate.set_state(state)
        self.trader.store.record_event(
            self.account,
            self.kernel.event_ts,
            "trading_state",
            {"state": state.value, "by": actor.name, "reason": reason},
        )
        self.bridge.trading_state(state.value, actor, reason)
        return self.state_view()

    def state_view(self) -> dict[str, Any]:
        return {
            "state": self.gate.state.value,
            "kill_switch": self.gate.limits.kill_switch,
            "strategies": {
                sid: self.gate.strategy_state(sid).value for sid in self.kernel.strategies
            },
        }

    # -- views --------------------------------------------------------------------------------
    def status_view(self) -> dict[str, Any]:
        st = self.session.status
        return {
            "running": self.running,
            "finished": st.finished,
            "data_time": iso_ns(st.data_ts) if st.data_ts else None,
            "bars_replayed": st.bars_done,
            "bars_total": st.bars_total,
            "fills": st.fills,
            "denied": st.denials,
            "rejected": st.rejections,
            "symbols": self.symbols,
        }

    def book(self) -> dict[str, Any]:
        """The book of record as the session holds it: what the database holds once the loop
        step's writes are stored (same shape as ``NeuralTrader.get_portfolio``), read without
        a query on the event loop."""
        pf = self.session.portfolio
        return {
            "account": self.account,
            "currency": pf.currency,
            "starting_cash": str(pf.starting_cash),
            "cash": str(pf.cash),
            "commissions": str(pf.total_commissions),
            "positions": [
                {
                    "symbol": p.symbol,
                    "quantity": str(p.quantity),
                    "avg_price": str(p.avg_price),
                    "realized_pnl": str(p.realized_pnl),
                }
                for p in pf.open_positions()
            ],
            "open_orders": [o.client_order_id for o in self.kernel.open_orders()],
        }

    def marks(self) -> dict[str, dict[str, Any]]:
        """Each open position's last price, market value and unrealized PnL, live."""
        pf = self.session.portfolio
        out: dict[str, dict[str, Any]] = {}
        for p in pf.open_positions():
            last = pf.last_price.get(p.symbol)
            if last is None:
                continue
            price = Decimal(repr(last))
            multiplier = pf.instruments.get(p.symbol).multiplier
            out[p.symbol] = {
                "last_price": last,
                "market_value": exact(p.quantity * price * multiplier),
                "unrealized_pnl": exact(p.unrealized_pnl(price, multiplier)),
            }
        return out

    def equity(self) -> float:
        return self.session.portfolio.equity()
