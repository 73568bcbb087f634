"""An ensemble: a weighted vote of member strategies, trading as one strategy.

Members are ordinary strategies, built from the registry (``members=[{"name": "sma_cross",
"weight": 2, "params": {"fast": 5}}, ...]``, or that list as a JSON string from the command line)
or given as instances (``members=[(SmaCross(fast=5), 2.0), Momentum()]``). They see the same bars
as the ensemble, but they never reach the kernel: each is bound to a :class:`MemberBook`, a
paper book of its own that takes their market orders, fills them at the next bar's open of
their symbol (as the paper venue would, without costs) and answers their questions about
position, equity and working orders from that book. So a member decides exactly as it would
alone, and the ensemble reads its **target** in each symbol: the sign of its position plus its
working orders (+1 long, -1 short, 0 flat), known on the bar the member decided on.

On each bar, after the members ran, for the bar's symbol and every symbol a member ordered or
cancelled in: ``vote = Σ weight·target / Σ weight`` over all members (a member that does not
trade the symbol counts as flat); the ensemble wants long when ``vote >= threshold``, short when
``vote <= -threshold`` and ``allow_short``, else flat. When that differs from its position and
it has no working order there, it closes the position and opens the new one for ``fraction`` of
equity at the last close: market orders through the risk gate, filled at the next bar's open —
the same bar a member alone would have been filled on.

Members are bar-driven and may ask only for market orders without brackets: the member book is
no matching engine for limits and stops, and says so instead of filling them wrongly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from neural_trader.core.events import Fill
from neural_trader.core.market_data import Bar
from neural_trader.core.news import NewsItem
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType
from neural_trader.errors import StrategyError
from neural_trader.strategies.base import Param, Strategy, StrategyContext


class MemberSpec(BaseModel):
    """One member as data: a registered strategy name, its vote weight and parameters."""

    model_config = ConfigDict(extra="forbid")

    name: str
    weight: float = Field(default=1.0, gt=0)
    params: dict[str, Any] = Field(default_factory=dict)
    symbols: list[str] | None = None


class MemberBook:
    """The context a member runs in: its own positions, cash and working market orders.

    ``touched`` collects the symbols whose target changed (an order or a cancel), so the
    ensemble re-votes exactly there. Order ids follow the kernel's scheme (strategy, bar time,
    n-th order at that time), so they are the same on every replay.
    """

    def __init__(self, member: Strategy, touched: dict[str, None]) -> None:
        self.member = member
        self._outer: StrategyContext | None = None
        self._touched = touched
        self._qty: dict[str, Decimal] = {}
        self._working: dict[str, list[tuple[Order, int]]] = {}
        self._cash = Decimal(0)
        self._bar_ts = 0
        self._seq: dict[str, int] = {}
        self.orders: list[Order] = []

    def attach(self, outer: StrategyContext) -> None:
        """Take prices, lot sizes and the clock from the ensemble's own context."""
        self._outer = outer

    def start(self, cash: Decimal) -> None:
        """Begin flat with ``cash``."""
        self._cash = cash

    @property
    def outer(self) -> StrategyContext:
        if self._outer is None:
            raise StrategyError(f"member {self.member.id} is not attached to an ensemble")
        return self._outer

    # -- the ensemble's side ------------------------------------------------------------------
    def on_bar(self, bar: Bar) -> None:
        """Note the bar's time and fill the member's orders decided before it, at its open."""
        if bar.ts != self._bar_ts:
            self._bar_ts = bar.ts
            self._seq.clear()
        working = self._working.get(bar.symbol)
        if not working:
            return
        due = [(o, t) for o, t in working if t < bar.ts]
        if not due:
            return
        working[:] = [(o, t) for o, t in working if t >= bar.ts]
        price = self.outer.round_price(bar.symbol, bar.open)
        for order, _ in due:
            self._fill(order, price, bar.ts)

    def _fill(self, order: Order, price: Decimal, ts: int) -> None:
        qty = order.leaves_quantity
        order.fill(qty, price, ts)
        signed = qty if order.side is OrderSide.BUY else -qty
        self._qty[order.symbol] = self._qty.get(order.symbol, Decimal(0)) + signed
        self._cash -= signed * price
        fill_id = f"{order.client_order_id}@{order.filled_quantity}"
        self.member.on_fill(
            Fill(
                fill_id,
                order.client_order_id,
                order.strategy_id,
                order.symbol,
                order.side,
                qty,
                price,
                Decimal(0),
                ts,
                "MEMBER",
            )
        )

    def target(self, symbol: str) -> int:
        """Sign of the member's position once its working orders fill."""
        net = self._qty.get(symbol, Decimal(0))
        for order, _ in self._working.get(symbol, ()):
            net += order.leaves_quantity if order.side is OrderSide.BUY else -order.leaves_quantity
        return (net > 0) - (net < 0)

    # -- the StrategyContext the member sees --------------------------------------------------
    def submit(self, order: Order) -> Order:
        if order.order_type is not OrderType.MARKET or order.stop_loss is not None:
            raise StrategyError(
                f"ensemble member {self.member.id!r} asked for a {order.order_type.value} order"
                f"{' with a stop loss' if order.stop_loss is not None else ''}; members may "
                "only ask for plain market orders",
                strategy=order.strategy_id,
            )
        order.transition(OrderStatus.SUBMITTED, self.outer.now_ns())
        self._working.setdefault(order.symbol, []).append((order, self._bar_ts))
        self.orders.append(order)
        self._touched[order.symbol] = None
        return order

    def cancel(self, client_order_id: str) -> None:
        for symbol, working in self._working.items():
            for i, (order, _) in enumerate(working):
                if order.client_order_id == client_order_id:
                    order.transition(OrderStatus.CANCELED, self.outer.now_ns(), "canceled")
                    del working[i]
                    self._touched[symbol] = None
                    return

    def next_order_id(self, strategy_id: str) -> str:
        n = self._seq[strategy_id] = self._seq.get(strategy_id, 0) + 1
        return f"{strategy_id}-{self._bar_ts}-{n}"

    def now_ns(self) -> int:
        return self.outer.now_ns()

    def position(self, symbol: str) -> Decimal:
        return self._qty.get(symbol, Decimal(0))

    def equity(self) -> float:
        """Cash plus positions at the last prices (a unit multiplier, as order sizing uses)."""
        value = float(self._cash)
        for symbol, qty in self._qty.items():
            if qty:
                value += float(qty) * (self.outer.last_price(symbol) or 0.0)
        return value

    def cash(self) -> float:
        return float(self._cash)

    def last_price(self, symbol: str) -> float | None:
        return self.outer.last_price(symbol)

    def round_quantity(self, symbol: str, quantity: float) -> Decimal:
        return self.outer.round_quantity(symbol, quantity)

    def round_price(self, symbol: str, price: float) -> Decimal:
        return self.outer.round_price(symbol, price)

    def open_orders(self, strategy_id: str, symbol: str | None = None) -> list[Order]:
        if symbol is not None:
            return [o for o, _ in self._working.get(symbol, ())]
        return [o for working in self._working.values() for o, _ in working]


