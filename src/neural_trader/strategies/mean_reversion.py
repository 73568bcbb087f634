"""Bollinger-band mean reversion: buy a close that has fallen out of the bands, sell it back
at the mean.

Per symbol, on every bar's close, with ``mid`` = mean of the last ``period`` closes and the
bands at ``mid ± num_std·σ`` (population σ, the current close included — TA-Lib's BBANDS):

* **enter long** when flat and ``close < lower``, and, with ``use_rsi``,
  ``RSI(rsi_period) < rsi_oversold``; a market buy for ``fraction`` of equity at the last close;
* **exit a long** at the first close with ``close >= mid`` (back at the middle band; a close
  that is merely back above the lower band does not exit);
* with ``allow_short``, mirrored: enter short when flat and ``close > upper`` (and
  ``RSI > rsi_overbought`` with ``use_rsi``); exit the short at the first ``close <= mid``.

Orders fill at the next bar's open at the earliest. An entry needs the bands (``period`` bars)
and, with ``use_rsi``, the RSI (``rsi_period + 1`` bars) warm. While an order of this strategy
for the symbol is still working (a partial fill), no new decision is taken.
"""

from __future__ import annotations

from neural_trader.core.market_data import Bar
from neural_trader.errors import StrategyError
from neural_trader.strategies.base import Param, Strategy
from neural_trader.strategies.indicators import RSI, Bollinger


class MeanReversion(Strategy):
    name = "mean_reversion"

    period: int = Param(20, ge=2, description="Bollinger window (bars)")
    num_std: float = Param(2.0, gt=0, description="band width in population standard deviations")
    rsi_period: int = Param(14, ge=2, description="RSI period (bars, Wilder)")
    rsi_oversold: float = Param(30.0, ge=0, le=100, description="long only while RSI is below")
    rsi_overbought: float = Param(70.0, ge=0, le=100, description="short only while RSI is above")
    use_rsi: bool = Param(True, description="require the RSI condition for entries")
    allow_short: bool = Param(False, description="mirror the rules for short positions")
    fraction: float = Param(1.0, gt=0, le=1, description="fraction of equity per entry")

    def check_params(self) -> None:
        if self.rsi_overbought <= self.rsi_oversold:
            raise StrategyError(
                f"mean_reversion: parameter 'rsi_overbought' ({self.rsi_overbought}) must be "
                f"greater than 'rsi_oversold' ({self.rsi_oversold})",
                strategy=self.name,
                parameter="rsi_overbought",
            )

    def on_start(self) -> None:
        self._state: dict[str, _SymbolState] = {}

    def on_bar(self, bar: Bar) -> None:
        sym = bar.symbol
        st = self._state.get(sym)
        if st is None:
            st = self._state[sym] = _SymbolState(
                self.period, self.num_std, self.rsi_period if self.use_rsi else 0
            )
        close = bar.close
        bands = st.bands.update(close)
        rsi = None if st.rsi is None else st.rsi.update(close)
        if bands is None or self.ctx.open_orders(self.id, sym):
            return
        qty = self.position(sym)
        if qty > 0:
            if close >= bands.mid:
                self.close(sym)
        elif qty < 0:
            if close <= bands.mid:
                self.close(sym)
        elif st.rsi is None or rsi is not None:
            if close < bands.lower and (rsi is None or rsi < self.rsi_oversold):
                self.buy(sym, fraction=self.fraction)
            elif (
                self.allow_short
                and close > bands.upper
                and (rsi is None or rsi > self.rsi_overbought)
            ):
                self.sell(sym, fraction=self.fraction)


class _SymbolState:
    __slots__ = ("bands", "rsi")

    def __init__(self, period: int, num_std: float, rsi_period: int) -> None:
        self.bands = Bollinger(period, num_std)
        self.rsi = RSI(rsi_period) if rsi_period else None  # None: the RSI filter is off
