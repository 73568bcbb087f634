"""The hash-chained audit log on both real backends: appends chain, the triggers refuse edits,
and ``verify`` finds an entry edited with raw SQL (triggers dropped, as an intruder with the
database's owner rights would), a re-hashed edit, a deleted entry and a truncated tail."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from neural_trader.storage import Store
from neural_trader.storage.audit import AuditEntry, AuditLog, entry_hash
from neural_trader.storage.tables import AuditRow

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'nt.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    s = Store(url)
    yield s
    s.close()


def fill_log(store: Store, n: int = 5) -> AuditLog:
    log = AuditLog(store)
    for i in range(n):
        log.append(AuditEntry(f"user{i}", "user", "POST /api/v1/orders", f"api-{i}", "10.0.0.1",
                              "ok", {"status": 201, "i": i}))  # fmt: skip
    return log


def drop_triggers(store: Store) -> None:
    with store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER audit_log_no_change ON audit_log"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))


def raw(store: Store, sql: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(sql))


def test_entries_chain_and_verify(store: Store) -> None:
    log = fill_log(store)
    entries = log.entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert entries[2].detail == {"status": 201, "i": 2}
    result = log.verify()
    assert result.ok and result.entries == 5 and result.head_seq == 5


def test_the_triggers_refuse_updates_and_deletes(store: Store) -> None:
    fill_log(store, 2)
    for sql in ("UPDATE audit_log SET actor = 'x' WHERE seq = 1", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            raw(store, sql)
    assert AuditLog(store).verify().ok


def test_an_edited_entry_is_detected(store: Store) -> None:
    log = fill_log(store)
    drop_triggers(store)
    raw(store, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    result = log.verify()
    assert not result.ok and result.broken_at == 3 and "altered" in result.problem


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(store: Store) -> None:
    log = fill_log(store)
    drop_triggers(store)
    raw(store, "UPDATE audit_log SET result = 'denied' WHERE seq = 2")
    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM audit_log WHERE seq = 2")).mappings().one()
    forged = entry_hash(row["prev_hash"], AuditRow(**dict(row)))
    raw(store, f"UPDATE audit_log SET hash = '{forged}' WHERE seq = 2")
    result = log.verify()
    assert not result.ok and result.broken_at == 3 and "does not chain" in result.problem


def test_deleted_entries_are_detected(store: Store) -> None:
    log = fill_log(store)
    drop_triggers(store)
    raw(store, "DELETE FROM audit_log WHERE seq = 2")
    result = log.verify()
    assert not result.ok and result.broken_at == 2 and "missing" in result.problem


def test_a_truncated_tail_is_detected(store: Store) -> None:
    log = fill_log(store)
    drop_triggers(store)
    raw(store, "DELETE FROM audit_log WHERE seq >= 4")
    result = log.verify()
    assert not result.ok and "removed" in result.problem


def test_concurrent_appenders_get_one_unbroken_chain(store: Store) -> None:
    log = AuditLog(store)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(15):
                log.append(AuditEntry(f"t{n}", "user", "PUT /x", str(i)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = log.verify()
    assert result.ok and result.entries == 60
