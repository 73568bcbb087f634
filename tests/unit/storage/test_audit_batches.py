"""Audit entries queued during a loop step are chained and stored in one transaction when the
step ends. Checked against the chain's own verification walk (which recomputes every hash from
the stored rows), against entries appended one by one in between, and against a real SQLite
failure: nothing of a failed batch is stored, and it is stored once, in order, later."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from neural_trader.errors import StorageError
from neural_trader.storage import Store
from neural_trader.storage.audit import AuditEntry, AuditLog


def _entry(i: int) -> AuditEntry:
    return AuditEntry(f"user{i % 3}", "user", "order.submitted", f"o{i}", "server", "ok", {"i": i})


def _targets(store: Store) -> list[tuple[int, str]]:
    with store.engine.connect() as c:
        return [tuple(r) for r in c.execute(text("select seq, target from audit_log order by seq"))]


def test_a_steps_entries_are_one_transaction_and_the_chain_verifies(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    audit = AuditLog(store)
    commits: list[Any] = []
    event.listen(store.engine, "commit", commits.append)

    async def steps() -> None:
        for step in range(3):
            before = len(commits)
            for i in range(step * 40, step * 40 + 40):
                audit.submit(_entry(i))
            assert len(commits) == before
            await asyncio.sleep(0)
            assert len(commits) == before + 1
            audit.append(_entry(1000 + step))  # one written at once, between batches

    asyncio.run(steps())
    result = audit.verify()
    assert result.ok and result.entries == 123 == result.head_seq
    expected = []
    for step in range(3):
        expected += [f"o{i}" for i in range(step * 40, step * 40 + 40)] + [f"o{1000 + step}"]
    assert _targets(store) == list(enumerate(expected, start=1))


def test_a_failed_batch_is_kept_and_stored_once_in_order(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    audit = AuditLog(store)
    with store.engine.begin() as c:
        c.execute(
            text(
                "create trigger full before insert on audit_log "
                "begin select raise(abort, 'database or disk is full'); end"
            )
        )

    async def step() -> None:
        for i in range(5):
            audit.submit(_entry(i))
        await asyncio.sleep(0)  # the flush fails: logged, kept

    asyncio.run(step())
    assert _targets(store) == []
    with pytest.raises(StorageError, match="disk is full"):
        audit.flush()
    with store.engine.begin() as c:
        c.execute(text("drop trigger full"))
    audit.submit(_entry(5))  # no loop: stored at once, after the kept ones
    audit.flush()
    assert _targets(store) == [(i + 1, f"o{i}") for i in range(6)]
    assert audit.verify().ok
