"""A stored account's positions priced at its data time, as weights of its equity."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from neural_trader.core.portfolio import Position
from neural_trader.data import load_bars
from neural_trader.errors import RiskError
from neural_trader.storage.store import AccountState
from neural_trader.trading.holdings import holdings


def position(symbol: str, qty: int) -> Position:
    p = Position(symbol)
    p.quantity = Decimal(qty)
    return p


def test_weights_are_values_at_the_last_close_over_equity() -> None:
    # Midday: the 15th's close (stamped 20:00 UTC) is not known yet, the 14th's is.
    as_of = int(pd.Timestamp("2010-06-15 12:00", tz="UTC").value)
    state = AccountState(
        "paper", "USD", Decimal(100_000), Decimal(40_000), Decimal(0),
        positions=[position("XOM", 300), position("JPM", -200), position("KO", 0)],
    )  # fmt: skip
    held = holdings(state, as_of)
    prices = {}
    for sym in ("XOM", "JPM"):
        bars = load_bars(sym, end="2010-06-14")
        prices[sym] = float(bars.close[-1])
    values = np.array([300 * prices["XOM"], -200 * prices["JPM"]])
    equity = 40_000 + values.sum()
    assert held.symbols == ["XOM", "JPM"]
    assert held.prices == pytest.approx([prices["XOM"], prices["JPM"]])
    assert held.equity == pytest.approx(equity)
    assert held.weights == pytest.approx(list(values / equity))


def test_flat_account_and_unknown_symbol_are_clear_errors() -> None:
    flat = AccountState("paper", "USD", Decimal(1), Decimal(1), Decimal(0), positions=[])
    with pytest.raises(RiskError, match="holds no positions"):
        holdings(flat, 0)
    odd = AccountState(
        "paper", "USD", Decimal(1), Decimal(1), Decimal(0), positions=[position("ZZZ", 1)]
    )
    with pytest.raises(RiskError, match="cannot price ZZZ"):
        holdings(odd, 0)
    early = AccountState(
        "paper", "USD", Decimal(1), Decimal(1), Decimal(0), positions=[position("SPX", 1)]
    )
    with pytest.raises(RiskError, match="no close at or before"):
        holdings(early, int(pd.Timestamp("1980-01-01", tz="UTC").value))
