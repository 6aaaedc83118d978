"""slot cache health and scheduler lease

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 23:30:11.346569
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "connector_states",
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("killed", sa.Boolean(), nullable=False),
        sa.Column("killed_by", sa.String(length=64), nullable=True),
        sa.Column("killed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("open_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_connector_states")),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    op.create_table(
        "slot_fetches",
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("national_id", sa.String(length=40), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("source", "national_id", name=op.f("pk_slot_fetches")),
    )
    with op.batch_alter_table("connector_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ids_asked", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="fresh")
        )


def downgrade() -> None:

    with op.batch_alter_table("connector_runs", schema=None) as batch_op:
        batch_op.drop_column("status")
        batch_op.drop_column("ids_asked")

    op.drop_table("slot_fetches")
    op.drop_table("leases")
    op.drop_table("connector_states")
