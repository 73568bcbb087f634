"""Round-trip trades, built from fills: a trade opens when a position leaves zero and closes
when it returns to zero (or flips, which closes one trade and opens the next).

Positions are tracked per strategy and symbol: each strategy's fills form its own round trips,
so two strategies trading the same symbol each get their own trades and performance even
though the account nets their positions.

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
    strategy: str
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
            "strategy": self.strategy,
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
        self._open: dict[tuple[str, str], _Open] = {}
        bus.subscribe(OrderFilled, self._on_filled)

    def _on_filled(self, event: OrderFilled) -> None:
        self.add(event.fill)

    def add(self, fill: Fill) -> None:
        signed = fill.quantity * fill.side.sign
        remaining = abs(signed)
        fee_left = fill.commission
        key = (fill.strategy_id, fill.symbol)
        while remaining:
            cur = self._open.get(key)
            if cur is None:
                cur = self._open[key] = _Open(1 if signed > 0 else -1, fill.ts)
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
                self._close(key, cur, fill.ts)

    def open_pnl(self, prices: dict[str, float]) -> dict[str, float]:
        """Unrealized PnL of each strategy's open trades at ``prices`` (by symbol), net of the
        commissions paid on them so far; symbols without a price are left out."""
        out: dict[str, float] = {}
        for (strategy, symbol), cur in self._open.items():
            price = prices.get(symbol)
            if price is None or not cur.qty:
                continue
            mult = float(self.instruments.get(symbol).multiplier)
            entry = float(cur.entry_cost / cur.entry_qty)
            pnl = cur.direction * float(cur.qty) * (price - entry) * mult - float(cur.commission)
            out[strategy] = out.get(strategy, 0.0) + pnl
        return out

    def open_symbols(self) -> set[str]:
        return {symbol for _, symbol in self._open}

    def _close(self, key: tuple[str, str], cur: _Open, ts: int) -> None:
        strategy, symbol = key
        mult = self.instruments.get(symbol).multiplier
        entry = cur.entry_cost / cur.entry_qty
        exit_ = cur.exit_value / cur.exit_qty
        gross = (cur.exit_value - cur.entry_cost * cur.exit_qty / cur.entry_qty) * cur.direction
        trade = Trade(
            strategy,
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
        del self._open[key]
        if self._bus.has_subscribers(TradeClosed):
            self._bus.publish(TradeClosed(trade))
