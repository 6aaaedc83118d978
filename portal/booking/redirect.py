"""Booking a cached slot through the connector that owns it (``book_slot``, routed).

The regulator clicks a slot on a result card; the portal asks the slot's owner (only
it, under the connector deadline) how to book it: editors answer with their booking
page and our ``origin`` (opened in a new tab). The intent is recorded in the audit log
— who, which slot, from which source — never anything about the patient.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import pluggy
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import audit
from portal.domain import DEFAULT_DEADLINE_S, Booking, BookingRequest, slot_from_json
from portal.errors import ConnectorError, SlotNoLongerAvailable
from portal.models import CachedSlot
from portal.plugins import call_owner

AUDIT_ACTION = "creneau.reservation"


def book_cached_slot(
    session: Session,
    pm: pluggy.PluginManager,
    source: str,
    slot_id: str,
    *,
    request: BookingRequest,
    actor: str | None,
    configs: Mapping[str, Mapping[str, Any]],
    deadline: float = DEFAULT_DEADLINE_S,
) -> Booking:
    """Book (or get the booking page of) the cached slot ``slot_id`` of ``source``.

    Commits the audit event of an answered booking.

    :raises SlotNoLongerAvailable: the slot is no longer cached, or its owner says it is gone.
    :raises ConnectorError: no loaded connector owns the source, it failed, timed out,
        or gave no booking (message in French, for the regulator).
    """
    row = session.scalar(
        select(CachedSlot).where(CachedSlot.source == source, CachedSlot.upstream_id == slot_id)
    )
    if row is None:
        raise SlotNoLongerAvailable(
            "Ce créneau n'est plus proposé : relancez la recherche pour voir les créneaux à jour"
        )
    slot = slot_from_json(row.data)
    outcome = call_owner(
        pm, "book_slot", source, deadline=deadline, configs=configs, slot=slot, request=request
    )
    if outcome.error is not None:
        if isinstance(outcome.error, ConnectorError):
            raise outcome.error
        raise ConnectorError(f"{source} : erreur du connecteur ({outcome.error})") from (
            outcome.error
        )
    booking = outcome.value
    if not isinstance(booking, Booking):
        raise ConnectorError(f"{source} : le connecteur n'a proposé aucune réservation")
    if booking.redirect_url and urlsplit(booking.redirect_url).scheme not in {"http", "https"}:
        # the URL comes from an editor's data: never send a regulator to javascript:, data:…
        raise ConnectorError(f"{source} : adresse de réservation invalide")
    audit.record(
        session,
        AUDIT_ACTION,
        actor=actor,
        target=f"{source}/{slot_id}",
        details={
            "status": booking.status,
            "practitioner": slot.practitioner,
            "structure": slot.structure,
            "start": slot.start.isoformat(),
            "lrm_origin": request.origin,
        },
    )
    session.commit()
    return booking
