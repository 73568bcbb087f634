"""The pre-trade risk gate: every order from every strategy, in every mode, passes here.

Rules, in the order they are checked (the first that trips denies the order):

1. trading state: HALTED (or the kill switch) denies everything; a bracket's protective stop
   passes everything else; REDUCING denies any order that would not shrink the position;
2. allowed symbols; 3. order rate per strategy (a sliding one-second window of the kernel's
   clock); 4. open orders; 5. a price to value the order by; 6. order notional;
7. a bracket's stop loss must lie on the losing side of the order's reference price;
8. for orders that grow exposure only: position quantity and notional per symbol,
   concentration (position notional / equity), gross and net leverage of the whole book, and
   portfolio heat: the equity lost if every stop is hit. A position's risk is its distance to
   the working protective stops that cover it (the stop orders on its closing side), an entry
   order's the distance to its own ``stop_loss``; whatever no stop covers counts at its full
   notional.

Same-side working orders count as if filled (the worst case); opposite-side ones are not
assumed to fill. A refusal is an :class:`OrderDenied` event naming the rule and its figures.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from neural_trader.config import RiskSettings
from neural_trader.core.events import OrderDenied
from neural_trader.core.orders import Order, OrderType
from neural_trader.core.portfolio import Portfolio

NS = 1_000_000_000


class TradingState(StrEnum):
    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


@dataclass
class RiskLimits:
    """Limits in the quote currency (notional) or as fractions of equity; None = no limit."""

    max_position_size: Decimal = Decimal(1_000_000)
    max_order_notional: Decimal = Decimal(1_000_000)
    kill_switch: bool = False
    max_position_quantity: Decimal | None = None
    max_concentration: float | None = None
    max_gross_leverage: float | None = None
    max_net_leverage: float | None = None
    max_open_orders: int | None = None
    max_orders_per_second: int | None = None
    allowed_symbols: frozenset[str] | None = None
    max_portfolio_heat: float | None = None


def limits_from(risk: RiskSettings) -> RiskLimits:
    """The gate's limits from the ``[risk]`` section of the settings."""
    return RiskLimits(
        max_position_size=risk.max_position_size,
        max_order_notional=risk.max_order_notional,
        kill_switch=risk.kill_switch,
        max_position_quantity=risk.max_position_quantity,
        max_concentration=risk.max_concentration,
        max_gross_leverage=risk.max_gross_leverage,
        max_net_leverage=risk.max_net_leverage,
        max_open_orders=risk.max_open_orders,
        max_orders_per_second=risk.max_orders_per_second,
        allowed_symbols=None if risk.allowed_symbols is None else frozenset(risk.allowed_symbols),
        max_portfolio_heat=risk.max_portfolio_heat,
    )


