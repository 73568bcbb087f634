"""StrategyManager: the registry's schemas, and each running strategy's lifecycle and capital.

A managed strategy is added to the kernel inside a thin :class:`ManagedStrategy` that owns its
state and its share of the account:

* **running** — gets every event; its ``fraction``-of-equity sizing sees ``allocation × equity``
  (and cash), so two strategies at 0.5 each size as if each had half the account;
* **paused** — still gets every event, so its indicators stay warm, but the one risk gate
  denies its new orders (rule ``strategy_halted``); its working orders are cancelled;
* **stopped** — gets no more events; its working orders are cancelled and, with
  ``flatten=True``, the positions in its symbols are closed with market orders (positions are
  the account's: a symbol two strategies trade is closed for both).

Every order still goes through the same gate as any other; the manager only flips the gate's
per-strategy switch and scales what the strategy believes its equity is. Allocation changes
are kept as :class:`AllocationDecision` records with the rule that made them, so a selection
policy (by recent performance, regime, or later the memory of past outcomes) is one function
from figures to weights, and its decisions can be read back.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from neural_trader.core.events import Fill
from neural_trader.core.market_data import Bar, QuoteTick, TradeTick
from neural_trader.core.news import NewsItem
from neural_trader.core.orders import Order
from neural_trader.errors import StrategyError
from neural_trader.risk.gate import PreTradeGate, TradingState
from neural_trader.strategies.base import Strategy, StrategyContext


class StrategyStatus(StrEnum):
    REGISTERED = "registered"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


@dataclass(frozen=True)
class ParamInfo:
    name: str
    type: str
    default: Any
    minimum: float | None
    maximum: float | None
    exclusive_minimum: float | None
    exclusive_maximum: float | None
    description: str


def parameter_schema(cls: type[Strategy]) -> list[ParamInfo]:
    """Each parameter of ``cls`` with its type, default and allowed range."""
    schema = cls.params_model.model_json_schema()
    out = []
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type") or " | ".join(
            str(p.get("type", p.get("$ref", "?"))) for p in prop.get("anyOf", [])
        )
        out.append(
            ParamInfo(
                name=name,
                type=str(kind or "object"),
                default=prop.get("default"),
                minimum=prop.get("minimum"),
                maximum=prop.get("maximum"),
                exclusive_minimum=prop.get("exclusiveMinimum"),
                exclusive_maximum=prop.get("exclusiveMaximum"),
                description=str(prop.get("description", "")),
            )
        )
    return out


def summary(cls: type[Strategy]) -> str:
    """The first sentence of the strategy module's docstring: what it does, in a line."""
    doc = (sys.modules[cls.__module__].__doc__ or cls.__doc__ or "").strip()
    first = doc.split("\n\n")[0].replace("\n", " ")
    return first


class KernelPort(Protocol):
    """What the manager needs of the kernel."""

    gate: PreTradeGate

    def add_strategy(self, strategy: Strategy) -> None: ...

    def open_orders(
        self, strategy_id: str | None = None, symbol: str | None = None
    ) -> list[Order]: ...

    def cancel(self, client_order_id: str) -> None: ...

    def equity(self) -> float: ...


class AllocatedContext:
    """The kernel's context as one strategy sees it: equity and cash scaled to its share."""

    def __init__(self, kernel: StrategyContext, allocation: float) -> None:
        self._kernel = kernel
        self.allocation = allocation

    def submit(self, order: Order) -> Order:
        return self._kernel.submit(order)

    def cancel(self, client_order_id: str) -> None:
        self._kernel.cancel(client_order_id)

    def next_order_id(self, strategy_id: str) -> str:
        return self._kernel.next_order_id(strategy_id)

    def now_ns(self) -> int:
        return self._kernel.now_ns()

    def position(self, symbol: str) -> Decimal:
        return self._kernel.position(symbol)

    def equity(self) -> float:
        return self._kernel.equity() * self.allocation

    def cash(self) -> float:
        return self._kernel.cash() * self.allocation

    def last_price(self, symbol: str) -> float | None:
        return self._kernel.last_price(symbol)

    def round_quantity(self, symbol: str, quantity: float) -> Decimal:
        return self._kernel.round_quantity(symbol, quantity)

    def round_price(self, symbol: str, price: float) -> Decimal:
        return self._kernel.round_price(symbol, price)

    def open_orders(self, strategy_id: str, symbol: str | None = None) -> list[Order]:
        return self._kernel.open_orders(strategy_id, symbol)


class ManagedStrategy(Strategy):
    """Stands in the kernel for one strategy and passes events on while it is not stopped."""

    name = "managed"

    def __init__(self, inner: Strategy, allocation: float) -> None:
        super().__init__(inner.id, inner.symbols)
        self.inner = inner
        self.allocation = allocation
        self.status = StrategyStatus.REGISTERED
        self.context: AllocatedContext | None = None
        self.seen: dict[str, None] = {}  # symbols it has had bars of, in order

    def handles(self, event: str) -> bool:
        return self.inner.handles(event)

    def bind(self, ctx: StrategyContext) -> None:
        super().bind(ctx)
        self.context = AllocatedContext(ctx, self.allocation)
        self.inner.bind(self.context)

    def on_start(self) -> None:
        self.inner.on_start()

    def on_bar(self, bar: Bar) -> None:
        if self.status is not StrategyStatus.STOPPED:
            if bar.symbol not in self.seen:
                self.seen[bar.symbol] = None
            self.inner.on_bar(bar)

    def on_quote(self, quote: QuoteTick) -> None:
        if self.status is not StrategyStatus.STOPPED:
            self.inner.on_quote(quote)

    def on_trade(self, trade: TradeTick) -> None:
        if self.status is not StrategyStatus.STOPPED:
            self.inner.on_trade(trade)

    def on_news(self, item: NewsItem) -> None:
        if self.status is not StrategyStatus.STOPPED:
            self.inner.on_news(item)

    def on_fill(self, fill: Fill) -> None:
        self.inner.on_fill(fill)


