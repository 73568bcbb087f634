"""`make bench`: throughput of the kernel, measured, written to a JSON file.

Figures:
* kernel_sma_cross_1m_minute_bars — sma_cross(10, 30) on 1,000,000 synthetic one-minute bars
  (geometric random walk, fixed seed) through the full kernel: bars/s.
* kernel_sma_cross_spx_daily — the same strategy on bundled SPX daily 1999–2018, repeated.
* orders_through_gate_venue_ledger — a strategy that sends a market order on every bar, so each
  bar costs one risk check, one venue acceptance and match, one fill into the ledger: orders/s.
* reference_backtesting_py_same_bars — backtesting.py running the same strategy on the same
  bars in this run, so the kernel's speed is also a ratio measured here.
* pre_trade_gate_per_order — one risk check with every limit on: µs per order.
* batched_var_10_assets_2520_days, monte_carlo_var_1m_paths_10_assets — see risk_figures.py.
* neural_inference_*, neural_training_* — see neural_figures.py.
* optimize_sma_cross_1m_bars_100_combinations — see optimize_figures.py.
* pool_orders_with_persistence, pool_added_latency — see broker_figures.py.
* api_get_portfolio, api_order_submission, api_ws_fanout_100_clients — see api_figures.py
  (measured with wrk: ``apt install wrk``).
* profile — the top functions by own time in the 1M-bar run (cProfile), i.e. where time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import platform
import pstats
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from neural_trader.core.market_data import Bar
from neural_trader.data import load_bars
from neural_trader.strategies import SmaCross, Strategy
from neural_trader.trading.backtest import BacktestConfig, run_backtest

sys.path.insert(0, str(Path(__file__).parent))
from api_figures import api_figures
from neural_figures import neural_figures
from optimize_figures import optimize_figures
from reference_backtesting_py import bars_per_second as reference_bars_per_second
from risk_figures import batched_var, monte_carlo
from synthetic import synthetic_minutes

TARGET_BARS_PER_S = 1_000_000


class Churn(Strategy):
    """Buys one unit on even bars and sells it on odd ones: one order per bar."""

    name = "churn"

    def on_start(self) -> None:
        self._n = 0

    def on_bar(self, bar: Bar) -> None:
        self._n += 1
        if self._n % 2:
            self.buy(bar.symbol, 1)
        else:
            self.sell(bar.symbol, 1)


def gate_cost(n: int = 200_000) -> dict[str, object]:
    """One risk check with every limit switched on, on a book of 10 positions."""
    from neural_trader.core.events import Fill
    from neural_trader.core.instruments import Equity, InstrumentRegistry
    from neural_trader.core.orders import Order, OrderSide
    from neural_trader.core.portfolio import Portfolio
    from neural_trader.risk.gate import PreTradeGate, RiskLimits

    reg = InstrumentRegistry()
    pf = Portfolio(Decimal(1_000_000), reg)
    for i in range(10):
        reg.add(Equity(f"S{i}"))
        pf.apply_fill(
            Fill(
                f"f{i}",
                f"c{i}",
                "S",
                f"S{i}",
                OrderSide.BUY,
                Decimal(100),
                Decimal(50 + i),
                Decimal(0),
                0,
            )
        )
    gate = PreTradeGate(
        RiskLimits(
            max_position_quantity=Decimal(10_000),
            max_concentration=0.5,
            max_gross_leverage=3.0,
            max_net_leverage=2.0,
            max_open_orders=100,
            max_orders_per_second=10**9,
            allowed_symbols=frozenset(reg.by_symbol),
            max_portfolio_heat=1.0,
        )
    )
    orders = [
        Order(f"o{i}", "S", f"S{i % 10}", OrderSide.BUY, Decimal(10), ts_created=i)
        for i in range(n)
    ]
    check = gate.check
    t0 = time.perf_counter()
    for o in orders:
        check(o, pf, 55.0)
    secs = time.perf_counter() - t0
    return {"checks": n, "microseconds_per_check": round(secs / n * 1e6, 3), "target_us": 5}


def timed(fn, repeat: int = 1) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def isolated(module: str) -> dict[str, object]:
    """``module.module()`` run in a fresh interpreter, its figures read back as JSON."""
    code = (
        f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        f"from {module} import {module}; print(json.dumps({module}()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results.json"))
    parser.add_argument("--bars", type=int, default=1_000_000)
    args = parser.parse_args()
    figures: dict[str, object] = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "processor_count_used": 1,
    }

    minutes = synthetic_minutes(args.bars)
    cfg = BacktestConfig(starting_cash=Decimal(100_000))
    secs = timed(lambda: run_backtest(SmaCross(fast=10, slow=30), [minutes], cfg), repeat=3)
    result = run_backtest(SmaCross(fast=10, slow=30), [minutes], cfg)
    figures["kernel_sma_cross_1m_minute_bars"] = {
        "bars": args.bars,
        "seconds": round(secs, 3),
        "bars_per_s": round(args.bars / secs),
        "target_bars_per_s": TARGET_BARS_PER_S,
        "ratio_to_target": round(args.bars / secs / TARGET_BARS_PER_S, 3),
        "trades": len(result.trades),
    }
    ref = reference_bars_per_second(minutes)
    figures["reference_backtesting_py_same_bars"] = ref or "backtesting.py not installed"
    if ref:
        kernel = figures["kernel_sma_cross_1m_minute_bars"]
        kernel["ratio_to_backtesting_py"] = round(kernel["bars_per_s"] / ref["bars_per_s"], 2)  # type: ignore[index]

    spx = load_bars("SPX")
    reps = 20
    secs = timed(
        lambda: [run_backtest(SmaCross(fast=10, slow=30), [spx], cfg) for _ in range(reps)]
    )
    figures["kernel_sma_cross_spx_daily"] = {
        "bars": len(spx) * reps,
        "seconds": round(secs, 3),
        "bars_per_s": round(len(spx) * reps / secs),
    }

    n_orders = min(args.bars, 200_000)
    churn_data = synthetic_minutes(n_orders, seed=11)
    secs = timed(lambda: run_backtest(Churn(), [churn_data], cfg), repeat=3)
    churn = run_backtest(Churn(), [churn_data], cfg)
    fills = sum(1 for o in churn.orders if o.filled_quantity)
    figures["orders_through_gate_venue_ledger"] = {
        "orders": len(churn.orders),
        "filled": fills,
        "seconds": round(secs, 3),
        "orders_per_s": round(len(churn.orders) / secs),
    }

    figures["pre_trade_gate_per_order"] = gate_cost()
    figures["batched_var_10_assets_2520_days"] = batched_var()
    figures["monte_carlo_var_1m_paths_10_assets"] = monte_carlo()
    figures.update(neural_figures())
    figures["optimize_sma_cross_1m_bars_100_combinations"] = optimize_figures()
    # In a fresh process: run after the neural and optimisation figures in this one, the pool
    # measured 2,300 orders/s against 6,900-7,500 alone (torch's and the workers' threads).
    figures.update(isolated("broker_figures"))
    figures.update(api_figures())

    profiler = cProfile.Profile()
    profiler.enable()
    run_backtest(SmaCross(fast=10, slow=30), [minutes], cfg)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:10]  # type: ignore[attr-defined]
    figures["profile_top_own_time"] = [
        {
            "function": f"{Path(file).name}:{line}:{name}",
            "calls": calls,
            "own_share": round(tottime / total, 3),
        }
        for (file, line, name), (_cc, calls, tottime, _ct, _callers) in rows
    ]

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
