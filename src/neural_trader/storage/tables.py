"""The book of record's tables (SQLAlchemy 2). Every row belongs to an ``account``.

Money and quantities are stored exactly: as NUMERIC(38, 18) on PostgreSQL and as decimal text
on SQLite (whose NUMERIC affinity would silently turn them into binary floats).
Timestamps are integer nanoseconds since the epoch, UTC.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Dialect,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine


class ExactDecimal(TypeDecorator[Decimal]):
    impl = String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(38, 18, asdecimal=True))
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError(f"expected a finite Decimal, got {value!r}")
        return value if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        # PostgreSQL pads to 18 places; strip trailing zeros so both backends read the same.
        d = (value if isinstance(value, Decimal) else Decimal(value)).normalize()
        return d.quantize(Decimal(1)) if d == d.to_integral_value() else d


class Base(DeclarativeBase):
    """The metadata every table here shares (what Alembic's migrations are checked against)."""


def core_table(mapped: type[Base]) -> Table:
    """The Core table of a mapped class: statements on it skip the ORM's bulk machinery and
    its per-row bookkeeping, which the ledger's and the audit log's batched writes do not
    need (that machinery was most of their time under the API's order load)."""
    return cast(Table, mapped.__table__)


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("account", "client_order_id", name="uq_orders_account_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(64), index=True)
    client_order_id: Mapped[str] = mapped_column(String(128))
    strategy_id: Mapped[str] = mapped_column(String(128))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(8))
    order_type: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    limit_price: Mapped[Decimal | None] = mapped_column(ExactDecimal(), nullable=True)
    stop_price: Mapped[Decimal | None] = mapped_column(ExactDecimal(), nullable=True)
    stop_loss: Mapped[Decimal | None] = mapped_column(ExactDecimal(), nullable=True)
    parent_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    time_in_force: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(24), index=True)
    filled_quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    avg_price: Mapped[Decimal] = mapped_column(ExactDecimal())
    venue_order_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    decision_ts: Mapped[int] = mapped_column(BigInteger)
    ts_created: Mapped[int] = mapped_column(BigInteger)
    ts_last: Mapped[int] = mapped_column(BigInteger)


class FillRow(Base):
    __tablename__ = "fills"
    __table_args__ = (UniqueConstraint("account", "fill_id", name="uq_fills_account_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(64), index=True)
    fill_id: Mapped[str] = mapped_column(String(160))
    client_order_id: Mapped[str] = mapped_column(String(128))
    strategy_id: Mapped[str] = mapped_column(String(128))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    price: Mapped[Decimal] = mapped_column(ExactDecimal())
    commission: Mapped[Decimal] = mapped_column(ExactDecimal())
    ts: Mapped[int] = mapped_column(BigInteger)
    venue: Mapped[str] = mapped_column(String(32))
    liquidity: Mapped[str] = mapped_column(String(8))


class PositionRow(Base):
    __tablename__ = "positions"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    cost_basis: Mapped[Decimal] = mapped_column(ExactDecimal())
    realized_pnl: Mapped[Decimal] = mapped_column(ExactDecimal())
    commissions: Mapped[Decimal] = mapped_column(ExactDecimal())
    ts: Mapped[int] = mapped_column(BigInteger)


class AccountRow(Base):
    __tablename__ = "accounts"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    currency: Mapped[str] = mapped_column(String(16))
    starting_cash: Mapped[Decimal] = mapped_column(ExactDecimal())
    cash: Mapped[Decimal] = mapped_column(ExactDecimal())
    total_commissions: Mapped[Decimal] = mapped_column(ExactDecimal())
    ts: Mapped[int] = mapped_column(BigInteger)


class CheckpointRow(Base):
    __tablename__ = "checkpoints"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class EventRow(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(64), index=True)
    ts: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)


class ModelRow(Base):
    """One trained model version: what it is, what it was trained on, how good it was, and
    where its weights are (a path under the configured models directory, with their hash)."""

    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_models_name_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    architecture: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(64))
    hparams: Mapped[str] = mapped_column(Text)  # JSON
    training: Mapped[str] = mapped_column(Text)  # JSON: config, data span, normaliser, history
    metrics: Mapped[str] = mapped_column(Text)  # JSON: test metrics, verdict, conformal
    data_fingerprint: Mapped[str] = mapped_column(String(64))
    artifact: Mapped[str] = mapped_column(String(512))
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(16), index=True)
    job_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class JobRow(Base):
    """A background job (model training): its state, progress and outcome."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[str] = mapped_column(Text)  # JSON
    status: Mapped[str] = mapped_column(String(16), index=True)
    progress: Mapped[float] = mapped_column(Numeric(6, 5, asdecimal=False))
    message: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    finished_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class UserRow(Base):
    """A person or service that may use the API: a role and an argon2 hash of its password
    (never the password). Disabled users keep their row so the audit log can name them."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class ApiKeyRow(Base):
    """An API key: its public id, the SHA-256 of its secret (keys are random and long, so a
    fast hash is enough and keeps per-request checks cheap), its scopes and its lifetime."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(Text)  # space-separated permissions
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class RefreshTokenRow(Base):
    """One refresh token of a rotation family: used once, then replaced by the next; a token
    presented after it was used means the family leaked, and the whole family is revoked."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    family: Mapped[str] = mapped_column(String(32), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class SigningKeyRow(Base):
    """The key access tokens are signed with, made on first use, shared by every replica
    that uses this database."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[int] = mapped_column(BigInteger)


class AuditRow(Base):
    """One audit entry. ``hash`` is SHA-256 over ``prev_hash`` and the entry's canonical
    content, so editing or deleting any entry breaks the chain from there on."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(128))
    actor_kind: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(128))
    target: Mapped[str] = mapped_column(String(256))
    source: Mapped[str] = mapped_column(String(128))
    result: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(Base):
    """The chain's head (one row): the last sequence number and hash. Appenders lock it, so
    entries get consecutive numbers across processes, and it tells a truncated tail."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
