"""The audit log: append-only and hash-chained, so that tampering is detectable.

Each entry's ``hash`` is SHA-256 over the previous entry's hash and the entry's own canonical
content (sequence number, time, who, what, where from, result, detail). Editing an entry
breaks its hash; recomputing that hash breaks the next entry's ``prev_hash``; deleting an
entry leaves a gap in the sequence; deleting the newest entries leaves the head row (the last
sequence number and hash) pointing past the end. :meth:`AuditLog.verify` checks all four.

Appending locks the head row first (an UPDATE), so concurrent writers in several processes
get consecutive sequence numbers and each chains onto the hash the other just wrote. The
triggers of migration 0004 refuse UPDATE and DELETE of entries; the chain is what catches
someone who goes around them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from sqlalchemy import Dialect, bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from neural_trader.errors import StorageError
from neural_trader.storage.step_queue import StepQueue
from neural_trader.storage.store import LedgerBatch, Store
from neural_trader.storage.tables import AuditHeadRow, AuditRow, core_table


class Ledger(Protocol):
    """What the audit log writes with: a queue of writes stored together per loop step."""

    def write(self, op: Callable[[LedgerBatch], None]) -> None: ...

    def flush(self) -> None: ...


GENESIS = "0" * 64
HEAD_ID = 1
_HEAD, _LOG = core_table(AuditHeadRow), core_table(AuditRow)
# Built once (plain Core statements, no ORM objects): an append is three of them.
_ADVANCE = (
    update(_HEAD)
    .where(_HEAD.c.id == HEAD_ID)
    .values(seq=_HEAD.c.seq + bindparam("n"))
    .returning(_HEAD.c.seq, _HEAD.c.hash)
)
_APPEND = insert(_LOG)
_NEW_HEAD = update(_HEAD).where(_HEAD.c.id == HEAD_ID).values(hash=bindparam("h"))


@dataclass(frozen=True)
class AuditEntry:
    """What happened: ``actor`` (a user name, ``strategy:ID``, ``cli:USER``) of ``actor_kind``
    (user, api_key, strategy, cli, system) did ``action`` on ``target`` from ``source`` (an IP
    address, ``cli``, ``server``) with ``result`` (ok, denied, refused, failed, ...)."""

    actor: str
    actor_kind: str
    action: str
    target: str = ""
    source: str = ""
    result: str = "ok"
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    ts: int
    actor: str
    actor_kind: str
    action: str
    target: str
    source: str
    result: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Verification:
    """The outcome of checking the chain: ``ok``, how many entries were checked, and the first
    problem found (the sequence number where the chain breaks and why)."""

    ok: bool
    entries: int
    head_seq: int
    broken_at: int | None = None
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def canonical_detail(detail: Mapping[str, Any]) -> str:
    """The one text form of ``detail`` that is stored and hashed (sorted keys, no spaces)."""
    if type(detail) is dict and _plain(detail):
        try:  # the same text as below for plain values (text, integers, booleans, null)
            return orjson.dumps(detail, option=orjson.OPT_SORT_KEYS).decode()
        except orjson.JSONEncodeError:  # integers past 64 bits, lone surrogates
            pass
    return json.dumps(
        detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def _plain(value: Any) -> bool:
    """Only values whose JSON text orjson and the standard library write alike (floats are
    not: their shortest forms differ, e.g. ``1e16`` and ``1e+16``)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    if kind is list or kind is tuple:
        return all(_plain(v) for v in value)
    return False


@dataclass(slots=True)
class _Values:
    """One entry's row as stored (the columns of ``audit_log``)."""

    seq: int
    ts: int
    actor: str
    actor_kind: str
    action: str
    target: str
    source: str
    result: str
    detail: str
    prev_hash: str
    hash: str = ""


def _columns(row: _Values) -> dict[str, object]:
    """The row as insert parameters (``dataclasses.asdict`` deep-copies every value: a
    twentieth of an API order's time under load)."""
    return {name: getattr(row, name) for name in _Values.__slots__}


