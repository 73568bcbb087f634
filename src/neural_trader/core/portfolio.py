"""Netting positions and the cash ledger, in exact decimals.

Cash only ever changes by exact products of ``Decimal`` quantities and prices, so after any
number of fills ``cash == starting_cash - Σ side·qty·price·multiplier - Σ commission`` holds
exactly. Float mirrors of cash and quantities are kept alongside for the per-bar equity mark,
which is an analytic figure, not a book of record.
"""

from __future__ import annotations

from decimal import Decimal

from neural_trader.core.events import Fill
from neural_trader.core.instruments import InstrumentRegistry

ZERO = Decimal(0)


class Position:
    """Net quantity in one instrument (positive long, negative short) and its cost basis."""

    __slots__ = ("commissions", "cost_basis", "multiplier", "quantity", "realized_pnl", "symbol")

    def __init__(self, symbol: str, multiplier: Decimal = Decimal(1)) -> None:
        self.symbol = symbol
        self.multiplier = multiplier
        self.quantity = ZERO
        # Signed notional paid for the open quantity; avg_price is derived from it.
        self.cost_basis = ZERO
        self.realized_pnl = ZERO
        self.commissions = ZERO

    @property
    def avg_price(self) -> Decimal:
        """Average entry price per unit (cost basis is in cash, i.e. includes the multiplier)."""
        return self.cost_basis / (self.quantity * self.multiplier) if self.quantity else ZERO

    @property
    def is_flat(self) -> bool:
        return not self.quantity

    def apply(self, signed_qty: Decimal, price: Decimal, multiplier: Decimal) -> Decimal:
        """Net a fill into the position and return the PnL it realized (before commission)."""
        qty = self.quantity
        realized = ZERO
        if qty and (qty > 0) != (signed_qty > 0):
            closing = min(abs(signed_qty), abs(qty))
            basis_closed = self.cost_basis * closing / abs(qty)
            direction = 1 if qty > 0 else -1
            realized = direction * price * closing * multiplier - basis_closed
            self.cost_basis -= basis_closed
            qty += closing * (1 if signed_qty > 0 else -1)
            remainder = abs(signed_qty) - closing
            if remainder:
                sign = 1 if signed_qty > 0 else -1
                self.cost_basis = price * remainder * multiplier * sign
                qty = remainder * sign
            elif not qty:
                self.cost_basis = ZERO
        else:
            self.cost_basis += price * signed_qty * multiplier
            qty += signed_qty
        self.quantity = qty
        self.realized_pnl += realized
        return realized

    def unrealized_pnl(self, price: Decimal, multiplier: Decimal) -> Decimal:
        return self.quantity * price * multiplier - self.cost_basis


class Portfolio:
    """One account: cash in a single currency, positions by symbol, and their last marks."""

    def __init__(
        self,
        starting_cash: Decimal,
        instruments: InstrumentRegistry,
        currency: str = "USD",
    ) -> None:
        self.currency = currency
        self.instruments = instruments
        self.starting_cash = starting_cash
        self.cash = starting_cash
        self.total_commissions = ZERO
        self.realized_pnl = ZERO
        self.positions: dict[str, Position] = {}
        self.last_price: dict[str, float] = {}
        self.fill_count = 0
        self._cash_f = float(starting_cash)
        self._qty_f: dict[str, float] = {}
        self._mult_f: dict[str, float] = {}

    # -- book of record ---------------------------------------------------------------------
    def apply_fill(self, fill: Fill) -> Position:
        instrument = self.instruments.get(fill.symbol)
        pos = self.positions.get(fill.symbol)
        if pos is None:
            pos = self.positions[fill.symbol] = Position(fill.symbol, instrument.multiplier)
        signed = fill.quantity if fill.side.sign > 0 else -fill.quantity
        self.realized_pnl += pos.apply(signed, fill.price, instrument.multiplier)
        pos.commissions += fill.commission
        self.cash -= signed * fill.price * instrument.multiplier + fill.commission
        self.total_commissions += fill.commission
        self.fill_count += 1
        self._cash_f = float(self.cash)
        self._qty_f[fill.symbol] = float(pos.quantity)
        self._mult_f[fill.symbol] = float(instrument.multiplier)
        self.last_price.setdefault(fill.symbol, float(fill.price))
        return pos

    def restore(
        self, cash: Decimal, positions: list[Position], commissions: Decimal = ZERO
    ) -> None:
        """Load state saved by storage (on restart), replacing what is held now."""
        self.cash = cash
        self.total_commissions = commissions
        self.positions = {p.symbol: p for p in positions}
        for p in positions:
            p.multiplier = self.instruments.get(p.symbol).multiplier
            if p.quantity:
                # Marked at cost until the first price arrives, so equity is defined at once.
                self.last_price.setdefault(p.symbol, float(p.avg_price))
        self.realized_pnl = sum((p.realized_pnl for p in positions), ZERO)
        self._cash_f = float(cash)
        self._qty_f = {p.symbol: float(p.quantity) for p in positions}
        self._mult_f = {
            p.symbol: float(self.instruments.get(p.symbol).multiplier) for p in positions
        }

    def quantity(self, symbol: str) -> Decimal:
        pos = self.positions.get(symbol)
        return pos.quantity if pos is not None else ZERO

    def position(self, symbol: str) -> Position | None:
        return self.positions.get(symbol)

    def open_positions(self) -> list[Position]:
        return [p for p in self.positions.values() if p.quantity]

    def equity_exact(self, prices: dict[str, Decimal]) -> Decimal:
        """Cash plus positions valued at ``prices`` (exact; every open symbol must be priced)."""
        value = self.cash
        for sym, pos in self.positions.items():
            if pos.quantity:
                value += pos.quantity * prices[sym] * self.instruments.get(sym).multiplier
        return value

    # -- fast marks for the per-bar path ------------------------------------------------------
    def mark(self, symbol: str, price: float) -> None:
        self.last_price[symbol] = price

    def quantity_f(self, symbol: str) -> float:
        return self._qty_f.get(symbol, 0.0)

    def equity(self) -> float:
        """Cash plus positions at their last marks, as a float for analytics and sizing."""
        value = self._cash_f
        last = self.last_price
        mult = self._mult_f
        for sym, q in self._qty_f.items():
            if q:
                value += q * last[sym] * mult[sym]
        return value

    def cash_f(self) -> float:
        return self._cash_f

    def held_f(self) -> list[tuple[str, float, float, float]]:
        """(symbol, quantity, last price, multiplier) of each open position, as floats."""
        last = self.last_price
        mult = self._mult_f
        return [(sym, q, last[sym], mult[sym]) for sym, q in self._qty_f.items() if q]

    def book(self) -> tuple[float, float, float]:
        """(equity, gross exposure, net exposure) at the last marks, in one pass."""
        last = self.last_price
        mult = self._mult_f
        gross = net = 0.0
        for sym, q in self._qty_f.items():
            if q:
                value = q * last[sym] * mult[sym]
                net += value
                gross += abs(value)
        return self._cash_f + net, gross, net
