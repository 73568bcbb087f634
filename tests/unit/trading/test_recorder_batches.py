"""The ledger recorder stores a loop step's writes in one transaction. Checked against the
same trading written through one transaction per write (no event loop: write-through), row
for row; a failing database (a real SQLite error raised by a trigger) stores none of a batch,
keeps it, and stores it exactly once when the database works again."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from neural_trader.brokers.paper import PaperVenue
from neural_trader.core.bus import MessageBus
from neural_trader.core.clock import LiveClock
from neural_trader.core.instruments import Equity, InstrumentRegistry
from neural_trader.core.market_data import Bar
from neural_trader.core.orders import Order, OrderSide, OrderType
from neural_trader.core.portfolio import Portfolio
from neural_trader.errors import StorageError
from neural_trader.risk.gate import PreTradeGate, RiskLimits
from neural_trader.storage import Store
from neural_trader.storage.audit import AuditEntry, AuditLog
from neural_trader.trading.kernel import Kernel
from neural_trader.trading.recorder import LedgerRecorder

D = Decimal
CASH = D(1_000_000)


class Book:
    def __init__(self, db: Path) -> None:
        self.store = Store(f"sqlite:///{db}")
        self.store.ensure_account("a", "USD", CASH)
        instruments = InstrumentRegistry()
        for symbol in ("AAA", "BBB"):
            instruments.add(Equity(symbol))
        bus = MessageBus()
        self.kernel = Kernel(
            bus=bus,
            clock=LiveClock(),
            venue=PaperVenue(bus, instruments),
            gate=PreTradeGate(RiskLimits()),
            portfolio=Portfolio(CASH, instruments),
        )
        self.recorder = LedgerRecorder(bus, self.kernel, self.store, "a")
        self.commits = 0
        event.listen(self.store.engine, "commit", self._count)
        self.step = 0

    def _count(self, _conn: Any) -> None:
        self.commits += 1

    def trade(self, n: int) -> None:
        """One bar per symbol, then ``n`` orders (markets, and limits that stay working or
        are canceled), then the next bar fills the markets."""
        self.step += 1
        ts = self.step * 60_000_000_000
        for symbol, price in (("AAA", 10.0), ("BBB", 20.0)):
            self.kernel.on_bar(Bar(symbol, ts, price, price + 1, price - 1, price, 1e9))
        for i in range(n):
            symbol = "AAA" if i % 2 else "BBB"
            side = OrderSide.BUY if i % 3 else OrderSide.SELL
            cid = f"o{self.step}-{i}"
            if i % 5 == 4:
                self.kernel.submit(
                    Order(cid, "s", symbol, side, D(2), OrderType.LIMIT, limit_price=D("1.00"))
                )
                if i % 10 == 9:
                    self.kernel.cancel(cid)
            else:
                self.kernel.submit(Order(cid, "s", symbol, side, D(i % 7 + 1)))
        ts += 60_000_000_000
        for symbol, price in (("AAA", 10.5), ("BBB", 19.5)):
            self.kernel.on_bar(Bar(symbol, ts, price, price + 1, price - 1, price, 1e9))

    def rows(self) -> dict[str, Any]:
        with self.store.engine.connect() as c:
            return {
                table: [
                    tuple(_number(v) for v in r)
                    for r in c.execute(text(f"select {cols} from {table} order by {order}"))
                ]
                for table, cols, order in (
                    (
                        "orders",
                        "client_order_id, status, filled_quantity, avg_price",
                        "client_order_id",
                    ),
                    ("fills", "fill_id, client_order_id, quantity, price, commission", "fill_id"),
                    ("positions", "symbol, quantity, cost_basis, realized_pnl", "symbol"),
                    ("accounts", "cash, total_commissions", "account"),
                )
            }


def _number(value: Any) -> Any:
    """Stored decimals compared as numbers ('0.00' is '0': the ORM skips an equal update)."""
    try:
        return D(value)
    except (ArithmeticError, TypeError, ValueError):
        return value


def test_a_steps_writes_are_one_transaction_and_equal_write_through(tmp_path: Path) -> None:
    through = Book(tmp_path / "through.db")
    for _ in range(3):
        through.trade(40)  # no running loop: every write is its own transaction
    per_write = through.commits

    async def batched() -> Book:
        book = Book(tmp_path / "batched.db")
        for _ in range(3):
            before = book.commits
            book.trade(40)
            assert book.commits == before  # nothing stored within the step
            await asyncio.sleep(0)
            assert book.commits == before + 1  # the step's writes: one commit
        return book

    book = asyncio.run(batched())
    assert book.rows() == through.rows()
    # Decision times are kept for working orders only (finished ones are stored with theirs).
    working = {o.client_order_id for o in book.kernel.open_orders()}
    assert working and set(book.recorder._decided) == working
    assert len(book.rows()["fills"]) > 50 and per_write > 300
    assert book.rows()["accounts"][0][0] != CASH


def test_a_failed_batch_stores_nothing_is_kept_and_stored_once_later(tmp_path: Path) -> None:
    reference = Book(tmp_path / "reference.db")
    reference.trade(12)

    async def failing() -> Book:
        book = Book(tmp_path / "failing.db")
        with book.store.engine.begin() as c:
            c.execute(
                text(
                    "create trigger full before insert on fills "
                    "begin select raise(abort, 'database or disk is full'); end"
                )
            )
        book.trade(12)
        await asyncio.sleep(0)  # the step's flush fails: logged, kept
        assert book.recorder.failure is not None
        assert "disk is full" in str(book.recorder.failure)
        assert book.rows()["orders"] == [] and book.rows()["fills"] == []
        with pytest.raises(StorageError, match="disk is full"):
            book.recorder.flush()
        with book.store.engine.begin() as c:
            c.execute(text("drop trigger full"))
        book.recorder.flush()
        assert book.recorder.failure is None
        book.recorder.flush()  # nothing queued any more: nothing written twice
        return book

    book = asyncio.run(failing())
    assert book.rows() == reference.rows()


def test_audit_entries_written_with_the_ledger_share_its_commit_and_its_fate(
    tmp_path: Path,
) -> None:
    """An audit log that writes with the recorder stores a step's entries in the ledger's
    transaction: one commit for both; when that write fails, neither is stored, both are
    kept, and both are stored once later (checked against the same trading without audit
    and against the chain's own verification walk)."""
    reference = Book(tmp_path / "reference.db")
    reference.trade(10)
    reference.trade(4)

    async def joined() -> tuple[Book, AuditLog]:
        book = Book(tmp_path / "joined.db")
        audit = AuditLog(book.store)
        audit.write_with(book.recorder)
        before = book.commits
        book.trade(10)
        for i in range(5):
            audit.submit(AuditEntry("trader", "user", "order.submitted", f"o{i}"))
        await asyncio.sleep(0)
        assert book.commits == before + 1  # the ledger's writes and the entries: one commit
        assert audit.verify().entries == 5
        with book.store.engine.begin() as c:
            c.execute(
                text(
                    "create trigger full before insert on audit_log "
                    "begin select raise(abort, 'database or disk is full'); end"
                )
            )
        stored = book.rows()
        book.trade(4)
        audit.submit(AuditEntry("trader", "user", "order.submitted", "late"))
        await asyncio.sleep(0)
        assert "disk is full" in str(book.recorder.failure)
        assert book.rows() == stored and audit.verify().entries == 5  # neither stored
        with book.store.engine.begin() as c:
            c.execute(text("drop trigger full"))
        book.recorder.flush()
        return book, audit

    book, audit = asyncio.run(joined())
    assert book.rows() == reference.rows()
    check = audit.verify()
    assert check.ok and check.entries == 6
    assert [e.target for e in audit.entries()] == ["o0", "o1", "o2", "o3", "o4", "late"]