class PreTradeGate:
    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits
        self.state = TradingState.HALTED if limits.kill_switch else TradingState.ACTIVE
        self._max_order = float(limits.max_order_notional)
        self._max_position = float(limits.max_position_size)
        self._max_qty = (
            None if limits.max_position_quantity is None else float(limits.max_position_quantity)
        )
        self._sent: dict[str, deque[int]] = {}  # per strategy: times of its recent orders
        # Per-strategy switches (the StrategyManager's pause/stop); absent means active.
        self._strategy_state: dict[str, TradingState] = {}

    def set_kill_switch(self, on: bool) -> None:
        self.limits.kill_switch = on
        self.state = TradingState.HALTED if on else TradingState.ACTIVE

    def set_state(self, state: TradingState) -> None:
        """Operator switch: active, reducing (exposure may only shrink) or halted."""
        self.state = state
        self.limits.kill_switch = state is TradingState.HALTED

    def set_strategy_state(self, strategy_id: str, state: TradingState) -> None:
        """One strategy's switch: halted (paused or stopped) or reducing; active clears it."""
        if state is TradingState.ACTIVE:
            self._strategy_state.pop(strategy_id, None)
        else:
            self._strategy_state[strategy_id] = state

    def strategy_state(self, strategy_id: str) -> TradingState:
        return self._strategy_state.get(strategy_id, TradingState.ACTIVE)

    def check(
        self,
        order: Order,
        portfolio: Portfolio,
        ref_price: float | None,
        working_orders: Collection[Order] = (),
    ) -> OrderDenied | None:
        """None when the order may go to the venue; otherwise the denial to publish.

        ``ref_price`` values the order (its limit or stop, else the last price);
        ``working_orders`` are the orders sent and not yet finished, across the book.
        """
        lim = self.limits
        open_orders = len(working_orders)
        working = 0.0
        for o in working_orders:
            if o.symbol == order.symbol and o.side is order.side:
                working += float(o.leaves_quantity)
        if self.state is TradingState.HALTED:
            return OrderDenied(order, "kill_switch", "trading is halted (kill switch)")
        state = self.state
        if self._strategy_state:
            own = self._strategy_state.get(order.strategy_id)
            if own is TradingState.HALTED and order.parent_id is None:
                return OrderDenied(
                    order, "strategy_halted", f"strategy {order.strategy_id} is paused or stopped"
                )
            if own is TradingState.REDUCING:
                state = own
        if order.parent_id is not None:
            # A bracket's protective stop: the kernel sizes it to what is held, so it only ever
            # closes. Limits on new exposure do not apply to it.
            return None
        sign = order.side.sign
        qty = float(order.quantity)
        filled = portfolio.quantity_f(order.symbol)
        current = filled + working * sign
        after = current + qty * sign
        # Reduce-only: against the held position and, with the same-side orders already
        # working, never past flat.
        reduces = filled != 0 and (filled > 0) != (sign > 0) and abs(after) <= abs(filled)
        reduces = reduces and (after == 0 or (after > 0) == (filled > 0))
        if state is TradingState.REDUCING and not reduces:
            return OrderDenied(
                order,
                "reducing",
                "trading is reduce-only: this order would not shrink the position",
                {"position": filled, "after": after},
            )
        if lim.allowed_symbols is not None and order.symbol not in lim.allowed_symbols:
            return OrderDenied(order, "allowed_symbols", f"{order.symbol} is not an allowed symbol")
        if lim.max_orders_per_second is not None:
            denial = self._rate(order, lim.max_orders_per_second)
            if denial is not None:
                return denial
        if lim.max_open_orders is not None and open_orders >= lim.max_open_orders:
            return OrderDenied(
                order,
                "max_open_orders",
                f"{open_orders} orders already working",
                {"open_orders": open_orders, "limit": lim.max_open_orders},
            )
        if ref_price is None or not ref_price > 0:
            return OrderDenied(
                order,
                "no_reference_price",
                f"no price known for {order.symbol} to value the order against the limits",
            )
        mult = float(portfolio.instruments.get(order.symbol).multiplier)
        notional = qty * ref_price * mult
        if notional > self._max_order:
            return OrderDenied(
                order,
                "max_order_notional",
                f"order notional {notional:,.2f} exceeds {self._max_order:,.2f}",
                {"notional": notional, "limit": self._max_order},
            )
        if order.stop_loss is not None:
            stop = float(order.stop_loss)
            if (stop >= ref_price) if sign > 0 else (stop <= ref_price):
                return OrderDenied(
                    order,
                    "stop_loss_side",
                    f"stop loss {stop:,.8g} is not on the losing side of the "
                    f"{order.side.value} at {ref_price:,.8g}",
                    {"stop_loss": stop, "reference_price": ref_price},
                )
        if abs(after) <= abs(current) and (after == 0 or (after > 0) == (current > 0)):
            return None  # shrinks exposure without flipping: the exposure limits do not apply
        return self._exposure(order, portfolio, ref_price, mult, filled, after, working_orders)

    def _rate(self, order: Order, limit: int) -> OrderDenied | None:
        times = self._sent.get(order.strategy_id)
        if times is None:
            times = self._sent[order.strategy_id] = deque()
        now = order.ts_created
        while times and times[0] <= now - NS:
            times.popleft()
        if len(times) >= limit:
            return OrderDenied(
                order,
                "max_orders_per_second",
                f"strategy {order.strategy_id} sent {len(times)} orders in the last second",
                {"orders_last_second": len(times), "limit": limit},
            )
        times.append(now)
        return None

    def _exposure(
        self,
        order: Order,
        portfolio: Portfolio,
        price: float,
        mult: float,
        filled: float,
        after: float,
        working_orders: Collection[Order],
    ) -> OrderDenied | None:
        lim = self.limits
        if self._max_qty is not None and abs(after) > self._max_qty:
            return OrderDenied(
                order,
                "max_position_quantity",
                f"position would be {abs(after):,.8g} units, limit {self._max_qty:,.8g}",
                {"quantity": abs(after), "limit": self._max_qty},
            )
        exposure = abs(after) * price * mult
        if exposure > self._max_position:
            return OrderDenied(
                order,
                "max_position_size",
                f"position notional would be {exposure:,.2f}, limit {self._max_position:,.2f}",
                {"position_notional": exposure, "limit": self._max_position},
            )
        needs_book = (
            lim.max_concentration is not None
            or lim.max_gross_leverage is not None
            or lim.max_net_leverage is not None
            or lim.max_portfolio_heat is not None
        )
        if not needs_book:
            return None
        equity, book_gross, book_net = portfolio.book()
        if not equity > 0:
            return OrderDenied(order, "equity", f"equity is {equity:,.2f}: no new exposure")
        if lim.max_concentration is not None and exposure / equity > lim.max_concentration:
            return OrderDenied(
                order,
                "max_concentration",
                f"{order.symbol} would be {exposure / equity:.1%} of equity",
                {"concentration": exposure / equity, "limit": lim.max_concentration},
            )
        last = portfolio.last_price.get(order.symbol, price)
        before_value = filled * last * mult
        after_value = after * price * mult
        # Other symbols' working orders, as if filled (worst case for gross, signed for net).
        other_gross = other_net = 0.0
        for o in working_orders:
            if o.symbol != order.symbol:
                px = o.limit_price if o.limit_price is not None else o.stop_price
                o_price = float(px) if px is not None else portfolio.last_price.get(o.symbol, 0.0)
                o_mult = float(portfolio.instruments.get(o.symbol).multiplier)
                value = float(o.leaves_quantity) * o_price * o_mult
                other_gross += value
                other_net += value * o.side.sign
        if lim.max_gross_leverage is not None:
            gross = (book_gross + other_gross - abs(before_value) + abs(after_value)) / equity
            if gross > lim.max_gross_leverage:
                return OrderDenied(
                    order,
                    "max_gross_leverage",
                    f"gross leverage would be {gross:.2f}",
                    {"gross_leverage": gross, "limit": lim.max_gross_leverage},
                )
        if lim.max_net_leverage is not None:
            net = abs(book_net + other_net - before_value + after_value) / equity
            if net > lim.max_net_leverage:
                return OrderDenied(
                    order,
                    "max_net_leverage",
                    f"net leverage would be {net:.2f}",
                    {"net_leverage": net, "limit": lim.max_net_leverage},
                )
        if lim.max_portfolio_heat is not None:
            heat = portfolio_heat(portfolio, working_orders, order, price, book_gross) / equity
            if heat > lim.max_portfolio_heat:
                return OrderDenied(
                    order,
                    "max_portfolio_heat",
                    f"portfolio heat would be {heat:.2%} of equity",
                    {"heat": heat, "limit": lim.max_portfolio_heat},
                )
        return None


