"""SAS participation settings of a practitioner, edited by themselves or their delegate.

An ``effecteur`` edits their own practitioner row (the ``practitioner_id`` of their
grant), a ``delegataire`` the rows of the practitioners they act for. Every change
is checked with :func:`portal.permissions.in_scope` and audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import Actor
from portal.models import Practitioner
from portal.permissions import ACTIONS, in_scope

ACTION = "manage_participation"
MODES = {
    "individual": "À titre individuel",
    "cpts": "Via une CPTS",
    "msp": "Via une maison de santé (MSP)",
    "sos": "Via SOS Médecins",
}
_FLAGS = (
    "sas_participation",
    "accepts_extra_patients",
    "refuses_public_display",
    "refuses_pro_display",
)


class ParticipationError(ValueError):
    """Invalid settings; the message (French) is shown to the user."""


@dataclass(frozen=True, slots=True)
class Settings:
    sas_participation: bool = False
    participation_mode: str | None = None
    accepts_extra_patients: bool = False
    refuses_public_display: bool = False
    refuses_pro_display: bool = False


@dataclass(frozen=True, slots=True)
class Editable:
    """A practitioner the user may edit, and on what ground."""

    practitioner: Practitioner
    own: bool  # their own row (effecteur) rather than as a delegate


def editable(session: Session, actor: Actor) -> list[Editable]:
    """The practitioners whose settings the actor may edit: their own first."""
    grants = [
        g
        for g in actor.principal.grants
        if g.role in ACTIONS[ACTION] and g.practitioner_id is not None
    ]
    own = {g.practitioner_id for g in grants if g.role == "effecteur"}
    ids = {g.practitioner_id for g in grants}
    rows = session.scalars(select(Practitioner).where(Practitioner.id.in_(ids))).all()
    return sorted(
        (Editable(p, p.id in own) for p in rows),
        key=lambda e: (not e.own, e.practitioner.family_name, e.practitioner.id),
    )


def update(
    session: Session, actor: Actor, practitioner_id: int, settings: Settings
) -> Practitioner:
    """Save a practitioner's settings; audited with what changed.

    :raises PermissionError: the actor may not edit this practitioner.
    :raises LookupError: no such practitioner.
    :raises ParticipationError: participating without a mode, or an unknown mode.
    """
    if not in_scope(actor.principal, ACTION, practitioner_id=practitioner_id):
        raise PermissionError(practitioner_id)
    practitioner = session.get(Practitioner, practitioner_id)
    if practitioner is None:
        raise LookupError(practitioner_id)
    mode = settings.participation_mode or None
    if mode is not None and mode not in MODES:
        raise ParticipationError("Mode de participation inconnu.")
    if settings.sas_participation and mode is None:
        raise ParticipationError("Précisez comment vous participez au SAS.")
    wanted = {flag: getattr(settings, flag) for flag in _FLAGS}
    wanted["participation_mode"] = mode if settings.sas_participation else None
    changes = {
        name: [getattr(practitioner, name), value]
        for name, value in wanted.items()
        if getattr(practitioner, name) != value
    }
    for name, value in wanted.items():
        setattr(practitioner, name, value)
    if changes:
        own = any(
            g.role == "effecteur" and g.practitioner_id == practitioner_id
            for g in actor.principal.grants
        )
        actor.record(
            session,
            "participation_changed",
            f"practitioner:{practitioner.national_id}",
            changes=changes,
            acting_as="effecteur" if own else "delegataire",
        )
    session.commit()
    return practitioner
