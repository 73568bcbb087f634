"""The book of record: orders, fills, positions, accounts, checkpoints, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from neural_trader.storage.tables import ExactDecimal

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    money = ExactDecimal
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("client_order_id", sa.String(128), nullable=False),
        sa.Column("strategy_id", sa.String(128), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("order_type", sa.String(16), nullable=False),
        sa.Column("quantity", money(), nullable=False),
        sa.Column("limit_price", money(), nullable=True),
        sa.Column("stop_price", money(), nullable=True),
        sa.Column("time_in_force", sa.String(8), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("filled_quantity", money(), nullable=False),
        sa.Column("avg_price", money(), nullable=False),
        sa.Column("venue_order_id", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decision_ts", sa.BigInteger(), nullable=False),
        sa.Column("ts_created", sa.BigInteger(), nullable=False),
        sa.Column("ts_last", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("account", "client_order_id", name="uq_orders_account_id"),
    )
    op.create_index("ix_orders_account", "orders", ["account"])
    op.create_index("ix_orders_status", "orders", ["status"])
    op.create_table(
        "fills",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("fill_id", sa.String(160), nullable=False),
        sa.Column("client_order_id", sa.String(128), nullable=False),
        sa.Column("strategy_id", sa.String(128), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("quantity", money(), nullable=False),
        sa.Column("price", money(), nullable=False),
        sa.Column("commission", money(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("venue", sa.String(32), nullable=False),
        sa.Column("liquidity", sa.String(8), nullable=False),
        sa.UniqueConstraint("account", "fill_id", name="uq_fills_account_id"),
    )
    op.create_index("ix_fills_account", "fills", ["account"])
    op.create_table(
        "positions",
        sa.Column("account", sa.String(64), primary_key=True),
        sa.Column("symbol", sa.String(64), primary_key=True),
        sa.Column("quantity", money(), nullable=False),
        sa.Column("cost_basis", money(), nullable=False),
        sa.Column("realized_pnl", money(), nullable=False),
        sa.Column("commissions", money(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "accounts",
        sa.Column("account", sa.String(64), primary_key=True),
        sa.Column("currency", sa.String(16), nullable=False),
        sa.Column("starting_cash", money(), nullable=False),
        sa.Column("cash", money(), nullable=False),
        sa.Column("total_commissions", money(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "checkpoints",
        sa.Column("account", sa.String(64), primary_key=True),
        sa.Column("stream", sa.String(64), primary_key=True),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
    )
    op.create_index("ix_events_account", "events", ["account"])


def downgrade() -> None:
    for table in ("events", "checkpoints", "accounts", "positions", "fills", "orders"):
        op.drop_table(table)
