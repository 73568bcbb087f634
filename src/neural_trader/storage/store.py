"""The Store: persisted orders, fills, positions and cash of paper and live accounts.

Each write is one short transaction (or one :class:`LedgerBatch` of them); a fill is written
together with its order's new state, the position and the account's cash, so a crash can never
leave one without the others.
Opening a Store migrates the schema to the newest Alembic revision (idempotent).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    CursorResult,
    Engine,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from neural_trader.core.events import Fill
from neural_trader.core.orders import OPEN, Order, OrderSide, OrderStatus, OrderType, TimeInForce
from neural_trader.core.portfolio import Position
from neural_trader.errors import StorageError
from neural_trader.storage.tables import (
    AccountRow,
    CheckpointRow,
    EventRow,
    FillRow,
    OrderRow,
    PositionRow,
    core_table,
)

MIGRATIONS = Path(__file__).parent / "migrations"
T = TypeVar("T")


@dataclass(frozen=True)
class AccountState:
    """An account as stored: what a restarted session resumes from."""

    account: str
    currency: str
    starting_cash: Decimal
    cash: Decimal
    total_commissions: Decimal
    positions: list[Position] = field(default_factory=list)
    client_order_ids: set[str] = field(default_factory=set)
    # Orders still working, each with the data time it was decided at.
    open_orders: list[tuple[Order, int]] = field(default_factory=list)


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here; other URLs pass through."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Store:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.safe_url = parsed.render_as_string(hide_password=True)
        try:
            if parsed.get_backend_name() == "sqlite" and parsed.database not in (
                None,
                "",
                ":memory:",
            ):
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(self.url, echo=echo)
            if parsed.get_backend_name() == "sqlite":
                event.listen(self.engine, "connect", _sqlite_pragmas)
            self._migrate()
        except (SQLAlchemyError, OSError) as exc:
            raise StorageError(f"cannot open database: {_why(exc)}", url=self.safe_url) from None

    def _migrate(self) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self, operation: str) -> Iterator[Session]:
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                yield session
        except SQLAlchemyError as exc:
            raise StorageError(f"{operation} failed: {_why(exc)}", url=self.safe_url) from None

    @contextmanager
    def _core(self, operation: str) -> Iterator[Connection]:
        """A transaction on a plain connection, for the batched writes (Core statements: no
        ORM session to set up and tear down on every loop step)."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StorageError(f"{operation} failed: {_why(exc)}", url=self.safe_url) from None

    def _read(self, operation: str, fn: Callable[[Session], T]) -> T:
        with self._tx(operation) as s:
            return fn(s)

    # -- accounts -----------------------------------------------------------------------------
    def ensure_account(self, account: str, currency: str, starting_cash: Decimal) -> AccountState:
        with self._tx("ensure account") as s:
            row = s.get(AccountRow, account)
            if row is None:
                row = AccountRow(
                    account=account,
                    currency=currency,
                    starting_cash=starting_cash,
                    cash=starting_cash,
                    total_commissions=Decimal(0),
                    ts=time.time_ns(),
                )
                s.add(row)
            return AccountState(
                account, row.currency, row.starting_cash, row.cash, row.total_commissions
            )

    def load_account(self, account: str) -> AccountState | None:
        def load(s: Session) -> AccountState | None:
            row = s.get(AccountRow, account)
            if row is None:
                return None
            positions = [
                _position(p)
                for p in s.scalars(select(PositionRow).where(PositionRow.account == account))
            ]
            ids = set(
                s.scalars(select(OrderRow.client_order_id).where(OrderRow.account == account))
            )
            working = s.scalars(
                select(OrderRow)
                .where(OrderRow.account == account, OrderRow.status.in_([st.value for st in OPEN]))
                .order_by(OrderRow.id)
            )
            return AccountState(
                account,
                row.currency,
                row.starting_cash,
                row.cash,
                row.total_commissions,
                positions,
                ids,
                [(_order(o), o.decision_ts) for o in working],
            )

        return self._read("load account", load)

    def reset_account(self, account: str) -> None:
        with self._tx("reset account") as s:
            for table in (OrderRow, FillRow, PositionRow, AccountRow, CheckpointRow, EventRow):
                s.execute(delete(table).where(table.account == account))

    # -- orders and fills ---------------------------------------------------------------------
    @contextmanager
    def batch(self, operation: str = "record batch") -> Iterator[LedgerBatch]:
        """Several ledger writes in one transaction: all of them are stored, or none."""
        with self._core(operation) as connection:
            batch = LedgerBatch(connection)
            yield batch
            batch.apply()

    def record_order(self, account: str, order: Order, decision_ts: int) -> None:
        with self.batch("record order") as b:
            b.order(account, order, decision_ts)

    def record_fill_and_position(
        self,
        account: str,
        fill: Fill,
        order: Order,
        position: Position,
        cash: Decimal,
        total_commissions: Decimal,
    ) -> None:
        """The fill, its order, the position and the cash, in one transaction; a fill already
        stored (same id) changes nothing."""
        with self.batch("record fill") as b:
            b.fill(account, fill, order, position, cash, total_commissions)

    def list_orders(self, account: str, limit: int | None = None) -> list[dict[str, Any]]:
        def rows(s: Session) -> list[dict[str, Any]]:
            q = select(OrderRow).where(OrderRow.account == account).order_by(OrderRow.id)
            return [_as_dict(r) for r in s.scalars(q.limit(limit) if limit else q)]

        return self._read("list orders", rows)

    def list_fills(self, account: str) -> list[dict[str, Any]]:
        def rows(s: Session) -> list[dict[str, Any]]:
            q = select(FillRow).where(FillRow.account == account).order_by(FillRow.id)
            return [_as_dict(r) for r in s.scalars(q)]

        return self._read("list fills", rows)

    # -- events and checkpoints ---------------------------------------------------------------
    def record_event(self, account: str, ts: int, kind: str, payload: dict[str, Any]) -> None:
        with self.batch("record event") as b:
            b.event(account, ts, kind, payload)

    def list_events(self, account: str) -> list[dict[str, Any]]:
        def rows(s: Session) -> list[dict[str, Any]]:
            q = select(EventRow).where(EventRow.account == account).order_by(EventRow.id)
            return [
                {"ts": r.ts, "kind": r.kind, "payload": json.loads(r.payload)} for r in s.scalars(q)
            ]

        return self._read("list events", rows)

    def save_checkpoint(self, account: str, stream: str, ts: int) -> None:
        with self._tx("save checkpoint") as s:
            row = s.get(CheckpointRow, (account, stream))
            if row is None:
                s.add(
                    CheckpointRow(account=account, stream=stream, ts=ts, updated_at=time.time_ns())
                )
            else:
                row.ts = ts
                row.updated_at = time.time_ns()

    def load_checkpoint(self, account: str, stream: str) -> int | None:
        def load(s: Session) -> int | None:
            row = s.get(CheckpointRow, (account, stream))
            return None if row is None else row.ts

        return self._read("load checkpoint", load)


