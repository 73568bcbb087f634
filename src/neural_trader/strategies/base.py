"""The strategy base class: typed, validated parameters and synchronous handlers.

A strategy asks for orders through ``buy``/``sell``/``close`` and reads its position and equity;
it never talks to a venue, a database or the wall clock. The kernel binds it to a
:class:`StrategyContext` before the first event, the same in backtest, paper and live.

Parameters are declared as annotated class attributes with :func:`Param` and validated by
pydantic at construction, so a bad value fails with a :class:`StrategyError` naming it.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo

from neural_trader.core.events import Fill
from neural_trader.core.market_data import Bar, QuoteTick, TradeTick
from neural_trader.core.news import NewsItem
from neural_trader.core.orders import Order, OrderSide, OrderType, TimeInForce
from neural_trader.errors import StrategyError


def Param(  # noqa: N802 - reads like a type in class bodies, as pydantic's Field does
    default: Any,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    description: str = "",
) -> Any:
    """Declare a strategy parameter with its default and allowed range."""
    return Field(default, ge=ge, gt=gt, le=le, lt=lt, description=description)


class StrategyContext(Protocol):
    """What a strategy may ask of the kernel."""

    def submit(self, order: Order) -> Order: ...

    def cancel(self, client_order_id: str) -> None: ...

    def next_order_id(self, strategy_id: str) -> str: ...

    def now_ns(self) -> int: ...

    def position(self, symbol: str) -> Decimal: ...

    def equity(self) -> float: ...

    def cash(self) -> float: ...

    def last_price(self, symbol: str) -> float | None: ...

    def round_quantity(self, symbol: str, quantity: float) -> Decimal: ...

    def round_price(self, symbol: str, price: float) -> Decimal: ...

    def open_orders(self, strategy_id: str, symbol: str | None = None) -> list[Order]: ...


class Strategy:
    """Subclass, declare parameters, override the handlers you need."""

    name: ClassVar[str] = ""
    params_model: ClassVar[type[BaseModel]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields: dict[str, Any] = {}
        for attr, annotation in typing.get_type_hints(cls).items():
            value = getattr(cls, attr, None)
            if isinstance(value, FieldInfo):
                fields[attr] = (annotation, value)
        cls.params_model = create_model(
            f"{cls.__name__}Params",
            __config__=ConfigDict(extra="forbid", strict=False),
            **fields,
        )

    def __init__(
        self, strategy_id: str | None = None, symbols: list[str] | None = None, **params: object
    ) -> None:
        label = self.name or type(self).__name__
        try:
            validated = self.params_model(**params)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "?"
            msg = first["msg"] if first["type"] != "extra_forbidden" else "unknown parameter"
            raise StrategyError(
                f"{label}: parameter {where!r}: {msg} (got {first.get('input')!r})",
                strategy=label,
                parameter=where,
            ) from None
        self.params: dict[str, Any] = validated.model_dump()
        for key, value in self.params.items():
            setattr(self, key, value)
        self.check_params()
        self.id = strategy_id or label
        self.symbols = symbols
        self._ctx: StrategyContext | None = None

    @classmethod
    def from_params(
        cls,
        params: Mapping[str, object],
        strategy_id: str | None = None,
        symbols: list[str] | None = None,
    ) -> Self:
        """Build from user-supplied parameters (CLI, config), which can never be mistaken for
        ``strategy_id`` or ``symbols``: those names are refused as unknown parameters."""
        reserved = {"strategy_id", "symbols"} & set(params)
        if reserved:
            name = sorted(reserved)[0]
            raise StrategyError(
                f"{cls.name or cls.__name__}: parameter {name!r}: unknown parameter",
                strategy=cls.name,
                parameter=name,
            )
        return cls(strategy_id, symbols, **params)

    def check_params(self) -> None:
        """Override for checks that involve several parameters; raise StrategyError."""

    def handles(self, event: str) -> bool:
        """Whether the strategy acts on ``event`` (bar, quote, trade, news): the kernel routes
        it only those. A wrapper (the manager's) answers for what it wraps."""
        return overrides(type(self), event)

    # -- lifecycle ----------------------------------------------------------------------------
    def bind(self, ctx: StrategyContext) -> None:
        self._ctx = ctx

    @property
    def ctx(self) -> StrategyContext:
        if self._ctx is None:
            raise StrategyError(f"strategy {self.id} is not attached to a kernel")
        return self._ctx

    def on_start(self) -> None:
        """Called once before the first event."""

    def on_bar(self, bar: Bar) -> None:
        """Called for each bar of a subscribed symbol, after the venue matched on it."""

    def on_quote(self, quote: QuoteTick) -> None:
        """Called for each quote of a subscribed symbol, after the venue matched on it."""

    def on_trade(self, trade: TradeTick) -> None:
        """Called for each trade printed in a subscribed symbol, after the venue matched on it."""

    def on_news(self, item: NewsItem) -> None:
        """Called for each news item about a subscribed symbol (any symbol without a list)."""

    def on_fill(self, fill: Fill) -> None:
        """Called after the ledger applied one of this strategy's fills."""

    # -- reading state ------------------------------------------------------------------------
    def position(self, symbol: str) -> Decimal:
        return self.ctx.position(symbol)

    def flat(self, symbol: str) -> bool:
        return not self.ctx.position(symbol)

    @property
    def equity(self) -> float:
        return self.ctx.equity()

    # -- asking for orders --------------------------------------------------------------------
    def buy(self, symbol: str, quantity: float | Decimal | None = None, **kw: Any) -> Order | None:
        return self.order(symbol, OrderSide.BUY, quantity, **kw)

    def sell(self, symbol: str, quantity: float | Decimal | None = None, **kw: Any) -> Order | None:
        return self.order(symbol, OrderSide.SELL, quantity, **kw)

    def close(self, symbol: str) -> Order | None:
        """Flatten the position with a market order (None when already flat)."""
        qty = self.ctx.position(symbol)
        if not qty:
            return None
        side = OrderSide.SELL if qty > 0 else OrderSide.BUY
        return self.order(symbol, side, abs(qty))

    def cancel_all(self, symbol: str | None = None) -> None:
        for order in self.ctx.open_orders(self.id, symbol):
            self.ctx.cancel(order.client_order_id)

    def order(
        self,
        symbol: str,
        side: OrderSide,
        quantity: float | Decimal | None = None,
        *,
        fraction: float | None = None,
        order_type: OrderType = OrderType.MARKET,
        limit_price: float | None = None,
        stop_price: float | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        stop_loss: float | None = None,
    ) -> Order | None:
        """Build an order and hand it to the kernel (risk gate first).

        Give ``quantity`` or ``fraction`` (of equity, priced at the last close or the limit).
        ``stop_loss`` makes it a bracket: every fill places a protective stop there, and the
        risk gate's heat limit counts the distance to it as the risk of the position.
        Returns None when the size rounds down to nothing.
        """
        ctx = self.ctx
        if (quantity is None) == (fraction is None):
            raise StrategyError("give exactly one of quantity or fraction", strategy=self.id)
        if quantity is None:
            ref = limit_price if limit_price is not None else ctx.last_price(symbol)
            if not ref or ref <= 0:
                return None
            qty = ctx.round_quantity(symbol, ctx.equity() * float(fraction) / ref)  # type: ignore[arg-type]
        else:
            qty = ctx.round_quantity(symbol, quantity)  # type: ignore[arg-type]
        if qty <= 0:
            return None
        order = Order(
            ctx.next_order_id(self.id),
            self.id,
            symbol,
            side,
            qty,
            order_type,
            None if limit_price is None else ctx.round_price(symbol, limit_price),
            None if stop_price is None else ctx.round_price(symbol, stop_price),
            time_in_force,
            ctx.now_ns(),
            None if stop_loss is None else ctx.round_price(symbol, stop_loss),
        )
        return ctx.submit(order)


def overrides(kind: type[Strategy], event: str) -> bool:
    """Whether ``kind`` defines its own ``on_<event>`` handler."""
    return getattr(kind, f"on_{event}") is not getattr(Strategy, f"on_{event}")


__all__ = ["Param", "Strategy", "StrategyContext", "overrides"]