@functools.cache
def _append_sql(dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
    """The entries' INSERT as the driver takes it, with the order of its parameters when they
    are positional: the rows go to the driver's executemany as they are (plain text and
    integers need no conversion), a third of an entry's cost through the compiled path."""
    compiled = _APPEND.compile(dialect=dialect, column_keys=list(_Values.__slots__))
    order = compiled.positiontup
    return str(compiled), None if order is None else tuple(order)


def entry_hash(prev_hash: str, row: AuditRow | _Values) -> str:
    """SHA-256 over the previous hash and the entry's canonical content."""
    fields = [row.seq, row.ts, row.actor, row.actor_kind, row.action, row.target, row.source,
              row.result, row.detail]  # fmt: skip
    try:  # integers and text: orjson writes what the standard library writes below
        content = orjson.dumps(fields).decode()
    except orjson.JSONEncodeError:  # lone surrogates
        content = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


def _record(row: AuditRow | _Values) -> AuditRecord:
    return AuditRecord(
        seq=row.seq,
        ts=row.ts,
        actor=row.actor,
        actor_kind=row.actor_kind,
        action=row.action,
        target=row.target,
        source=row.source,
        result=row.result,
        detail=json.loads(row.detail),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


class AuditLog:
    """The hash-chained log. ``append`` stores one entry now; ``submit`` queues one, and the
    entries queued during a step of the running event loop are chained and stored together in
    one transaction when the step ends (at once when no loop runs), so that a burst of order
    events costs one commit, and the event loop never waits for a writer in another thread.
    ``flush`` stores what is queued now (the server calls it when it stops)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._queue: StepQueue[tuple[AuditEntry, int]] = StepQueue(
            self._append_all, "audit entries"
        )
        self._ledger: Ledger | None = None
        self._step: list[tuple[AuditEntry, int]] | None = None

    def write_with(self, ledger: Ledger) -> None:
        """Store submitted entries in the transaction of ``ledger``'s step writes (a trading
        session's recorder) from now on: a step of orders then costs one commit, not two."""
        self.flush()
        self._ledger = ledger

    def append(self, entry: AuditEntry, ts: int | None = None) -> AuditRecord:
        """Add ``entry`` at the end of the chain, in one transaction with the head row."""
        return self._append_all([(entry, time.time_ns() if ts is None else ts)], records=True)[0]

    def submit(self, entry: AuditEntry) -> None:
        item = (entry, time.time_ns())
        if self._ledger is None:
            self._queue.add(item)
            return
        step = self._step
        if step is None:  # the step's first entry: one chain append for all of them
            step = self._step = []
            self._ledger.write(lambda batch: self._append_step(batch, step))
        step.append(item)

    def _append_step(self, batch: LedgerBatch, step: list[tuple[AuditEntry, int]]) -> None:
        if self._step is step:
            self._step = None  # later entries go with the next write
        self._append_in(batch.connection, step)  # a failed write is retried with its entries

    def flush(self) -> None:
        self._queue.flush()
        if self._ledger is not None:
            self._ledger.flush()

    def _append_all(
        self, entries: Sequence[tuple[AuditEntry, int]], records: bool = False
    ) -> list[AuditRecord]:
        with self._store._core("append audit entries") as connection:
            return self._append_in(connection, entries, records)

    def _append_in(
        self, s: Connection, entries: Sequence[tuple[AuditEntry, int]], records: bool = False
    ) -> list[AuditRecord]:
        """Chain ``entries`` onto the head inside the transaction of ``s``."""
        # Locks the head first: on PostgreSQL the row, on SQLite the database for writing.
        moved = s.execute(_ADVANCE, {"n": len(entries)}).one_or_none()
        if moved is None:
            raise StorageError("the audit log has no head row: the schema is not migrated")
        seq, prev = int(moved.seq) - len(entries), str(moved.hash)
        rows = []
        for entry, ts in entries:
            seq += 1
            row = _Values(
                seq=seq,
                ts=ts,
                actor=_clip(entry.actor, 128),
                actor_kind=_clip(entry.actor_kind, 16),
                action=_clip(entry.action, 128),
                target=_clip(entry.target, 256),
                source=_clip(entry.source, 128),
                result=_clip(entry.result, 32),
                detail=canonical_detail(entry.detail),
                prev_hash=prev,
            )
            row.hash = prev = entry_hash(prev, row)
            rows.append(row)
        sql, order = _append_sql(s.dialect)
        if order is None:  # named parameters (PostgreSQL's psycopg)
            s.exec_driver_sql(sql, [_columns(r) for r in rows])
        else:  # positional (SQLite)
            s.exec_driver_sql(sql, [tuple(getattr(r, k) for k in order) for r in rows])
        s.execute(_NEW_HEAD, {"h": prev})
        return [_record(r) for r in rows] if records else []

    def entries(self, after_seq: int = 0, limit: int = 100) -> list[AuditRecord]:
        def rows(s: Session) -> list[AuditRecord]:
            q = select(AuditRow).where(AuditRow.seq > after_seq).order_by(AuditRow.seq)
            return [_record(r) for r in s.scalars(q.limit(limit))]

        return self._store._read("list audit entries", rows)

    def verify(self) -> Verification:
        """Walk the whole chain in order and report the first break, if any."""
        return self._store._read("verify audit log", _walk)


def _walk(s: Session) -> Verification:
    head = s.get(AuditHeadRow, HEAD_ID)
    if head is None:
        return Verification(False, 0, 0, 0, "the head row is missing")
    prev, expected, count = GENESIS, 1, 0
    for row in s.scalars(select(AuditRow).order_by(AuditRow.seq)).yield_per(1000):
        if row.seq != expected:
            return Verification(
                False, count, head.seq, expected,
                f"entry {expected} is missing (the next entry is {row.seq})",
            )  # fmt: skip
        if row.prev_hash != prev:
            return Verification(
                False, count, head.seq, row.seq,
                f"entry {row.seq} does not chain onto entry {row.seq - 1}",
            )  # fmt: skip
        if entry_hash(prev, row) != row.hash:
            return Verification(
                False, count, head.seq, row.seq, f"entry {row.seq} was altered after it was written"
            )
        prev, expected, count = row.hash, expected + 1, count + 1
    if head.seq != count or head.hash != prev:
        return Verification(
            False, count, head.seq, count + 1,
            f"the head says {head.seq} entries but {count} are present: entries were removed",
        )  # fmt: skip
    return Verification(True, count, head.seq)
