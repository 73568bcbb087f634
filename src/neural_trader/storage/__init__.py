"""Storage: the persisted book of record (SQLAlchemy 2 + Alembic; SQLite or PostgreSQL)."""

from neural_trader.storage.store import AccountState, Store, normalise_url

__all__ = ["AccountState", "Store", "normalise_url"]
