"""The pre-trade risk gate: every order from every strategy, in every mode, passes here.

This is the minimal gate (kill switch, max order notional, max position notional per symbol).
The full risk service replaces the rules behind :meth:`PreTradeGate.check`, not its place in
the order path. A refusal is an :class:`OrderDenied` event naming the rule and its figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from neural_trader.core.events import OrderDenied
from neural_trader.core.orders import Order
from neural_trader.core.portfolio import Portfolio


@dataclass
class RiskLimits:
    max_position_size: Decimal = Decimal(1_000_000)
    max_order_notional: Decimal = Decimal(1_000_000)
    kill_switch: bool = False


class PreTradeGate:
    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits
        self._max_order = float(limits.max_order_notional)
        self._max_position = float(limits.max_position_size)

    def set_kill_switch(self, on: bool) -> None:
        self.limits.kill_switch = on

    def check(
        self, order: Order, portfolio: Portfolio, ref_price: float | None, working: float = 0.0
    ) -> OrderDenied | None:
        """None when the order may go to the venue; otherwise the denial to publish.

        ``ref_price`` values the order (its limit or stop, else the last price); ``working`` is
        the quantity of this symbol's working orders on the same side as ``order``, counted as
        if filled (working orders on the other side are not assumed to fill: worst case).
        """
        if self.limits.kill_switch:
            return OrderDenied(order, "kill_switch", "trading halted by the kill switch")
        if ref_price is None or not ref_price > 0:
            return OrderDenied(
                order,
                "no_reference_price",
                f"no price known for {order.symbol} to value the order against the limits",
            )
        instrument = portfolio.instruments.get(order.symbol)
        mult = float(instrument.multiplier)
        qty = float(order.quantity)
        notional = qty * ref_price * mult
        if notional > self._max_order:
            return OrderDenied(
                order,
                "max_order_notional",
                f"order notional {notional:,.2f} exceeds {self._max_order:,.2f}",
                {"notional": notional, "limit": self._max_order},
            )
        current = portfolio.quantity_f(order.symbol) + working * order.side.sign
        after = current + qty * order.side.sign
        if abs(after) > abs(current):
            exposure = abs(after) * ref_price * mult
            if exposure > self._max_position:
                return OrderDenied(
                    order,
                    "max_position_size",
                    f"position notional would be {exposure:,.2f}, limit {self._max_position:,.2f}",
                    {"position_notional": exposure, "limit": self._max_position},
                )
        return None
