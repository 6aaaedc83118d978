"""lrm hits: one row per LRM contextual link followed (statistics, no patient data)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lrm_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("origin", sa.String(length=64), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_lrm_hits_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lrm_hits")),
    )
    with op.batch_alter_table("lrm_hits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lrm_hits_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_lrm_hits_origin"), ["origin"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lrm_hits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lrm_hits_origin"))
        batch_op.drop_index(batch_op.f("ix_lrm_hits_at"))
    op.drop_table("lrm_hits")
