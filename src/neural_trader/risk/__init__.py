"""Risk: the pre-trade gate every order passes (and, later, VaR/CVaR, Kelly, stress tests)."""

from neural_trader.risk.gate import PreTradeGate, RiskLimits, TradingState, limits_from

__all__ = ["PreTradeGate", "RiskLimits", "TradingState", "limits_from"]