class Voter:
    """A member, its weight, the symbols it trades (None: all) and the book it runs in."""

    __slots__ = ("book", "strategy", "symbols", "weight")

    def __init__(self, strategy: Strategy, weight: float, touched: dict[str, None]) -> None:
        self.strategy = strategy
        self.weight = weight
        self.symbols = None if strategy.symbols is None else frozenset(strategy.symbols)
        self.book = MemberBook(strategy, touched)


DEFAULT_MEMBERS = [MemberSpec(name="sma_cross"), MemberSpec(name="momentum")]


class Ensemble(Strategy):
    name = "ensemble"

    members: list[MemberSpec] = Param(DEFAULT_MEMBERS, description="members and their weights")
    threshold: float = Param(0.5, gt=0, le=1, description="|weighted vote| needed to hold")
    allow_short: bool = Param(False, description="go short on a vote <= -threshold")
    fraction: float = Param(1.0, gt=0, le=1, description="fraction of equity per position")

    def __init__(
        self, strategy_id: str | None = None, symbols: list[str] | None = None, **params: object
    ) -> None:
        given = None
        if "members" in params:
            params["members"], given = _split_members(params["members"])
        super().__init__(strategy_id, symbols, **params)
        specs = [MemberSpec.model_validate(m) for m in self.members]
        strategies = given if given is not None else self._from_registry(specs)
        # Record every member parameter, defaults included: the record rebuilds the run.
        for record, member in zip(self.params["members"], strategies, strict=True):
            record["params"] = dict(member.params)
        self._touched: dict[str, None] = {}
        self.voters = [
            Voter(s, spec.weight, self._touched) for s, spec in zip(strategies, specs, strict=True)
        ]
        for i, s in enumerate(strategies):
            ticks = "quotes" if s.handles("quote") else "trades"
            if ticks == "quotes" or s.handles("trade"):
                raise StrategyError(
                    f"ensemble: parameter 'members.{i}': members are driven by bars only, and "
                    f"{type(s).__name__} handles {ticks}",
                    strategy=self.name,
                    parameter=f"members.{i}",
                )
        self._weight = sum(v.weight for v in self.voters)

    def strategies(self) -> list[Strategy]:
        """The member strategies, in the order of their specs."""
        return [v.strategy for v in self.voters]

    def check_params(self) -> None:
        if not self.members:
            raise StrategyError(
                "ensemble: parameter 'members' needs at least one member",
                strategy=self.name,
                parameter="members",
            )

    def _from_registry(self, specs: list[MemberSpec]) -> list[Strategy]:
        # Imported here: the registry module imports this one.
        from neural_trader.strategies import strategy_class

        members: list[Strategy] = []
        for i, spec in enumerate(specs):
            try:
                cls = strategy_class(spec.name)
                members.append(cls.from_params(spec.params, None, spec.symbols))
            except StrategyError as exc:
                inner = exc.context.get("parameter")
                where = f"members.{i}." + ("name" if inner is None else f"params.{inner}")
                raise StrategyError(
                    f"ensemble: parameter {where!r}: {exc.message}",
                    strategy=self.name,
                    parameter=where,
                ) from None
        return members

    # -- lifecycle ----------------------------------------------------------------------------
    def bind(self, ctx: StrategyContext) -> None:
        super().bind(ctx)
        for voter in self.voters:
            voter.book.attach(ctx)
            voter.strategy.bind(voter.book)

    def on_start(self) -> None:
        cash = Decimal(repr(self.ctx.equity()))
        for voter in self.voters:
            voter.book.start(cash)
            voter.strategy.on_start()

    def on_news(self, item: NewsItem) -> None:
        """Members that read news get it; their view shows in their next bar's vote."""
        for voter in self.voters:
            if voter.symbols is None or any(s in voter.symbols for s in item.symbols):
                voter.strategy.on_news(item)

    def on_bar(self, bar: Bar) -> None:
        sym = bar.symbol
        for voter in self.voters:
            voter.book.on_bar(bar)
            if voter.symbols is None or sym in voter.symbols:
                voter.strategy.on_bar(bar)
        touched = self._touched
        touched[sym] = None
        for symbol in touched:
            self._act(symbol)
        touched.clear()

    def vote(self, symbol: str) -> float:
        """The weighted vote of the members' targets in ``symbol``, in [-1, 1]."""
        total = 0.0
        for voter in self.voters:
            total += voter.weight * voter.book.target(symbol)
        return total / self._weight

    def _act(self, symbol: str) -> None:
        vote = self.vote(symbol)
        want = 1 if vote >= self.threshold else 0
        if self.allow_short and vote <= -self.threshold:
            want = -1
        ctx = self.ctx
        if ctx.open_orders(self.id, symbol):
            return
        qty = ctx.position(symbol)
        have = (qty > 0) - (qty < 0)
        if want == have:
            return
        if have:
            self.close(symbol)
        if want:
            side = OrderSide.BUY if want > 0 else OrderSide.SELL
            self.order(symbol, side, fraction=self.fraction)


