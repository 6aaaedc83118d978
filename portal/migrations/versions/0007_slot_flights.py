"""slot flights: single flight and freshness threshold of slot fetches

Overlapping refreshes of the same targets (two regulators on neighbouring cards, a
live refresh during the scheduler's round) must not all call the editor: a refresh
claims its targets in ``slot_flights`` (a conditional upsert) before fetching them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 23:55:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slot_flights",
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("national_id", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("busy_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("source", "national_id", name=op.f("pk_slot_flights")),
    )


def downgrade() -> None:
    op.drop_table("slot_flights")
