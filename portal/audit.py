"""The append-only audit trail: who did what, when (never patient identity).

Events are only ever added (:func:`record`); this module offers no way to change
or remove one, and the ORM refuses to: an update or delete of an
:class:`~portal.models.AuditEvent` row, by unit of work or by an ORM
``update()``/``delete()`` statement, raises :class:`AuditTrailIsAppendOnly`.
Listing (:func:`list_events`) and CSV export (:func:`iter_csv`) read it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, String, cast, event, func, or_, select
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from portal.models import AuditEvent, User, utcnow
from portal.permissions import Principal

#: ``(client ip, request id)`` of the web request being served, set by the web layer
#: (``portal.web.security``) so that services record them without knowing Flask.
REQUEST_ORIGIN: ContextVar[tuple[str | None, str | None] | None] = ContextVar(
    "request_origin", default=None
)

__all__ = [
    "ACTION_LABELS",
    "CSV_COLUMNS",
    "AuditFilter",
    "AuditPage",
    "AuditTrailIsAppendOnly",
    "actions",
    "actor_names",
    "count_events",
    "csv_row",
    "iter_csv",
    "list_events",
    "local_day_bounds",
    "record",
]

#: French labels of the actions recorded across the portal (others show as is).
ACTION_LABELS: Final = {
    "login": "Connexion",
    "login_failed": "Échec de connexion",
    "logout": "Déconnexion",
    "search": "Recherche",
    "orientation": "Orientation",
    "audit_export": "Export du journal d'audit",
    "connector_kill_switch": "Coupure d'une source",
    "connector_binding_set": "Rattachement à une source",
    "connector_binding_removed": "Suppression d'un rattachement à une source",
    "role_granted": "Rôle attribué",
    "role_revoked": "Rôle retiré",
    "account_created": "Compte créé",
    "account_deactivated": "Compte désactivé",
    "account_reactivated": "Compte réactivé",
    "password_reset_issued": "Lien de réinitialisation émis",
    "reset_link_issued": "Lien de (ré)initialisation du mot de passe émis",
    "password_set": "Mot de passe défini",
    "totp_enrolled": "Second facteur enrôlé",
    "totp_reset": "Second facteur réinitialisé",
    "local_regulator_allowed": "Connexion locale autorisée pour un régulateur",
    "provisioning_failed": "Échec de transmission du compte à un éditeur",
    "participation_changed": "Participation modifiée",
    "lrm_refused": "Lien LRM refusé",
    "lrm_origin_created": "Origine LRM ajoutée",
    "lrm_origin_toggled": "Origine LRM activée / désactivée",
}

CSV_COLUMNS: Final = ("at", "actor", "action", "target", "ip", "request_id", "details")


class AuditTrailIsAppendOnly(RuntimeError):
    """Raised when code tries to modify or delete an audit event."""


def record(
    session: Session,
    action: str,
    *,
    actor: str | None,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
    ip: str | None = None,
    request_id: str | None = None,
) -> AuditEvent:
    """Add one audit event to the session (the caller commits with its own change).

    Inside a request, ``ip`` and ``request_id`` default to the request's.
    """
    origin = REQUEST_ORIGIN.get()
    if origin is not None:
        ip = ip if ip is not None else origin[0]
        request_id = request_id if request_id is not None else origin[1]
    event_ = AuditEvent(
        action=action,
        actor=actor,
        target=target,
        details=dict(details or {}),
        ip=ip,
        request_id=request_id,
    )
    session.add(event_)
    return event_


# --- append-only enforcement -------------------------------------------------------


def _refuse_flush(session: Session, _flush_context: UOWTransaction, _instances: object) -> None:
    for obj in session.deleted:
        if isinstance(obj, AuditEvent):
            raise AuditTrailIsAppendOnly("audit events cannot be deleted")
    for obj in session.dirty:
        if isinstance(obj, AuditEvent) and session.is_modified(obj):
            raise AuditTrailIsAppendOnly("audit events cannot be modified")


def _refuse_bulk(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    if any(mapper.class_ is AuditEvent for mapper in state.all_mappers):
        raise AuditTrailIsAppendOnly("audit events cannot be modified or deleted")


# Every ORM session of the process: a unit-of-work change and a bulk statement
# are both refused before anything reaches the database.
event.listen(Session, "before_flush", _refuse_flush)
event.listen(Session, "do_orm_execute", _refuse_bulk)


# --- listing -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What the administrator asked for; empty fields do not filter.

    ``since`` is inclusive, ``until`` exclusive (both aware datetimes).
    ``actor`` is an actor id, or an e-mail / name matched against the users.
    ``text`` is searched in the target, the details, the IP and the request id.
    """

    action: str = ""
    actor: str = ""
    since: datetime | None = None
    until: datetime | None = None
    text: str = ""

    def as_details(self) -> dict[str, str]:
        """The filter as JSON-able audit details (an export records what it exported)."""
        return {
            k: (v.astimezone(UTC).isoformat() if isinstance(v, datetime) else v)
            for k, v in asdict(self).items()
            if v
        }


