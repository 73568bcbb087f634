"""A stored account's positions as portfolio weights, priced at the data time it has reached.

The paper runner replays bundled data, so "now" for its account is the checkpointed data time,
not the wall clock: positions are valued at the last close at or before it, and any risk
figure built on top must use history up to that time only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from neural_trader.data import load_bars
from neural_trader.errors import DataError, RiskError
from neural_trader.storage.store import AccountState
from neural_trader.trading.instruments import default_instrument


@dataclass(frozen=True)
class Holdings:
    symbols: list[str]
    weights: list[float]  # signed market value / equity
    values: list[float]
    prices: list[float]
    equity: float
    cash: float
    as_of_ns: int


def holdings(state: AccountState, as_of_ns: int) -> Holdings:
    """Weights of the open positions of ``state`` valued at the closes of ``as_of_ns``."""
    open_positions = [p for p in state.positions if p.quantity != 0]
    if not open_positions:
        raise RiskError(f"account {state.account!r} holds no positions: nothing is at risk")
    symbols, values, prices = [], [], []
    for pos in open_positions:
        try:
            bars = load_bars(pos.symbol)
        except DataError as exc:
            raise RiskError(f"cannot price {pos.symbol}: {exc}") from None
        last = int(np.searchsorted(bars.ts, as_of_ns, side="right")) - 1
        if last < 0:
            raise RiskError(f"{pos.symbol} has no close at or before the account's data time")
        price = Decimal(repr(float(bars.close[last])))
        mult = default_instrument(pos.symbol).multiplier
        symbols.append(pos.symbol)
        prices.append(float(price))
        values.append(float(pos.quantity * price * mult))
    equity = float(state.cash) + sum(values)
    if not equity > 0:
        raise RiskError(f"account {state.account!r} equity is {equity:,.2f}: weights undefined")
    return Holdings(
        symbols=symbols,
        weights=[v / equity for v in values],
        values=values,
        prices=prices,
        equity=equity,
        cash=float(state.cash),
        as_of_ns=as_of_ns,
    )
