"""Bracket orders: an entry's protective stop level and a child order's parent.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from neural_trader.storage.tables import ExactDecimal

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("stop_loss", ExactDecimal(), nullable=True))
        batch.add_column(sa.Column("parent_id", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("parent_id")
        batch.drop_column("stop_loss")
