"""The ``neural-trader`` command: tables and progress bars for people, ``--json`` for programs.

Errors of the platform's own kinds become one line on stderr and the kind's exit code; only a
bug (an exception we did not raise on purpose) prints a traceback.
"""

from __future__ import annotations

import sys

import typer

from neural_trader.cli.audit import audit_app
from neural_trader.cli.backtest import backtest
from neural_trader.cli.brokers import brokers_app
from neural_trader.cli.data import data_app
from neural_trader.cli.neural import models_app, predict, synth, train
from neural_trader.cli.optimize import optimize
from neural_trader.cli.performance import performance
from neural_trader.cli.report import report
from neural_trader.cli.risk import risk
from neural_trader.cli.run import run
from neural_trader.cli.serve import serve
from neural_trader.cli.strategies import strategies_app
from neural_trader.cli.users import keys_app, users_app
from neural_trader.errors import NeuralTraderError

app = typer.Typer(
    name="neural-trader",
    help="Backtest, paper-trade and run trading strategies on one kernel.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(run)
app.command()(backtest)
app.command()(optimize)
app.command()(risk)
app.command()(report)
app.command()(performance)
app.add_typer(data_app, name="data")
app.add_typer(strategies_app, name="strategies")
app.add_typer(brokers_app, name="brokers")
app.command()(serve)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.command()(train)
app.command()(predict)
app.command()(synth)
app.add_typer(models_app, name="models")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; usage errors are typer's (exit 2), ours are one line with their own code."""
    try:
        app(args=argv)
    except NeuralTraderError as exc:
        print(f"error [{exc.kind}]: {exc}", file=sys.stderr)
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
