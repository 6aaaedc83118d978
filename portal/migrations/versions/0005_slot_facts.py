"""slot facts: the modalities and visibility of cached slots as columns

The search reads them for every candidate's slots; extracting them from the JSON
``data`` costs most of its time at national scale. Existing rows are backfilled
from ``data`` (NULL would also work: it means "read ``data``").

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("modalities", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("visibility", sa.Text(), nullable=True))
        batch_op.create_index(
            "ix_slots_practitioner_facts",
            ["practitioner", "start", "end", "source", "modalities", "visibility"],
            unique=False,
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE slots SET modalities = data::json ->> 'modalities', "
            "visibility = data::json ->> 'visibility'"
        )
    else:
        op.execute(
            "UPDATE slots SET modalities = json_extract(data, '$.modalities'), "
            "visibility = json_extract(data, '$.visibility')"
        )


def downgrade() -> None:
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.drop_index("ix_slots_practitioner_facts")
        batch_op.drop_column("visibility")
        batch_op.drop_column("modalities")