@dataclass(frozen=True, slots=True)
class AuditPage:
    """One page of events, newest first."""

    events: list[AuditEvent]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def local_day_bounds(
    first: date | None, last: date | None, timezone: str
) -> tuple[datetime | None, datetime | None]:
    """``[first 00:00, day after last 00:00)`` in ``timezone``, as UTC datetimes."""
    zone = ZoneInfo(timezone)
    since = datetime.combine(first, time(), zone).astimezone(UTC) if first else None
    until = (
        datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC) if last else None
    )
    return since, until


def _actor_condition(session: Session, actor: str) -> ColumnElement[bool]:
    if actor.isdigit():
        return AuditEvent.actor == actor
    pattern = actor.strip()
    user_ids = session.scalars(
        select(User.id).where(
            or_(
                User.email.icontains(pattern, autoescape=True),
                (User.given_name + " " + User.family_name).icontains(pattern, autoescape=True),
                User.national_id == pattern,
            )
        )
    ).all()
    return or_(AuditEvent.actor == pattern, AuditEvent.actor.in_([str(i) for i in user_ids]))


def _filtered(session: Session, filters: AuditFilter, query: Select[Any]) -> Select[Any]:
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.actor.strip():
        query = query.where(_actor_condition(session, filters.actor.strip()))
    if filters.since is not None:
        query = query.where(AuditEvent.at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEvent.at < filters.until)
    text = filters.text.strip()
    if text:
        query = query.where(
            or_(
                AuditEvent.target.icontains(text, autoescape=True),
                cast(AuditEvent.details, String).icontains(text, autoescape=True),
                AuditEvent.ip == text,
                AuditEvent.request_id == text,
            )
        )
    return query


def count_events(session: Session, filters: AuditFilter) -> int:
    query = _filtered(session, filters, select(func.count()).select_from(AuditEvent))
    return int(session.scalar(query) or 0)


def list_events(
    session: Session, filters: AuditFilter, *, page: int = 1, per_page: int = 50
) -> AuditPage:
    """One page of the events matching ``filters``, newest first."""
    total = count_events(session, filters)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    query = (
        _filtered(session, filters, select(AuditEvent))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return AuditPage(list(session.scalars(query)), page, per_page, total)


def actions(session: Session) -> list[str]:
    """Every action present in the trail, and the known ones, sorted by label."""
    present: set[str] = set(session.scalars(select(AuditEvent.action).distinct()))
    return sorted(present | set(ACTION_LABELS), key=lambda a: str(ACTION_LABELS.get(a, a)).lower())


def actor_names(session: Session, events: list[AuditEvent]) -> dict[str, str]:
    """Display names of the actors that are user ids (one query for the page)."""
    ids = {int(e.actor) for e in events if e.actor and e.actor.isdigit()}
    if not ids:
        return {}
    users = session.scalars(select(User).where(User.id.in_(ids)))
    return {
        str(u.id): f"{u.given_name} {u.family_name}".strip() or (u.email or str(u.id))
        for u in users
    }


# --- CSV export --------------------------------------------------------------------

#: A cell starting like a formula is neutralised (OWASP "CSV injection"): a
#: spreadsheet opening the export must not evaluate what a user typed.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str | None) -> str:
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_row(event_: AuditEvent) -> list[str]:
    """One event as CSV cells: ISO UTC time, then the columns of :data:`CSV_COLUMNS`."""
    at = event_.at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    details = json.dumps(event_.details or {}, ensure_ascii=False, sort_keys=True)
    return [
        at,
        _cell(event_.actor),
        _cell(event_.action),
        _cell(event_.target),
        _cell(event_.ip),
        _cell(event_.request_id),
        details,
    ]


def record_export(
    session: Session, asked: AuditFilter, *, actor: str | None, now: datetime | None = None
) -> AuditFilter:
    """Audit a CSV export of the events matching ``asked`` (committed); the filter to export.

    The export is a snapshot: events recorded from ``now`` on (this export's own
    included) are left out, so the audited row count is the file's.
    """
    now = now or utcnow()
    filters = replace(asked, until=min(asked.until, now) if asked.until else now)
    rows = count_events(session, filters)
    record(
        session,
        "audit_export",
        actor=actor,
        details={"format": "csv", "rows": rows, "filters": asked.as_details()},
    )
    session.commit()
    return filters


def iter_csv(
    session: Session,
    filters: AuditFilter,
    *,
    batch: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> Iterator[str]:
    """The matching events as CSV text, header first, oldest first, in chunks.

    Rows are read ``batch`` at a time, so a large trail is streamed, not loaded;
    ``progress`` is called with the number of rows of each chunk.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    query = (
        _filtered(session, filters, select(AuditEvent))
        .order_by(AuditEvent.at, AuditEvent.id)
        .execution_options(yield_per=batch)
    )
    n = 0
    for n, event_ in enumerate(session.scalars(query), start=1):
        writer.writerow(csv_row(event_))
        if n % batch == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if progress is not None:
                progress(batch)
    yield buffer.getvalue()
    if progress is not None and n % batch:
        progress(n % batch)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change, and from where (for the audit trail)."""

    principal: Principal
    ip: str | None = None
    request_id: str | None = None

    @property
    def id(self) -> str:
        return str(self.principal.user_id)

    @property
    def national(self) -> bool:
        return "administrateur" in self.principal.roles

    def record(self, session: Session, action: str, target: str, **details: Any) -> None:
        record(
            session,
            action,
            actor=self.id,
            target=target,
            details=details,
            ip=self.ip,
            request_id=self.request_id,
        )
