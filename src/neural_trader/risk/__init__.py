"""Risk: the pre-trade gate every order passes, the circuit breaker, VaR/CVaR by several
methods with their backtests, stress tests and the portfolio risk report."""

from neural_trader.risk.breaker import BreakerConfig, CircuitBreaker
from neural_trader.risk.gate import PreTradeGate, RiskLimits, TradingState, limits_from
from neural_trader.risk.report import RiskReport, risk_report
from neural_trader.risk.stress import historical_stress, hypothetical_shock, run_all
from neural_trader.risk.var import METHODS, VaRResult, value_at_risk
from neural_trader.risk.var_backtest import backtest_var

__all__ = [
    "METHODS",
    "BreakerConfig",
    "CircuitBreaker",
    "PreTradeGate",
    "RiskLimits",
    "RiskReport",
    "TradingState",
    "VaRResult",
    "backtest_var",
    "historical_stress",
    "hypothetical_shock",
    "limits_from",
    "risk_report",
    "run_all",
    "value_at_risk",
]
