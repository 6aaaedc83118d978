"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 23:01:36.413683
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)

    op.create_table(
        "connector_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("slot_count", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_runs")),
    )
    with op.batch_alter_table("connector_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_connector_runs_source"), ["source"], unique=False)

    op.create_table(
        "lrm_origins",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_lrm_origins")),
    )
    op.create_table(
        "practitioners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("national_id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=16), nullable=False),
        sa.Column("family_name", sa.String(length=120), nullable=False),
        sa.Column("given_name", sa.String(length=120), nullable=False),
        sa.Column("profession_code", sa.String(length=8), nullable=False),
        sa.Column("specialty_code", sa.String(length=8), nullable=True),
        sa.Column("sas_participation", sa.Boolean(), nullable=False),
        sa.Column("participation_mode", sa.String(length=16), nullable=True),
        sa.Column("accepts_extra_patients", sa.Boolean(), nullable=False),
        sa.Column("refuses_public_display", sa.Boolean(), nullable=False),
        sa.Column("refuses_pro_display", sa.Boolean(), nullable=False),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practitioners")),
        sa.UniqueConstraint("national_id", name=op.f("uq_practitioners_national_id")),
    )
    with op.batch_alter_table("practitioners", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_practitioners_specialty_code"), ["specialty_code"], unique=False
        )

    op.create_table(
        "search_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("where_kind", sa.String(length=16), nullable=False),
        sa.Column("insee_code", sa.String(length=5), nullable=True),
        sa.Column("department", sa.String(length=3), nullable=True),
        sa.Column("specialty", sa.String(length=16), nullable=True),
        sa.Column("radius_km", sa.Float(), nullable=False),
        sa.Column("result_count", sa.Integer(), nullable=False),
        sa.Column("with_slots_count", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_logs")),
    )
    with op.batch_alter_table("search_logs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_search_logs_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_search_logs_department"), ["department"], unique=False)

    op.create_table(
        "slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("upstream_id", sa.String(length=128), nullable=False),
        sa.Column("practitioner", sa.String(length=32), nullable=True),
        sa.Column("structure", sa.String(length=40), nullable=True),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slots")),
        sa.UniqueConstraint("source", "upstream_id", name=op.f("uq_slots_source_upstream_id")),
    )
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_slots_practitioner_start", ["practitioner", "start"], unique=False
        )
        batch_op.create_index("ix_slots_structure_start", ["structure", "start"], unique=False)

    op.create_table(
        "structures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("national_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=True),
        sa.Column("feed_mode", sa.String(length=16), nullable=False),
        sa.Column("feed_consented_by", sa.String(length=64), nullable=True),
        sa.Column("feed_consented_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_structures")),
        sa.UniqueConstraint("national_id", name=op.f("uq_structures_national_id")),
    )
    with op.batch_alter_table("structures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_structures_department"), ["department"], unique=False)
        batch_op.create_index(batch_op.f("ix_structures_kind"), ["kind"], unique=False)

    op.create_table(
        "territories",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_territories")),
        sa.UniqueConstraint("department", name=op.f("uq_territories_department")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("oidc_subject", sa.String(length=200), nullable=True),
        sa.Column("national_id", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("family_name", sa.String(length=120), nullable=False),
        sa.Column("given_name", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("oidc_subject", name=op.f("uq_users_oidc_subject")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_national_id"), ["national_id"], unique=False)

    op.create_table(
        "connector_bindings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("practitioner_id", sa.Integer(), nullable=True),
        sa.Column("structure_id", sa.Integer(), nullable=True),
        sa.Column("upstream_ids", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_connector_bindings_practitioner_id_practitioners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["structure_id"],
            ["structures.id"],
            name=op.f("fk_connector_bindings_structure_id_structures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_bindings")),
        sa.UniqueConstraint(
            "source",
            "practitioner_id",
            "structure_id",
            name=op.f("uq_connector_bindings_source_practitioner_id_structure_id"),
        ),
    )
    with op.batch_alter_table("connector_bindings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_connector_bindings_practitioner_id"), ["practitioner_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_connector_bindings_source"), ["source"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_connector_bindings_structure_id"), ["structure_id"], unique=False
        )

    op.create_table(
        "places_of_practice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_key", sa.String(length=64), nullable=False),
        sa.Column("practitioner_id", sa.Integer(), nullable=True),
        sa.Column("structure_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address_line", sa.String(length=300), nullable=False),
        sa.Column("postal_code", sa.String(length=10), nullable=False),
        sa.Column("insee_code", sa.String(length=5), nullable=True),
        sa.Column("city", sa.String(length=120), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("geocode_precision", sa.String(length=16), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_places_of_practice_practitioner_id_practitioners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["structure_id"],
            ["structures.id"],
            name=op.f("fk_places_of_practice_structure_id_structures"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_places_of_practice")),
        sa.UniqueConstraint("activity_key", name=op.f("uq_places_of_practice_activity_key")),
    )
    with op.batch_alter_table("places_of_practice", schema=None) as batch_op:
        batch_op.create_index("ix_places_lat_lon", ["lat", "lon"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_places_of_practice_department"), ["department"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_places_of_practice_insee_code"), ["insee_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_places_of_practice_practitioner_id"), ["practitioner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_places_of_practice_structure_id"), ["structure_id"], unique=False
        )

    op.create_table(
        "structure_memberships",
        sa.Column("structure_id", sa.Integer(), nullable=False),
        sa.Column("practitioner_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_structure_memberships_practitioner_id_practitioners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["structure_id"],
            ["structures.id"],
            name=op.f("fk_structure_memberships_structure_id_structures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "structure_id", "practitioner_id", name=op.f("pk_structure_memberships")
        ),
    )
    op.create_table(
        "user_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("territory_code", sa.String(length=16), nullable=True),
        sa.Column("structure_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["structure_id"],
            ["structures.id"],
            name=op.f("fk_user_roles_structure_id_structures"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["territory_code"],
            ["territories.code"],
            name=op.f("fk_user_roles_territory_code_territories"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_roles_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_roles")),
    )
    with op.batch_alter_table("user_roles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_roles_user_id"), ["user_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("user_roles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_roles_user_id"))

    op.drop_table("user_roles")
    op.drop_table("structure_memberships")
    with op.batch_alter_table("places_of_practice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_places_of_practice_structure_id"))
        batch_op.drop_index(batch_op.f("ix_places_of_practice_practitioner_id"))
        batch_op.drop_index(batch_op.f("ix_places_of_practice_insee_code"))
        batch_op.drop_index(batch_op.f("ix_places_of_practice_department"))
        batch_op.drop_index("ix_places_lat_lon")

    op.drop_table("places_of_practice")
    with op.batch_alter_table("connector_bindings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_connector_bindings_structure_id"))
        batch_op.drop_index(batch_op.f("ix_connector_bindings_source"))
        batch_op.drop_index(batch_op.f("ix_connector_bindings_practitioner_id"))

    op.drop_table("connector_bindings")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_national_id"))

    op.drop_table("users")
    op.drop_table("territories")
    with op.batch_alter_table("structures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_structures_kind"))
        batch_op.drop_index(batch_op.f("ix_structures_department"))

    op.drop_table("structures")
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.drop_index("ix_slots_structure_start")
        batch_op.drop_index("ix_slots_practitioner_start")

    op.drop_table("slots")
    with op.batch_alter_table("search_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_logs_department"))
        batch_op.drop_index(batch_op.f("ix_search_logs_at"))

    op.drop_table("search_logs")
    with op.batch_alter_table("practitioners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practitioners_specialty_code"))

    op.drop_table("practitioners")
    op.drop_table("lrm_origins")
    with op.batch_alter_table("connector_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_connector_runs_source"))

    op.drop_table("connector_runs")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))

    op.drop_table("audit_events")
