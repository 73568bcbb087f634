"""Risk: the pre-trade gate every order passes, the circuit breaker, VaR/CVaR by several
methods with their backtests, position sizing (fixed fractional, volatility target, Kelly),
stress tests and the portfolio risk report."""

from neural_trader.risk.breaker import BreakerConfig, CircuitBreaker
from neural_trader.risk.gate import PreTradeGate, RiskLimits, TradingState, limits_from
from neural_trader.risk.report import RiskReport, risk_report
from neural_trader.risk.sizing import (
    MultiSizeResult,
    SizeResult,
    fixed_fractional,
    fractional_kelly,
    kelly_continuous,
    kelly_discrete,
    kelly_multi_asset,
    volatility_target,
)
from neural_trader.risk.stress import historical_stress, hypothetical_shock, run_all
from neural_trader.risk.var import METHODS, VaRResult, value_at_risk
from neural_trader.risk.var_backtest import backtest_var

__all__ = [
    "METHODS",
    "BreakerConfig",
    "CircuitBreaker",
    "MultiSizeResult",
    "PreTradeGate",
    "RiskLimits",
    "RiskReport",
    "SizeResult",
    "TradingState",
    "VaRResult",
    "backtest_var",
    "fixed_fractional",
    "fractional_kelly",
    "historical_stress",
    "hypothetical_shock",
    "kelly_continuous",
    "kelly_discrete",
    "kelly_multi_asset",
    "limits_from",
    "risk_report",
    "run_all",
    "value_at_risk",
    "volatility_target",
]
