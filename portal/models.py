"""SQLAlchemy 2 typed models.

Times are stored in UTC (``UTCDateTime``) and are timezone-aware in Python.
Later features add columns through Alembic migrations (``portal/migrations``).
No table holds patient identity.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    types,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(types.TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC.

    SQLite drops offsets, so values are converted to UTC on the way in and
    marked UTC on the way out; PostgreSQL stores ``timestamptz``. Naive values
    are refused: they are always a bug here.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime refused: {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Territory(Base):
    """A SAS territory (``SAS-47``), one per department in the national table."""

    __tablename__ = "territories"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    label: Mapped[str] = mapped_column(String(120))
    department: Mapped[str] = mapped_column(String(3), unique=True)


class Practitioner(TimestampMixin, Base):
    """A health professional of the directory (no patient data, public directory data)."""

    __tablename__ = "practitioners"
    # covers what the search reads of each candidate (no table row: they are wide)
    __table_args__ = (
        Index(
            "ix_practitioners_search",
            "id",
            "specialty_code",
            "national_id",
            "sas_participation",
            "refuses_public_display",
            "refuses_pro_display",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    national_id: Mapped[str] = mapped_column(String(32), unique=True)  # 8+RPPS / 0+ADELI
    title: Mapped[str] = mapped_column(String(16), default="")  # DR, ...
    family_name: Mapped[str] = mapped_column(String(120))
    given_name: Mapped[str] = mapped_column(String(120), default="")
    profession_code: Mapped[str] = mapped_column(String(8), default="10")  # TRE_G15
    specialty_code: Mapped[str | None] = mapped_column(String(8), index=True)  # TRE_R38
    # SAS participation and its mode: individual | cpts | msp | sos | None
    sas_participation: Mapped[bool] = mapped_column(Boolean, default=False)
    participation_mode: Mapped[str | None] = mapped_column(String(16))
    accepts_extra_patients: Mapped[bool] = mapped_column(Boolean, default=False)
    refuses_public_display: Mapped[bool] = mapped_column(Boolean, default=False)
    refuses_pro_display: Mapped[bool] = mapped_column(Boolean, default=False)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)

    places: Mapped[list[PlaceOfPractice]] = relationship(back_populates="practitioner")

    @property
    def display_name(self) -> str:
        prefix = "Dr " if self.title.upper() == "DR" else ""
        return f"{prefix}{self.given_name} {self.family_name}".strip()


class Structure(TimestampMixin, Base):
    """A structure: SOS Médecins association, CPTS, MSP, health centre, practice."""

    __tablename__ = "structures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    national_id: Mapped[str] = mapped_column(String(40), unique=True)  # 1+FINESS / 3+SIRET / …
    # SOS | CPTS | MSP | CDS | CABINET | ETAB
    kind: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(3), index=True)
    feed_mode: Mapped[str] = mapped_column(String(16), default="manual")  # manual | automatic
    feed_consented_by: Mapped[str | None] = mapped_column(String(64))
    feed_consented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)

    places: Mapped[list[PlaceOfPractice]] = relationship(back_populates="structure")


class StructureMembership(Base):
    """A practitioner's membership of a structure that is not a place (CPTS, SOS)."""

    __tablename__ = "structure_memberships"

    structure_id: Mapped[int] = mapped_column(
        ForeignKey("structures.id", ondelete="CASCADE"), primary_key=True
    )
    practitioner_id: Mapped[int] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE"), primary_key=True
    )


