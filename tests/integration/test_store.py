"""The Store against both real backends: SQLite (a file) and PostgreSQL (127.0.0.1:5432)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D  # noqa: N817 - reads better in tables of amounts
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from neural_trader.core.events import Fill
from neural_trader.core.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce
from neural_trader.core.portfolio import Position
from neural_trader.errors import StorageError
from neural_trader.storage import Store
from neural_trader.storage.tables import Base

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'db' / 'nt.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    s = Store(url)
    yield s
    s.close()


def order(coid: str = "S-1-1", qty: str = "10", status: OrderStatus | None = None) -> Order:
    o = Order(
        coid,
        "S",
        "AAA",
        OrderSide.BUY,
        D(qty),
        OrderType.LIMIT,
        D("100.25"),
        None,
        TimeInForce.GTC,
        5,
    )
    if status is not None:
        o.transition(OrderStatus.SUBMITTED, 6)
        if status is not OrderStatus.SUBMITTED:
            o.transition(status, 7)
    return o


def fill(o: Order, qty: str, price: str, n: int = 1) -> Fill:
    return Fill(
        f"{o.client_order_id}@{n}",
        o.client_order_id,
        "S",
        "AAA",
        OrderSide.BUY,
        D(qty),
        D(price),
        D("0.01"),
        100 + n,
    )


def test_schema_matches_the_models_after_migrating_twice(store: Store) -> None:
    Store(store.url).close()  # a second open migrates again: nothing to do, nothing breaks
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        assert conn.execute(text("select version_num from alembic_version")).scalar() == "0004"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_0001_database_upgrades_keeping_its_orders(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from neural_trader.storage.store import MIGRATIONS

    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(
            text(
                "insert into orders (account, client_order_id, strategy_id, symbol, side, "
                "order_type, quantity, limit_price, stop_price, time_in_force, status, "
                "filled_quantity, avg_price, reason, decision_ts, ts_created, ts_last) values "
                "('a', 'S-1-1', 'S', 'AAA', 'buy', 'market', '10', null, null, 'gtc', "
                "'accepted', '0', '0', '', 1, 1, 1)"
            )
        )
        conn.execute(
            text(
                "insert into accounts (account, currency, starting_cash, cash, "
                "total_commissions, ts) values ('a', 'USD', '1000', '1000', '0', 1)"
            )
        )
    engine.dispose()
    upgraded = Store(url)
    try:
        state = upgraded.load_account("a")
        assert state is not None
        [(kept, decided)] = state.open_orders
        assert (kept.client_order_id, kept.quantity, decided) == ("S-1-1", D(10), 1)
        assert kept.stop_loss is None and kept.parent_id is None
    finally:
        upgraded.close()


def test_bracket_fields_round_trip(store: Store) -> None:
    store.ensure_account("a", "USD", D(1000))
    parent = Order("P-1", "S", "AAA", OrderSide.BUY, D(5), stop_loss=D("95.5"))
    child = Order(
        "P-1-sl1", "S", "AAA", OrderSide.SELL, D(5), OrderType.STOP, stop_price=D("95.5"),
        parent_id="P-1",
    )  # fmt: skip
    for o in (parent, child):
        o.transition(OrderStatus.SUBMITTED, 1)
        store.record_order("a", o, decision_ts=1)
    state = store.load_account("a")
    assert state is not None
    got = {o.client_order_id: o for o, _ in state.open_orders}
    assert got["P-1"].stop_loss == D("95.5") and got["P-1-sl1"].parent_id == "P-1"


def test_order_lifecycle_upserts_one_row(store: Store) -> None:
    store.ensure_account("a", "USD", D(1000))
    o = order(status=OrderStatus.SUBMITTED)
    store.record_order("a", o, decision_ts=4)
    o.transition(OrderStatus.ACCEPTED, 8)
    store.record_order("a", o, decision_ts=4)
    [row] = store.list_orders("a")
    assert (row["status"], row["decision_ts"], row["limit_price"]) == ("accepted", 4, D("100.25"))


def test_fill_position_and_cash_are_one_transaction_and_idempotent(store: Store) -> None:
    store.ensure_account("a", "USD", D(1000))
    o = order(status=OrderStatus.ACCEPTED)
    store.record_order("a", o, 4)
    o.fill(D("4"), D("100.25"), 101)
    f = fill(o, "4", "100.25")
    pos = Position("AAA")
    pos.apply(D(4), D("100.25"), D(1))
    store.record_fill_and_position("a", f, o, pos, D("598.99"), D("0.01"))
    store.record_fill_and_position("a", f, o, pos, D("598.99"), D("0.01"))  # replayed: no-op
    assert len(store.list_fills("a")) == 1
    state = store.load_account("a")
    assert state is not None
    assert (state.cash, state.total_commissions) == (D("598.99"), D("0.01"))
    [p] = state.positions
    assert (p.quantity, p.cost_basis) == (D(4), D("401.00"))
    [(restored, decided)] = state.open_orders
    assert (restored.status, restored.filled_quantity, decided) == (
        OrderStatus.PARTIALLY_FILLED,
        D(4),
        4,
    )
    assert restored.leaves_quantity == D(6)


def test_a_failed_fill_write_leaves_nothing_half_written(store: Store) -> None:
    o = order(status=OrderStatus.ACCEPTED)
    o.fill(D("4"), D("100"), 101)
    pos = Position("AAA")
    pos.apply(D(4), D(100), D(1))
    # No account row: the write must fail as a whole, the fill included.
    with pytest.raises(StorageError, match="no account"):
        store.record_fill_and_position("ghost", fill(o, "4", "100"), o, pos, D(0), D(0))
    assert store.list_fills("ghost") == []
    assert store.list_orders("ghost") == []
    assert store.load_account("ghost") is None


@pytest.mark.parametrize("value", ["0.00000001", "123456789.123456789", "-42.5", "1000000"])
def test_decimals_round_trip_exactly(store: Store, value: str) -> None:
    store.ensure_account("a", "USD", D(value))
    state = store.load_account("a")
    assert state is not None and state.cash == D(value)


def test_checkpoints_events_and_reset(store: Store) -> None:
    store.ensure_account("a", "USD", D(1))
    assert store.load_checkpoint("a", "replay") is None
    store.save_checkpoint("a", "replay", 10)
    store.save_checkpoint("a", "replay", 20)
    assert store.load_checkpoint("a", "replay") == 20
    store.record_event("a", 5, "order_denied", {"rule": "kill_switch", "figures": {"x": D(1)}})
    assert store.list_events("a") == [
        {"ts": 5, "kind": "order_denied", "payload": {"rule": "kill_switch", "figures": {"x": "1"}}}
    ]
    store.reset_account("a")
    assert store.load_account("a") is None and store.load_checkpoint("a", "replay") is None


def test_accounts_are_isolated(store: Store) -> None:
    store.ensure_account("a", "USD", D(1))
    store.ensure_account("b", "EUR", D(2))
    store.record_order("a", order("X-1"), 1)
    store.reset_account("b")
    a = store.load_account("a")
    assert a is not None and a.client_order_ids == {"X-1"}


def test_unreachable_database_is_a_storage_error_without_the_password() -> None:
    with pytest.raises(StorageError) as err:
        Store("postgresql://user:hunter2@127.0.0.1:1/none")
    assert "hunter2" not in str(err.value) and "***" in str(err.value)
