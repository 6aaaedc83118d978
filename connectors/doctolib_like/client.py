"""HTTP side of the editors: INT_R01 slot search and INT_R02 regulator accounts.

Each editor is its own source, ``doctolib_like:<editor>``, configured under
``config["editors"][<editor>]``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

import httpx

from connectors.doctolib_like import mapping
from portal.domain import (
    Booking,
    RegulatorAccount,
    Slot,
    SlotQuery,
    owns_source,
    source_detail,
)
from portal.errors import ConnectorError
from portal.identifiers import IDNPS_SYSTEM
from portal.kit import (
    ClientPool,
    Endpoint,
    check_section,
    encode_query,
    fetch_window,
    fhir_instant,
    identifier_token,
    raise_failures,
    redirect_booking,
    send,
    targets_by_source,
)

NAME = "doctolib_like"
logger = logging.getLogger(__name__)
#: One pooled client per editor endpoint, opened by ``startup``, closed by ``shutdown``.
POOL = ClientPool()


def search_params(ids: Sequence[str], start: datetime, end: datetime) -> list[tuple[str, str]]:
    """The INT_R01 search, exactly as the national guide writes it."""
    return [
        ("_include", "Slot:schedule"),
        ("_include:iterate", "Schedule:actor"),
        ("start", "ge" + fhir_instant(start)),
        ("start", "le" + fhir_instant(end)),
        ("schedule.actor:Practitioner.identifier", identifier_token(IDNPS_SYSTEM, ids)),
        ("status", "free"),
    ]


def editor_endpoint(source: str, config: Mapping[str, Any]) -> Endpoint:
    """The endpoint of ``doctolib_like:<editor>``.

    :raises ConnectorError: unknown, incomplete or disabled editor (message names it).
    """
    editor = source_detail(source)
    section = (config.get("editors") or {}).get(editor) if editor else None
    if section is None:
        raise ConnectorError(f"{source} : éditeur « {editor} » absent de la configuration")
    return Endpoint.from_config(source, section)


def fetch_slots(
    query: SlotQuery, config: Mapping[str, Any], *, transport: httpx.BaseTransport | None = None
) -> list[Slot] | None:
    """Slots of the query's practitioners bound to an editor; ``None`` if none is."""
    groups = targets_by_source(query, NAME)
    if not groups:
        return None
    slots: list[Slot] = []
    failures: list[ConnectorError] = []
    for source, targets in groups.items():
        try:
            endpoint = editor_endpoint(source, config)
            ids = [t.national_id for t in targets if t.kind == "practitioner"]
            if len(ids) < len(targets):
                logger.warning("%s : cibles non praticiennes ignorées", source)
            slots += fetch_window(
                endpoint, "Slot", ids, lambda b: search_params(b, query.start, query.end),
                partial(mapping.read_slots, source=source),
                query=query, owners="practitioners", log=logger, transport=transport,
                pool=POOL,
            )  # fmt: skip
        except ConnectorError as exc:
            failures.append(exc)
    raise_failures(failures)
    return slots


def book_slot(slot: Slot, config: Mapping[str, Any]) -> Booking | None:
    """The redirect to the editor's booking page with its ``origin``; ``None`` if not ours."""
    if not owns_source(NAME, slot.source) or not source_detail(slot.source):
        return None
    return redirect_booking(slot, origin=editor_endpoint(slot.source, config).origin)


def provision_regulator(
    account: RegulatorAccount,
    config: Mapping[str, Any],
    *,
    transport: httpx.BaseTransport | None = None,
) -> None:
    """Create/update/deactivate ``account`` at every enabled editor (conditional PUT).

    Every editor is tried; one error then summarises the failures. No retry here:
    the portal's outbox retries (the PUT is idempotent).
    """
    body = mapping.regulator_resource(account)
    params = [("identifier", f"{account.identifier_system}|{account.identifier_value}")]
    failures: list[ConnectorError] = []
    for editor, section in sorted((config.get("editors") or {}).items()):
        if not section.get("enabled", True):
            continue
        source = f"{NAME}:{editor}"
        try:
            endpoint = Endpoint.from_config(source, section)
            with POOL.client(endpoint, transport=transport) as client:
                url = f"{endpoint.base_url}/Practitioner?{encode_query(params)}"
                send(client, "PUT", url, source=source, json=body)
        except ConnectorError as exc:
            logger.warning("%s : compte régulateur non transmis : %s", source, exc)
            failures.append(exc)
    raise_failures(failures)


def check_config(config: Mapping[str, Any]) -> list[str]:
    """Problems of each editor's section (``config["editors"][<editor>]``); ``[]`` when
    the connector is not configured at all."""
    if not config:
        return []
    editors = config.get("editors")
    if not isinstance(editors, Mapping) or not editors:
        return [f"{NAME} : aucun éditeur configuré (table « editors » vide ou absente)"]
    problems: list[str] = []
    for editor, section in sorted(editors.items()):
        problems += check_section(f"{NAME}:{editor}", section)
    return problems