class PlaceOfPractice(TimestampMixin, Base):
    """Where a practitioner practises (one directory activity line); geocoded."""

    __tablename__ = "places_of_practice"
    # the search's box and department scans, covered (no table row read per place)
    __table_args__ = (
        Index(
            "ix_places_search_box",
            "lat",
            "lon",
            "practitioner_id",
            "structure_id",
            "department",
            "id",
        ),
        Index(
            "ix_places_search_department",
            "department",
            "lat",
            "lon",
            "practitioner_id",
            "structure_id",
            "id",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Stable key of the directory activity, so that re-imports update in place.
    activity_key: Mapped[str] = mapped_column(String(64), unique=True)
    practitioner_id: Mapped[int | None] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE"), index=True
    )
    structure_id: Mapped[int | None] = mapped_column(
        ForeignKey("structures.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    address_line: Mapped[str] = mapped_column(String(300), default="")
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    insee_code: Mapped[str | None] = mapped_column(String(5), index=True)
    city: Mapped[str] = mapped_column(String(120), default="")
    department: Mapped[str | None] = mapped_column(String(3), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    geocode_precision: Mapped[str] = mapped_column(String(16), default="commune")
    phone: Mapped[str] = mapped_column(String(32), default="")

    practitioner: Mapped[Practitioner | None] = relationship(back_populates="places")
    structure: Mapped[Structure | None] = relationship(back_populates="places")


class ConnectorBinding(TimestampMixin, Base):
    """Which source serves a practitioner or structure, with its upstream ids."""

    __tablename__ = "connector_bindings"
    __table_args__ = (UniqueConstraint("source", "practitioner_id", "structure_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "doctolib_like:<editor>", "sos_medecins", "cpts", "sas_agenda"
    source: Mapped[str] = mapped_column(String(80), index=True)
    practitioner_id: Mapped[int | None] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE"), index=True
    )
    structure_id: Mapped[int | None] = mapped_column(
        ForeignKey("structures.id", ondelete="CASCADE"), index=True
    )
    upstream_ids: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


def _slot_fact(key: str) -> Any:
    """A default filling a slot fact column from the row's JSON ``data`` (ORM and Core)."""

    def fill(context: Any) -> str | None:
        data = context.get_current_parameters().get("data")
        if not isinstance(data, dict) or data.get(key) is None:
            return None
        return json.dumps(list(data[key]))

    return fill


class CachedSlot(Base):
    """Cache of normalised slots, refreshed by the scheduler and at search time.

    ``modalities`` and ``visibility`` copy the JSON lists of ``data`` (as JSON text) so
    the search reads them without JSON extraction (filled on every write, backfilled by
    migration 0005); NULL means the slot did not say, read as "any".
    """

    __tablename__ = "slots"
    __table_args__ = (
        UniqueConstraint("source", "upstream_id"),
        Index("ix_slots_practitioner_start", "practitioner", "start"),
        Index("ix_slots_structure_start", "structure", "start"),
        # covers the search's slot facts: no table row (nor JSON) read per slot
        Index(
            "ix_slots_practitioner_facts",
            "practitioner",
            "start",
            "end",
            "source",
            "modalities",
            "visibility",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(80))
    upstream_id: Mapped[str] = mapped_column(String(128))
    practitioner: Mapped[str | None] = mapped_column(String(32))
    structure: Mapped[str | None] = mapped_column(String(40))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)  # the normalised slot's JSON form
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modalities: Mapped[str | None] = mapped_column(Text, default=_slot_fact("modalities"))
    visibility: Mapped[str | None] = mapped_column(Text, default=_slot_fact("visibility"))


class SlotSummary(Base):
    """What the search needs of the cached slots of one owner from one source: per
    combination of modalities and visibility, when the first starts and the last ends.

    One row stands for a dozen slot rows: deciding who has slots, of which kinds and
    modalities, reads these rows only (the "available within" filter also reads the slots
    of its window). Kept in step with ``slots`` by ``slot_cache.summarise`` on every
    cache write (Core writes call it, ORM flushes trigger it).
    """

    __tablename__ = "slot_summaries"
    __table_args__ = (
        # covers the search: no table row read
        Index(
            "ix_slot_summaries_owner",
            "owner",
            "last_end",
            "first_start",
            "source",
            "modalities",
            "visibility",
        ),
        Index("ix_slot_summaries_source", "source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(80))
    owner: Mapped[str] = mapped_column(String(40))  # national id
    owner_kind: Mapped[str] = mapped_column(String(16))  # practitioner | structure
    modalities: Mapped[str | None] = mapped_column(Text)  # JSON list, as in ``slots``
    visibility: Mapped[str | None] = mapped_column(Text)
    first_start: Mapped[datetime] = mapped_column(UTCDateTime)
    last_end: Mapped[datetime] = mapped_column(UTCDateTime)


class ConnectorRun(Base):
    """One call of a connector: timing, counts, error (for health pages)."""

    __tablename__ = "connector_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(80), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    ids_asked: Mapped[int] = mapped_column(Integer, default=0)
    slot_count: Mapped[int] = mapped_column(Integer, default=0)
    # fresh | failed | timeout | open (breaker) | killed
    status: Mapped[str] = mapped_column(String(16), default="fresh")
    error: Mapped[str | None] = mapped_column(Text)


class User(TimestampMixin, Base):
    """A portal user (Pro Santé Connect or local account)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    oidc_subject: Mapped[str | None] = mapped_column(String(200), unique=True)
    national_id: Mapped[str | None] = mapped_column(String(40), index=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    family_name: Mapped[str] = mapped_column(String(120), default="")
    given_name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Regulators log in with Pro Santé Connect only, unless an administrator allows it.
    allow_local_regulator: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


class UserRole(Base):
    """A role held by a user, optionally scoped to a territory or a structure."""

    __tablename__ = "user_roles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    territory_code: Mapped[str | None] = mapped_column(ForeignKey("territories.code"))
    structure_id: Mapped[int | None] = mapped_column(
        ForeignKey("structures.id", ondelete="CASCADE")
    )
    # delegataire: the practitioner acted for; effecteur: the user's own practitioner row
    practitioner_id: Mapped[int | None] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE")
    )

    user: Mapped[User] = relationship(back_populates="roles")


class LrmOrigin(TimestampMixin, Base):
    """An LRM (call-handling software) allowed to open prefilled searches."""

    __tablename__ = "lrm_origins"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class AuditEvent(Base):
    """Append-only audit trail (who did what, when; never patient identity)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))


class SearchLog(Base):
    """One search, anonymous: what, where, how many, how fast."""

    __tablename__ = "search_logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    where_kind: Mapped[str] = mapped_column(String(16))  # commune | address | department | lrm
    insee_code: Mapped[str | None] = mapped_column(String(5))
    department: Mapped[str | None] = mapped_column(String(3), index=True)
    specialty: Mapped[str | None] = mapped_column(String(16))
    radius_km: Mapped[float] = mapped_column(Float, default=0.0)
    result_count: Mapped[int] = mapped_column(Integer, default=0)
    with_slots_count: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    origin: Mapped[str | None] = mapped_column(String(64))


class ConnectorState(Base):
    """Per-source health: circuit breaker and kill switch.

    ``source`` is a slot source (``doctolib_like:editeur-a``, ``cpts`` …), not a plugin.
    """

    __tablename__ = "connector_states"

    source: Mapped[str] = mapped_column(String(80), primary_key=True)
    killed: Mapped[bool] = mapped_column(Boolean, default=False)
    killed_by: Mapped[str | None] = mapped_column(String(64))
    killed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    open_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class SlotFetch(Base):
    """When the slots of one practitioner/structure were last fetched from a source."""

    __tablename__ = "slot_fetches"
    # the cards and "Pourquoi rien ?" read them by owner, whatever the source
    __table_args__ = (Index("ix_slot_fetches_national_id", "national_id"),)

    source: Mapped[str] = mapped_column(String(80), primary_key=True)
    national_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last success
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="fresh")  # fresh|failed|timeout


class SlotFlight(Base):
    """Single flight of slot fetches, shared by every worker and the scheduler.

    A refresh claims the (source, national id) targets it is about to fetch by moving
    ``busy_until`` forward (a conditional upsert: only expired, stale targets are
    claimed); other callers then wait for it or use the cache. ``settled_at`` is when the
    last fetch ended, answered or failed, for the freshness threshold (``SLOT_MIN_AGE_S``:
    page views do not retry a failing editor more often either). A crashed holder's claim
    expires by itself.
    """

    __tablename__ = "slot_flights"

    source: Mapped[str] = mapped_column(String(80), primary_key=True)
    national_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    busy_until: Mapped[datetime] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Lease(Base):
    """A named lease, so that only one scheduler process runs the jobs."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PasswordResetToken(Base):
    """A single-use password (re)set link issued by an administrator; only its hash is kept."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class LoginThrottle(Base):
    """Failed logins per key (``account:<email>`` or ``ip:<address>``), shared by all workers."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LrmHit(Base):
    """One LRM contextual link followed (INT_L01), for the statistics.

    Only how each parameter was given (``PARAM_STATUSES`` of ``portal.search.lrm``) is
    kept, never its value: the practitioner, city and street describe a patient.
    """

    __tablename__ = "lrm_hits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    origin: Mapped[str] = mapped_column(String(64), index=True)
    accepted: Mapped[bool] = mapped_column(Boolean)
    # parameter name -> "normé" | "texte libre" | "absent" | "invalide"
    params: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
