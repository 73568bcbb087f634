"""Storage: the persisted book of record (SQLAlchemy 2 + Alembic; SQLite or PostgreSQL), the
tamper-evident audit log, and the rows behind API users, keys and tokens."""

from neural_trader.storage.audit import AuditEntry, AuditLog, AuditRecord, Verification
from neural_trader.storage.security import KeyRecord, SecurityStore, UserRecord
from neural_trader.storage.store import AccountState, Store, normalise_url

__all__ = [
    "AccountState",
    "AuditEntry",
    "AuditLog",
    "AuditRecord",
    "KeyRecord",
    "SecurityStore",
    "Store",
    "UserRecord",
    "Verification",
    "normalise_url",
]
