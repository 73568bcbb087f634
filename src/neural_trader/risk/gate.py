"""The pre-trade risk gate: every order from every strategy, in every mode, passes here.

Rules, in the order they are checked (the first that trips denies the order):

1. trading state: HALTED (or the kill switch) denies everything; REDUCING denies any order
   that would not shrink the position it trades;
2. allowed symbols; 3. order rate per strategy (a sliding one-second window of the kernel's
   clock); 4. open orders; 5. a price to value the order by; 6. order notional;
7. for orders that grow exposure only: position quantity and notional per symbol,
   concentration (position notional / equity), gross and net leverage of the whole book.

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
from neural_trader.core.orders import Order
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

    def set_kill_switch(self, on: bool) -> None:
        self.limits.kill_switch = on
        self.state = TradingState.HALTED if on else TradingState.ACTIVE

    def set_state(self, state: TradingState) -> None:
        """Operator switch: active, reducing (exposure may only shrink) or halted."""
        self.state = state
        self.limits.kill_switch = state is TradingState.HALTED

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
        sign = order.side.sign
        qty = float(order.quantity)
        filled = portfolio.quantity_f(order.symbol)
        current = filled + working * sign
        after = current + qty * sign
        # Reduce-only: against the held position and, with the same-side orders already
        # working, never past flat.
        reduces = filled != 0 and (filled > 0) != (sign > 0) and abs(after) <= abs(filled)
        reduces = reduces and (after == 0 or (after > 0) == (filled > 0))
        if self.state is TradingState.REDUCING and not reduces:
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
        if abs(after) <= abs(current):
            return None  # shrinks exposure: the exposure limits do not apply
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
        return None