def _split_members(raw: object) -> tuple[object, list[Strategy] | None]:
    """``members`` as given -> (what the parameter model validates, the instances if given).

    A JSON string (the command line) is parsed; a list holding strategy instances, alone or
    as ``(instance, weight)``, becomes their specs, and the instances themselves vote.
    """
    if isinstance(raw, str):
        try:
            return json.loads(raw), None
        except json.JSONDecodeError as exc:
            raise StrategyError(
                f"ensemble: parameter 'members': not valid JSON ({exc.msg} at {exc.pos})",
                strategy="ensemble",
                parameter="members",
            ) from None
    if not isinstance(raw, Sequence) or not any(_is_instance(m) for m in raw):
        return raw, None
    specs: list[dict[str, Any]] = []
    members: list[Strategy] = []
    for i, item in enumerate(raw):
        member, weight = item if isinstance(item, tuple) and len(item) == 2 else (item, 1.0)
        if not isinstance(member, Strategy) or any(member is m for m in members):
            raise StrategyError(
                f"ensemble: parameter 'members.{i}': give each member as a distinct strategy "
                f"instance or (instance, weight), not mixed with specs (got {item!r})",
                strategy="ensemble",
                parameter=f"members.{i}",
            )
        specs.append(
            {
                "name": member.name or type(member).__name__,
                "weight": weight,
                "params": dict(member.params),
                "symbols": member.symbols,
            }
        )
        members.append(member)
    return specs, members


def _is_instance(item: object) -> bool:
    return isinstance(item, Strategy) or (
        isinstance(item, tuple) and bool(item) and isinstance(item[0], Strategy)
    )


__all__ = ["DEFAULT_MEMBERS", "Ensemble", "MemberBook", "MemberSpec", "Voter"]
