"""Round-trip trades, built from fills: a trade opens when a position leaves zero and closes
when it returns to zero (or flips, which closes one trade and opens the next).

Entry and exit prices are quantity-weighted averages over the fills that built and unwound the
position; ``pnl`` is realized PnL net of every commission paid on those fills.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from neural_trader.core.bus import MessageBus
from neural_trader.core.events import Fill, OrderFilled
from neural_trader.core.instruments import InstrumentRegistry

ZERO = Decimal(0)


@dataclass
class Trade:
    symbol: str
    direction: int  # +1 long, -1 short
    entry_time: int
    entry_price: Decimal
    exit_time: int
    exit_price: Decimal
    quantity: Decimal
    pnl: Decimal
    commission: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "direction": "long" if self.direction > 0 else "short",
            "entry_time": self.entry_time,
            "entry_price": float(self.entry_price),
            "exit_time": self.exit_time,
            "exit_price": float(self.exit_price),
            "quantity": float(self.quantity),
            "pnl": float(self.pnl),
            "commission": float(self.commission),
        }


@dataclass(slots=True)
class TradeClosed:
    trade: Trade


class _Open:
    __slots__ = (
        "commission",
        "direction",
        "entry_cost",
        "entry_qty",
        "entry_time",
        "exit_qty",
        "exit_value",
        "qty",
    )

    def __init__(self, direction: int, ts: int) -> None:
        self.direction = direction
        self.entry_time = ts
        self.qty = ZERO
        self.entry_qty = ZERO
        self.entry_cost = ZERO
        self.exit_qty = ZERO
        self.exit_value = ZERO
        self.commission = ZERO


class TradeTracker:
    """Subscribes to fills and keeps the list of closed round trips."""

    def __init__(self, bus: MessageBus, instruments: InstrumentRegistry) -> None:
        self.instruments = instruments
        self._bus = bus
        self.trades: list[Trade] = []
        self._open: dict[str, _Open] = {}
        bus.subscribe(OrderFilled, self._on_filled)

    def _on_filled(self, event: OrderFilled) -> None:
        self.add(event.fill)

    def add(self, fill: Fill) -> None:
        signed = fill.quantity * fill.side.sign
        remaining = abs(signed)
        fee_left = fill.commission
        while remaining:
            cur = self._open.get(fill.symbol)
            if cur is None:
                cur = self._open[fill.symbol] = _Open(1 if signed > 0 else -1, fill.ts)
            if (signed > 0) == (cur.direction > 0):
                cur.qty += remaining
                cur.entry_qty += remaining
                cur.entry_cost += remaining * fill.price
                cur.commission += fee_left
                return
            closing = min(remaining, cur.qty)
            # A fill that closes one trade and opens the next splits its fee pro rata; the part
            # that is not split off is booked whole, so an unsplit fee stays exact.
            fee = fee_left if closing == remaining else fill.commission * closing / fill.quantity
            cur.qty -= closing
            cur.exit_qty += closing
            cur.exit_value += closing * fill.price
            cur.commission += fee
            fee_left -= fee
            remaining -= closing
            if not cur.qty:
                self._close(fill.symbol, cur, fill.ts)

    def _close(self, symbol: str, cur: _Open, ts: int) -> None:
        mult = self.instruments.get(symbol).multiplier
        entry = cur.entry_cost / cur.entry_qty
        exit_ = cur.exit_value / cur.exit_qty
        gross = (cur.exit_value - cur.entry_cost * cur.exit_qty / cur.entry_qty) * cur.direction
        trade = Trade(
            symbol,
            cur.direction,
            cur.entry_time,
            entry,
            ts,
            exit_,
            cur.exit_qty,
            gross * mult - cur.commission,
            cur.commission,
        )
        self.trades.append(trade)
        del self._open[symbol]
        if self._bus.has_subscribers(TradeClosed):
            self._bus.publish(TradeClosed(trade))
