"""slot summaries: one row per owner, source, modalities and visibility

Also indexes the fetch times by owner (the result cards read them by national id,
whatever the source: the primary key starts with the source), and covers the
search's scans of places (box, department) and candidates with indexes, so that no
wide table row is read per candidate (``ix_places_search_box`` replaces
``ix_places_lat_lon``, its prefix).

The search decided who has slots by aggregating every cached slot of every
candidate (a dozen rows each, 10 000 candidates in a wide search); it now reads
one summary row per combination. Filled from the existing cache.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: (name, (table, *columns))
SEARCH_INDEXES = (
    (
        "ix_places_search_box",
        ("places_of_practice", "lat", "lon", "practitioner_id", "structure_id", "department", "id"),
    ),
    (
        "ix_places_search_department",
        ("places_of_practice", "department", "lat", "lon", "practitioner_id", "structure_id", "id"),
    ),
    (
        "ix_practitioners_search",
        (
            "practitioners",
            "id",
            "specialty_code",
            "national_id",
            "sas_participation",
            "refuses_public_display",
            "refuses_pro_display",
        ),
    ),
)


def upgrade() -> None:
    op.create_table(
        "slot_summaries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("owner", sa.String(length=40), nullable=False),
        sa.Column("owner_kind", sa.String(length=16), nullable=False),
        sa.Column("modalities", sa.Text(), nullable=True),
        sa.Column("visibility", sa.Text(), nullable=True),
        sa.Column("first_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_end", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_slot_summaries_owner",
        "slot_summaries",
        ["owner", "last_end", "first_start", "source", "modalities", "visibility"],
        unique=False,
    )
    op.create_index("ix_slot_summaries_source", "slot_summaries", ["source"], unique=False)
    op.create_index("ix_slot_fetches_national_id", "slot_fetches", ["national_id"], unique=False)
    op.drop_index("ix_places_lat_lon", table_name="places_of_practice")
    for name, columns in SEARCH_INDEXES:
        op.create_index(name, columns[0], list(columns[1:]), unique=False)
    for kind in ("practitioner", "structure"):  # the fact columns were filled by 0005
        op.execute(
            "INSERT INTO slot_summaries "
            "(source, owner, owner_kind, modalities, visibility, first_start, last_end) "
            f"SELECT source, {kind}, '{kind}', modalities, visibility, min(start), max(\"end\") "
            f"FROM slots WHERE {kind} IS NOT NULL "
            f"GROUP BY source, {kind}, modalities, visibility"
        )


def downgrade() -> None:
    for name, columns in SEARCH_INDEXES:
        op.drop_index(name, table_name=columns[0])
    op.create_index("ix_places_lat_lon", "places_of_practice", ["lat", "lon"], unique=False)
    op.drop_index("ix_slot_fetches_national_id", table_name="slot_fetches")
    op.drop_index("ix_slot_summaries_source", table_name="slot_summaries")
    op.drop_index("ix_slot_summaries_owner", table_name="slot_summaries")
    op.drop_table("slot_summaries")