@dataclass(frozen=True)
class AllocationDecision:
    ts: int
    rule: str
    weights: dict[str, float]
    reason: str


@dataclass
class StrategyManager:
    """Registers, configures, starts, pauses and stops strategies on one kernel."""

    kernel: KernelPort
    managed: dict[str, ManagedStrategy] = field(default_factory=dict)
    decisions: list[AllocationDecision] = field(default_factory=list)

    def add(self, strategy: Strategy, allocation: float = 1.0) -> ManagedStrategy:
        """Register a configured strategy with its share of the account (0 < share <= 1);
        the shares of stopped strategies are free again."""
        if strategy.id in self.managed:
            raise StrategyError(f"strategy {strategy.id!r} is already registered")
        _check_share(strategy.id, allocation)
        held = (
            m.allocation for m in self.managed.values() if m.status is not StrategyStatus.STOPPED
        )
        total = sum(held) + allocation
        if total > 1.0 + 1e-12:
            raise StrategyError(
                f"allocations would add up to {total:.4g} of the account; at most 1",
                strategy=strategy.id,
                parameter="allocation",
            )
        managed = ManagedStrategy(strategy, allocation)
        self.managed[strategy.id] = managed
        return managed

    def get(self, strategy_id: str) -> ManagedStrategy:
        try:
            return self.managed[strategy_id]
        except KeyError:
            known = ", ".join(sorted(self.managed)) or "none"
            raise StrategyError(
                f"no managed strategy {strategy_id!r}; registered: {known}", strategy=strategy_id
            ) from None

    def start(self, strategy_id: str) -> None:
        """Put a registered strategy on the kernel (before the kernel starts) or resume it."""
        m = self.get(strategy_id)
        if m.status is StrategyStatus.STOPPED:
            raise StrategyError(f"strategy {strategy_id!r} is stopped; register it anew")
        if m.status is StrategyStatus.REGISTERED:
            self.kernel.add_strategy(m)
        self.kernel.gate.set_strategy_state(strategy_id, TradingState.ACTIVE)
        m.status = StrategyStatus.RUNNING

    def pause(self, strategy_id: str) -> None:
        m = self._live(strategy_id)
        self.kernel.gate.set_strategy_state(strategy_id, TradingState.HALTED)
        self._cancel_working(strategy_id)
        m.status = StrategyStatus.PAUSED

    def stop(self, strategy_id: str, flatten: bool = False) -> None:
        m = self._live(strategy_id)
        self._cancel_working(strategy_id)
        if flatten:
            # Closing orders go out before the switch: the gate lets them shrink the book.
            self.kernel.gate.set_strategy_state(strategy_id, TradingState.REDUCING)
            for symbol in m.inner.symbols or list(m.seen):
                m.inner.close(symbol)
        self.kernel.gate.set_strategy_state(strategy_id, TradingState.HALTED)
        m.status = StrategyStatus.STOPPED

    def allocate(self, weights: dict[str, float], ts: int, rule: str, reason: str) -> None:
        """Set new shares (strategies not named keep theirs) and record why."""
        for sid, share in weights.items():
            self.get(sid)
            _check_share(sid, share, zero_ok=True)  # 0 benches it: new entries size to nothing
        merged = {sid: weights.get(sid, m.allocation) for sid, m in self.managed.items()}
        if sum(merged.values()) > 1.0 + 1e-12:
            raise StrategyError(f"allocations add up to {sum(merged.values()):.4g}; at most 1")
        for sid, share in merged.items():
            m = self.managed[sid]
            m.allocation = share
            if m.context is not None:
                m.context.allocation = share
        self.decisions.append(AllocationDecision(ts, rule, dict(merged), reason))

    def status(self) -> dict[str, dict[str, Any]]:
        return {
            sid: {"status": m.status.value, "allocation": m.allocation, "strategy": m.inner.name}
            for sid, m in self.managed.items()
        }

    def _live(self, strategy_id: str) -> ManagedStrategy:
        m = self.get(strategy_id)
        if m.status not in (StrategyStatus.RUNNING, StrategyStatus.PAUSED):
            raise StrategyError(f"strategy {strategy_id!r} is {m.status.value}, not running")
        return m

    def configure(self, strategy_id: str, new: Strategy) -> None:
        """Put ``new`` (the same strategy with other parameters, already validated) in place
        of the registered one. On the kernel already, its working orders (the old one's
        decisions) are cancelled and the new one starts from the next bar; its share, its
        positions and its state stay."""
        m = self.get(strategy_id)
        if new.id != strategy_id:
            raise StrategyError(f"a new {strategy_id!r} must keep its id, got {new.id!r}")
        if m.context is not None:
            self._cancel_working(strategy_id)
            new.bind(m.context)
            new.on_start()
        m.inner = new

    def _cancel_working(self, strategy_id: str) -> None:
        for order in self.kernel.open_orders(strategy_id):
            self.kernel.cancel(order.client_order_id)


def _check_share(strategy_id: str, share: float, zero_ok: bool = False) -> None:
    if not (0 <= share <= 1 if zero_ok else 0 < share <= 1):
        raise StrategyError(
            f"allocation of {strategy_id!r} must be in {'[' if zero_ok else '('}0, 1], got {share}",
            strategy=strategy_id,
            parameter="allocation",
        )
