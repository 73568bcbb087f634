"""Reads of the book of record that the API pages through: one order, orders by status or
symbol with a cursor, the fills of an order, the newest event of a kind and all of them.
Kept apart from :class:`Store`, whose methods are the trading path's writes and restores."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from neural_trader.storage.registry import JobRecord, _job
from neural_trader.storage.store import Store, _as_dict
from neural_trader.storage.tables import EventRow, FillRow, JobRow, OrderRow


def get_order(store: Store, account: str, client_order_id: str) -> dict[str, Any] | None:
    def load(s: Session) -> dict[str, Any] | None:
        row = s.scalar(
            select(OrderRow).where(
                OrderRow.account == account, OrderRow.client_order_id == client_order_id
            )
        )
        return None if row is None else _as_dict(row)

    return store._read("load order", load)


def list_orders(
    store: Store,
    account: str,
    *,
    status: list[str] | None = None,
    symbol: str | None = None,
    strategy: str | None = None,
    after: int = 0,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Orders in the order they were first stored, from row id ``after`` on (a cursor)."""

    def load(s: Session) -> list[dict[str, Any]]:
        q = select(OrderRow).where(OrderRow.account == account, OrderRow.id > after)
        if status:
            q = q.where(OrderRow.status.in_(status))
        if symbol is not None:
            q = q.where(OrderRow.symbol == symbol)
        if strategy is not None:
            q = q.where(OrderRow.strategy_id == strategy)
        return [_as_dict(r) for r in s.scalars(q.order_by(OrderRow.id).limit(limit))]

    return store._read("list orders", load)


def order_fills(store: Store, account: str, client_order_id: str) -> list[dict[str, Any]]:
    def load(s: Session) -> list[dict[str, Any]]:
        q = select(FillRow).where(
            FillRow.account == account, FillRow.client_order_id == client_order_id
        )
        return [_as_dict(r) for r in s.scalars(q.order_by(FillRow.id))]

    return store._read("list order fills", load)


def last_event(store: Store, account: str, kind: str) -> dict[str, Any] | None:
    def load(s: Session) -> dict[str, Any] | None:
        row = s.scalar(
            select(EventRow)
            .where(EventRow.account == account, EventRow.kind == kind)
            .order_by(EventRow.id.desc())
            .limit(1)
        )
        if row is None:
            return None
        return {"ts": row.ts, "kind": row.kind, "payload": json.loads(row.payload)}

    return store._read("load last event", load)


def events_of(store: Store, account: str, kind: str) -> list[dict[str, Any]]:
    """Every event of ``kind`` for ``account``, oldest first."""

    def load(s: Session) -> list[dict[str, Any]]:
        q = select(EventRow).where(EventRow.account == account, EventRow.kind == kind)
        return [
            {"ts": r.ts, "kind": r.kind, "payload": json.loads(r.payload)}
            for r in s.scalars(q.order_by(EventRow.id))
        ]

    return store._read("list events", load)


def list_jobs(store: Store, kind: str, limit: int = 50) -> list[JobRecord]:
    """The newest jobs of ``kind`` first."""

    def load(s: Session) -> list[JobRecord]:
        q = select(JobRow).where(JobRow.kind == kind).order_by(JobRow.created_at.desc())
        return [_job(r) for r in s.scalars(q.limit(limit))]

    return store._read("list jobs", load)
