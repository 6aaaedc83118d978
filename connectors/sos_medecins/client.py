"""HTTP side of SOS Médecins: the Schedule search by the associations' SIRET."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from connectors.sos_medecins import mapping
from portal.domain import Booking, Slot, SlotQuery, owns_source, replace
from portal.identifiers import IDNST_SYSTEM
from portal.kit import (
    ClientPool,
    Endpoint,
    check_section,
    fetch_window,
    fhir_instant,
    identifier_token,
    redirect_booking,
)

NAME = "sos_medecins"
logger = logging.getLogger(__name__)
#: One pooled client per endpoint, opened by the ``startup`` hook, closed by ``shutdown``.
POOL = ClientPool()


def search_params(ids: Sequence[str], start: datetime, end: datetime) -> list[tuple[str, str]]:
    """The SOS Médecins search, exactly as the national guide writes it."""
    return [
        ("_revinclude", "Slot:schedule"),
        ("_include", "Schedule:actor:Location"),
        ("_include:iterate", "Location:organization"),
        ("_has:Slot:schedule:start", "ge" + fhir_instant(start)),
        ("_has:Slot:schedule:start", "le" + fhir_instant(end)),
        ("_has:Slot:schedule:status", "free"),
        ("actor:Location.organization.identifier", identifier_token(IDNST_SYSTEM, ids)),
    ]


def fetch_slots(
    query: SlotQuery, config: Mapping[str, Any], *, transport: httpx.BaseTransport | None = None
) -> list[Slot] | None:
    """Slots of the query's associations; ``None`` if none is bound here.

    Associations are searched by ``3``+SIRET; a slot keeps the target's own
    national id as ``structure`` (a FINESS-identified target stays so).
    """
    targets = query.for_source(NAME)
    if not targets:
        return None
    national_ids: dict[str, str] = {}  # searched 3+SIRET → the target's national id
    for target in targets:
        searched = mapping.structure_id(target.national_id, target.upstream_ids)
        if target.kind != "structure" or searched is None:
            logger.warning("%s : cible %s sans SIRET ignorée", NAME, target.national_id)
            continue
        national_ids.setdefault(searched, target.national_id)
    endpoint = Endpoint.from_config(NAME, config)
    found = fetch_window(
        endpoint, "Schedule", national_ids, lambda b: search_params(b, query.start, query.end),
        lambda body: mapping.read_slots(body, source=NAME),
        query=query, owners="structures", log=logger, transport=transport, pool=POOL,
    )  # fmt: skip
    return [
        replace(s, structure=national_ids[s.structure])
        if s.structure and national_ids[s.structure] != s.structure
        else s
        for s in found
    ]


def book_slot(slot: Slot, config: Mapping[str, Any]) -> Booking | None:
    """The redirect to the association's booking page with ``origin``; ``None`` if not ours."""
    if not owns_source(NAME, slot.source):
        return None
    return redirect_booking(slot, origin=Endpoint.from_config(NAME, config).origin)


def check_config(config: Mapping[str, Any]) -> list[str]:
    """Problems of the section (``base_url``, certificate files…); ``[]`` when unconfigured."""
    return check_section(NAME, config) if config else []
