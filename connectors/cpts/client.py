"""HTTP side of CPTS tools: the INT_R04 slot search (the INT_R01 search plus the
HealthcareService → Organization includes that tie a slot to its CPTS)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from connectors.cpts import mapping
from portal.domain import Booking, Slot, SlotQuery, owns_source
from portal.identifiers import IDNPS_SYSTEM
from portal.kit import (
    ClientPool,
    Endpoint,
    check_section,
    fetch_window,
    fhir_instant,
    identifier_token,
    redirect_booking,
)

NAME = "cpts"
logger = logging.getLogger(__name__)
#: One pooled client per endpoint, opened by the ``startup`` hook, closed by ``shutdown``.
POOL = ClientPool()


def search_params(ids: Sequence[str], start: datetime, end: datetime) -> list[tuple[str, str]]:
    """The INT_R04 search, exactly as the national guide writes it."""
    return [
        ("_include", "Slot:schedule"),
        ("_include:iterate", "Schedule:actor"),
        ("start", "ge" + fhir_instant(start)),
        ("start", "le" + fhir_instant(end)),
        ("schedule.actor:Practitioner.identifier", identifier_token(IDNPS_SYSTEM, ids)),
        ("status", "free"),
        ("_include", "Slot:service-type-reference"),
        ("_include:iterate", "HealthcareService:organization"),
    ]


def fetch_slots(
    query: SlotQuery, config: Mapping[str, Any], *, transport: httpx.BaseTransport | None = None
) -> list[Slot] | None:
    """Slots of the query's CPTS member practitioners; ``None`` if none is bound here.

    The national search is by practitioner: a target that is a structure (the
    CPTS itself) cannot be searched and is skipped with a log line.
    """
    targets = query.for_source(NAME)
    if not targets:
        return None
    ids = [t.national_id for t in targets if t.kind == "practitioner"]
    if len(ids) < len(targets):
        logger.warning("%s : cibles non praticiennes ignorées (recherche par praticien)", NAME)
    endpoint = Endpoint.from_config(NAME, config)
    return fetch_window(
        endpoint, "Slot", ids, lambda b: search_params(b, query.start, query.end),
        lambda body: mapping.read_slots(body, source=NAME),
        query=query, owners="practitioners", log=logger, transport=transport, pool=POOL,
    )  # fmt: skip


def book_slot(slot: Slot, config: Mapping[str, Any]) -> Booking | None:
    """The redirect to the CPTS tool's booking page with ``origin``; ``None`` if not ours."""
    if not owns_source(NAME, slot.source):
        return None
    return redirect_booking(slot, origin=Endpoint.from_config(NAME, config).origin)


def check_config(config: Mapping[str, Any]) -> list[str]:
    """Problems of the section (``base_url``, certificate files…); ``[]`` when unconfigured."""
    return check_section(NAME, config) if config else []
