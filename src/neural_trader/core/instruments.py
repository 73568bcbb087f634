"""What can be traded: equities, crypto pairs, betting selections and prediction-market shares.

An instrument knows its tick and lot sizes and the price range its venue allows, so that a price
or quantity is rounded and checked once, at the edge, and the ledger then works in exact
``Decimal``s. Betting selections are priced in decimal odds; prediction-market shares in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from neural_trader.errors import OrderError


class AssetClass(StrEnum):
    EQUITY = "equity"
    INDEX = "index"
    FX = "fx"
    CRYPTO = "crypto"
    BETTING = "betting"
    PREDICTION = "prediction"


@dataclass(frozen=True)
class Instrument:
    """A tradable thing on a venue; ``symbol`` is unique within the platform."""

    symbol: str
    asset_class: AssetClass
    currency: str = "USD"
    price_increment: Decimal = Decimal("0.01")
    size_increment: Decimal = Decimal("1")
    multiplier: Decimal = Decimal("1")
    min_price: Decimal | None = Decimal("0")
    max_price: Decimal | None = None
    venue: str = "SIM"

    def round_price(self, price: float | Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
        """A multiple of the tick (0.01, 0.25, 0.5, ...): the nearest by default (banker's
        rounding), or up/down with ``ROUND_CEILING``/``ROUND_FLOOR``."""
        tick = self.price_increment
        ticks = (Decimal(str(price)) / tick).to_integral_value(rounding=rounding)
        return (ticks * tick).quantize(tick)

    def round_quantity(self, quantity: float | Decimal) -> Decimal:
        """Largest valid lot not above ``quantity`` (never buys more than asked)."""
        q = Decimal(str(quantity))
        lots = (q / self.size_increment).to_integral_value(rounding=ROUND_DOWN)
        return lots * self.size_increment

    def check_price(self, price: Decimal) -> None:
        if self.min_price is not None and price < self.min_price:
            raise OrderError(f"price {price} below {self.min_price}", symbol=self.symbol)
        if self.max_price is not None and price > self.max_price:
            raise OrderError(f"price {price} above {self.max_price}", symbol=self.symbol)
        if price % self.price_increment != 0:
            raise OrderError(
                f"price {price} is not a multiple of the tick {self.price_increment}",
                symbol=self.symbol,
            )

    def check_quantity(self, quantity: Decimal) -> None:
        if quantity <= 0:
            raise OrderError(f"quantity must be positive, got {quantity}", symbol=self.symbol)
        if quantity % self.size_increment != 0:
            raise OrderError(
                f"quantity {quantity} is not a multiple of the lot {self.size_increment}",
                symbol=self.symbol,
            )

    def notional(self, quantity: Decimal, price: Decimal) -> Decimal:
        """Cash value of ``quantity`` at ``price`` in the quote currency."""
        return quantity * price * self.multiplier


@dataclass(frozen=True)
class Equity(Instrument):
    asset_class: AssetClass = AssetClass.EQUITY


@dataclass(frozen=True)
class CryptoPair(Instrument):
    """A spot pair such as BTC/USDT: fractional quantities of ``base`` priced in ``currency``."""

    asset_class: AssetClass = AssetClass.CRYPTO
    base_currency: str = "BTC"
    currency: str = "USDT"
    size_increment: Decimal = Decimal("0.00000001")


class BetSide(StrEnum):
    BACK = "back"
    LAY = "lay"


@dataclass(frozen=True)
class BettingSelection(Instrument):
    """A runner in a betting market, priced in decimal odds (Betfair's range 1.01–1000).

    Quantity is the stake. A back bet of stake S at odds O wins S·(O−1) or loses S; a lay bet
    of stake S at odds O wins S or loses the liability S·(O−1).
    """

    asset_class: AssetClass = AssetClass.BETTING
    market_id: str = ""
    selection_id: str = ""
    currency: str = "GBP"
    min_price: Decimal | None = Decimal("1.01")
    max_price: Decimal | None = Decimal("1000")
    size_increment: Decimal = Decimal("0.01")

    @staticmethod
    def profit_if_wins(side: BetSide, stake: Decimal, odds: Decimal) -> Decimal:
        return stake * (odds - 1) if side is BetSide.BACK else -stake * (odds - 1)

    @staticmethod
    def profit_if_loses(side: BetSide, stake: Decimal) -> Decimal:
        return -stake if side is BetSide.BACK else stake

    @staticmethod
    def liability(side: BetSide, stake: Decimal, odds: Decimal) -> Decimal:
        """Cash a venue holds against the bet: the stake for a back, S·(O−1) for a lay."""
        return stake if side is BetSide.BACK else stake * (odds - 1)


@dataclass(frozen=True)
class OutcomeShare(Instrument):
    """A share that pays 1 if ``outcome`` happens and 0 otherwise, priced in [0, 1]."""

    asset_class: AssetClass = AssetClass.PREDICTION
    market_id: str = ""
    outcome: str = "YES"
    min_price: Decimal | None = Decimal("0")
    max_price: Decimal | None = Decimal("1")
    price_increment: Decimal = Decimal("0.001")
    size_increment: Decimal = Decimal("1")


@dataclass
class InstrumentRegistry:
    """The instruments a kernel knows, by symbol; unknown symbols are an error, not a guess."""

    by_symbol: dict[str, Instrument] = field(default_factory=dict)

    def add(self, instrument: Instrument) -> None:
        self.by_symbol[instrument.symbol] = instrument

    def get(self, symbol: str) -> Instrument:
        try:
            return self.by_symbol[symbol]
        except KeyError:
            raise OrderError(
                f"unknown instrument {symbol!r}", known=sorted(self.by_symbol)
            ) from None

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.by_symbol