STOP_TYPES = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})


def _risk(quantity: float, price: float, stop: float | None, direction: int) -> float:
    """Loss per unit of multiplier if ``quantity`` held in ``direction`` runs to ``stop``
    (no stop: the whole notional)."""
    if stop is None:
        return quantity * price
    return quantity * max(0.0, (price - stop) * direction)


def portfolio_heat(
    portfolio: Portfolio,
    working_orders: Collection[Order],
    order: Order | None = None,
    order_price: float | None = None,
    gross: float | None = None,
) -> float:
    """Cash lost if every stop is hit: held positions against the stop orders that would close
    them, plus working entries (and ``order``, if given) against their own stop losses.

    ``gross`` is the book's gross exposure when the caller has it: with no stop working, every
    position is at risk in full, which is exactly that.
    """
    stops: dict[str, list[tuple[float, float, int]]] = {}  # symbol: (stop, quantity, side)
    entries = [] if order is None or order.parent_id is not None else [order]
    for o in working_orders:
        if o.stop_price is not None and o.order_type in STOP_TYPES:
            stops.setdefault(o.symbol, []).append(
                (float(o.stop_price), float(o.leaves_quantity), o.side.sign)
            )
        if o.parent_id is None:
            entries.append(o)
    fast = not stops and gross is not None
    held = [] if fast and len(entries) <= 1 else portfolio.held_f()
    total = gross if fast and gross is not None else _held_risk(held, stops)
    if len(entries) == 1:  # the common case: nothing else working
        o = entries[0]
        qty = float(o.leaves_quantity)
        position = portfolio.quantity_f(o.symbol)
        if position and (position > 0) != (o.side.sign > 0):
            qty -= min(qty, abs(position))
        return total + _entry_risk(o, portfolio, order_price if o is order else None, qty)
    # Entries against a position first close it; only what goes past flat adds risk. Which
    # entry fills first is unknown, so the closing is credited to the least risky ones first:
    # the figure is an upper bound.
    priced = sorted(
        ((_entry_risk(o, portfolio, order_price if o is order else None, 1.0), o) for o in entries),
        key=lambda item: item[0],
    )
    closable = {symbol: abs(qty) for symbol, qty, _, _ in held}
    for per_unit, o in priced:
        qty = float(o.leaves_quantity)
        position = portfolio.quantity_f(o.symbol)
        if position and (position > 0) != (o.side.sign > 0):
            closes = min(qty, closable.get(o.symbol, 0.0))
            closable[o.symbol] = closable.get(o.symbol, 0.0) - closes
            qty -= closes
        total += per_unit * qty
    return total


