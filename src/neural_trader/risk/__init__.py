"""Risk: the pre-trade gate every order passes (and, later, VaR/CVaR, Kelly, stress tests)."""

from neural_trader.risk.gate import PreTradeGate, RiskLimits

__all__ = ["PreTradeGate", "RiskLimits"]
