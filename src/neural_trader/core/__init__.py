"""Domain types, the message bus and clocks. Imports nothing of ours but ``errors``."""

from neural_trader.core.bus import MessageBus
from neural_trader.core.clock import Clock, LiveClock, SimulatedClock
from neural_trader.core.events import (
    Fill,
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    PositionChanged,
)
from neural_trader.core.instruments import (
    AssetClass,
    BetSide,
    BettingSelection,
    CryptoPair,
    Equity,
    Instrument,
    InstrumentRegistry,
    OutcomeShare,
)
from neural_trader.core.market_data import Bar, BarSeries, QuoteTick, TickSeries, TradeTick
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce
from neural_trader.core.portfolio import Portfolio, Position

__all__ = [
    "AssetClass",
    "Bar",
    "BarSeries",
    "BetSide",
    "BettingSelection",
    "Clock",
    "CryptoPair",
    "Equity",
    "Fill",
    "Instrument",
    "InstrumentRegistry",
    "LiveClock",
    "MessageBus",
    "Order",
    "OrderAccepted",
    "OrderCanceled",
    "OrderDenied",
    "OrderExpired",
    "OrderFilled",
    "OrderRejected",
    "OrderSide",
    "OrderStatus",
    "OrderSubmitted",
    "OrderType",
    "OutcomeShare",
    "Portfolio",
    "Position",
    "PositionChanged",
    "QuoteTick",
    "SimulatedClock",
    "TickSeries",
    "TimeInForce",
    "TradeTick",
]