def _held_risk(
    held: list[tuple[str, float, float, float]], stops: dict[str, list[tuple[float, float, int]]]
) -> float:
    """Positions against the stops on their closing side, tightest first (the first to fire
    lose the least); what no stop covers counts in full."""
    total = 0.0
    for symbol, qty, price, mult in held:
        left = abs(qty)
        guards = stops.get(symbol)
        if guards:
            direction = 1 if qty > 0 else -1
            closing = sorted(
                (s for s in guards if s[2] != direction), key=lambda s: -s[0] * direction
            )
            for stop, quantity, _side in closing:
                covered = min(left, quantity)
                total += _risk(covered, price, stop, direction) * mult
                left -= covered
                if left <= 0:
                    break
        total += left * price * mult
    return total


def _entry_risk(
    order: Order, portfolio: Portfolio, price: float | None, quantity: float | None = None
) -> float:
    """Risk of an entry order (or of ``quantity`` units of it) against its own stop loss."""
    px = price if price is not None else _entry_price(order, portfolio)
    stop = None if order.stop_loss is None else float(order.stop_loss)
    qty = float(order.leaves_quantity) if quantity is None else quantity
    return _risk(qty, px, stop, order.side.sign) * float(
        portfolio.instruments.get(order.symbol).multiplier
    )


def _entry_price(order: Order, portfolio: Portfolio) -> float:
    px = order.limit_price if order.limit_price is not None else order.stop_price
    return float(px) if px is not None else portfolio.last_price.get(order.symbol, 0.0)
