"""[strategies] allocation: each enabled strategy of a paper session gets its share."""

from __future__ import annotations

from pathlib import Path

import pytest

from neural_trader.config import load_settings
from neural_trader.errors import ConfigError
from neural_trader.storage import Store
from neural_trader.trading.session import PaperSession


def test_named_shares_and_an_equal_split_of_the_rest(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        {
            "strategies.enabled": "sma_cross,momentum,mean_reversion",
            "strategies.allocation": '{"sma_cross": 0.4}',
        },
    )
    store = Store(f"sqlite:///{tmp_path / 'nt.db'}")
    try:
        session = PaperSession(settings, store)
        status = session.manager.status()
        assert {k: round(v["allocation"], 12) for k, v in status.items()} == {
            "sma_cross": 0.4, "momentum": 0.3, "mean_reversion": 0.3,
        }  # fmt: skip
        assert all(v["status"] == "running" for v in status.values())
        ctx = session.manager.get("momentum").context
        assert ctx is not None and ctx.equity() == pytest.approx(0.3 * session.kernel.equity())
    finally:
        store.close()


@pytest.mark.parametrize(
    ("allocation", "message"),
    [
        ('{"momentum": 0.5}', "not enabled"),
        ('{"sma_cross": 0.7, "mean_reversion": 0.6}', "add up to 1.3"),
        ('{"sma_cross": 1.0}', "leave nothing"),
        ('{"sma_cross": 0}', "greater than 0"),
    ],
)
def test_bad_allocations_are_config_errors(allocation: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(
            None,
            {"strategies.enabled": "sma_cross,mean_reversion", "strategies.allocation": allocation},
        )