class LedgerBatch:
    """The ledger writes of one transaction, gathered first and written together when the
    batch ends, one statement per table: orders, positions and the account are upserted (an
    order, position or account written several times in the batch gets its last state, the
    state the earlier writes led to; an order keeps the decision time it was first stored
    with), fills are inserted unless already stored (same id), events appended."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection  # also for writes that join the batch (the audit log)
        self._orders: dict[tuple[str, str], tuple[Order, int]] = {}
        self._fills: dict[tuple[str, str], Fill] = {}
        self._positions: dict[tuple[str, str], tuple[Position, int]] = {}
        self._accounts: dict[str, tuple[Decimal, Decimal, int]] = {}
        self._events: list[dict[str, Any]] = []

    def order(self, account: str, order: Order, decision_ts: int) -> None:
        key = (account, order.client_order_id)
        first = self._orders.get(key)
        self._orders[key] = (order, decision_ts if first is None else first[1])

    def fill(
        self,
        account: str,
        fill: Fill,
        order: Order,
        position: Position,
        cash: Decimal,
        total_commissions: Decimal,
    ) -> None:
        self._fills.setdefault((account, fill.fill_id), fill)
        self.order(account, order, fill.ts)
        self._positions[(account, position.symbol)] = (position, fill.ts)
        self._accounts[account] = (cash, total_commissions, fill.ts)

    def event(self, account: str, ts: int, kind: str, payload: dict[str, Any]) -> None:
        text = json.dumps(payload, default=str)
        self._events.append({"account": account, "ts": ts, "kind": kind, "payload": text})

    def apply(self) -> None:
        """Plain statements, no ORM objects: a step of the API's order load spent most of its
        ledger time loading stored rows to update them one by one."""
        s = self.connection
        write = _ledger_statements(s.dialect.name)
        if self._fills:
            fills = [_fill_values(account, f) for (account, _), f in self._fills.items()]
            s.execute(write.fills, fills)
        if self._orders:
            rows = [_order_values(k[0], o, ts) for k, (o, ts) in self._orders.items()]
            s.execute(write.orders, rows)
        if self._positions:
            positions = [
                {"account": account, "symbol": symbol, "quantity": p.quantity,
                 "cost_basis": p.cost_basis, "realized_pnl": p.realized_pnl,
                 "commissions": p.commissions, "ts": ts}
                for (account, symbol), (p, ts) in self._positions.items()
            ]  # fmt: skip
            s.execute(write.positions, positions)
        accounts = core_table(AccountRow)
        for account, (cash, commissions, ts) in self._accounts.items():
            done = cast(
                CursorResult[Any],
                s.execute(
                    update(accounts)
                    .where(accounts.c.account == account)
                    .values(cash=cash, total_commissions=commissions, ts=ts)
                ),
            )
            if done.rowcount == 0:
                raise StorageError(f"no account {account!r}: call ensure_account first")
        if self._events:
            s.execute(insert(core_table(EventRow)), self._events)


# What a stored order's and position's later writes change (the rest is fixed at creation).
_ORDER_STATE = ("status", "filled_quantity", "avg_price", "venue_order_id", "reason", "ts_last")
_POSITION_STATE = ("quantity", "cost_basis", "realized_pnl", "commissions", "ts")


@dataclass(frozen=True)
class _LedgerStatements:
    fills: Any  # new fills; one already stored (same id) is left as it is
    orders: Any  # new orders, or the state of stored ones
    positions: Any


@functools.cache
def _ledger_statements(dialect: str) -> _LedgerStatements:
    """The ledger's upserts for ``dialect`` (SQLite or PostgreSQL), built once: building
    the ``excluded`` columns anew for every batch cost more than running the statements."""
    if dialect == "postgresql":
        upsert: Any = postgresql_insert
    elif dialect == "sqlite":
        upsert = sqlite_insert
    else:
        raise StorageError(f"the ledger supports SQLite and PostgreSQL, not {dialect}")

    def latest(mapped: type[Any], key: list[str], state: tuple[str, ...]) -> Any:
        stmt = upsert(core_table(mapped))
        return stmt.on_conflict_do_update(
            index_elements=key, set_={c: stmt.excluded[c] for c in state}
        )

    return _LedgerStatements(
        fills=upsert(core_table(FillRow)).on_conflict_do_nothing(
            index_elements=["account", "fill_id"]
        ),
        orders=latest(OrderRow, ["account", "client_order_id"], _ORDER_STATE),
        positions=latest(PositionRow, ["account", "symbol"], _POSITION_STATE),
    )


def _fill_values(account: str, fill: Fill) -> dict[str, Any]:
    return {
        "account": account,
        "fill_id": fill.fill_id,
        "client_order_id": fill.client_order_id,
        "strategy_id": fill.strategy_id,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "quantity": fill.quantity,
        "price": fill.price,
        "commission": fill.commission,
        "ts": fill.ts,
        "venue": fill.venue,
        "liquidity": fill.liquidity,
    }


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _why(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return f"{type(exc).__name__}: {orig if orig is not None else exc}".splitlines()[0]


def _order_values(account: str, order: Order, decision_ts: int) -> dict[str, Any]:
    return {
        "account": account,
        "client_order_id": order.client_order_id,
        "strategy_id": order.strategy_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "order_type": order.order_type.value,
        "quantity": order.quantity,
        "limit_price": order.limit_price,
        "stop_price": order.stop_price,
        "stop_loss": order.stop_loss,
        "parent_id": order.parent_id,
        "time_in_force": order.time_in_force.value,
        "decision_ts": decision_ts,
        "ts_created": order.ts_created,
        "status": order.status.value,
        "filled_quantity": order.filled_quantity,
        "avg_price": order.avg_price,
        "venue_order_id": order.venue_order_id,
        "reason": order.reason,
        "ts_last": order.ts_last,
    }


def _order(row: OrderRow) -> Order:
    order = Order(
        row.client_order_id,
        row.strategy_id,
        row.symbol,
        OrderSide(row.side),
        row.quantity,
        OrderType(row.order_type),
        row.limit_price,
        row.stop_price,
        TimeInForce(row.time_in_force),
        row.ts_created,
        row.stop_loss,
        row.parent_id,
    )
    # Restoring, not replaying: the stored state is taken as it is.
    order.status = OrderStatus(row.status)
    order.filled_quantity = row.filled_quantity
    order.avg_price = row.avg_price
    order.venue_order_id = row.venue_order_id
    order.reason = row.reason
    order.ts_last = row.ts_last
    return order


def _position(row: PositionRow) -> Position:
    pos = Position(row.symbol)
    pos.quantity = row.quantity
    pos.cost_basis = row.cost_basis
    pos.realized_pnl = row.realized_pnl
    pos.commissions = row.commissions
    return pos


def _as_dict(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}
