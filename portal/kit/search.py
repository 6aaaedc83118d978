"""The FHIR slot search every guide-conformant connector runs.

Dates in metropolitan French time, identifier tokens, batches of at most 25
national ids (the national rule), and :func:`fetch_window`: batched search,
tolerant reading, then only the asked owners' slots within the window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from portal.domain import MAX_IDS_PER_REQUEST, Slot, SlotQuery, SlotTarget
from portal.kit.client import ClientPool, send
from portal.kit.endpoint import Endpoint

#: The national rule: dates of searches are sent in metropolitan French time.
PARIS = ZoneInfo("Europe/Paris")
#: Used when a connector passes no pool of its own: one-off clients.
_UNPOOLED = ClientPool()


def targets_by_source(query: SlotQuery, name: str) -> dict[str, list[SlotTarget]]:
    """The query's targets bound to connector ``name`` (``name`` or ``name:…``), by source."""
    groups: dict[str, list[SlotTarget]] = {}
    for target in query.for_source(name):
        groups.setdefault(target.source, []).append(target)
    return groups


def fhir_instant(moment: datetime) -> str:
    """``2024-06-12T16:20:00.000+02:00``: milliseconds and the Europe/Paris offset."""
    if moment.tzinfo is None:
        raise ValueError("a FHIR search date must be timezone-aware")
    return moment.astimezone(PARIS).isoformat(timespec="milliseconds")


def identifier_token(system: str, values: Iterable[str]) -> str:
    """``system|v1,system|v2`` (FHIR token search, OR-ed by commas)."""
    return ",".join(f"{system}|{value}" for value in values)


def batched(ids: Iterable[str], size: int = MAX_IDS_PER_REQUEST) -> Iterator[list[str]]:
    """Distinct ids in order, ``size`` at a time (the national rule: at most 25)."""
    unique = list(dict.fromkeys(ids))
    for i in range(0, len(unique), size):
        yield unique[i : i + size]


def search_batches(
    endpoint: Endpoint,
    resource: str,
    ids: Iterable[str],
    params_for: Callable[[list[str]], Sequence[tuple[str, str]]],
    *,
    transport: httpx.BaseTransport | None = None,
    pool: ClientPool | None = None,
) -> Iterator[tuple[list[str], bytes]]:
    """``GET [base]/resource?…`` per batch of at most 25 ids; yields ``(batch, body)``.

    :param pool: the connector's :class:`ClientPool` (a one-off client without it).
    """
    with (pool or _UNPOOLED).client(endpoint, transport=transport) as client:
        for batch in batched(ids):
            url = endpoint.url(resource, params_for(batch))
            yield batch, send(client, "GET", url, source=endpoint.source).content


def select_slots(
    slots: Iterable[Slot],
    *,
    start: datetime,
    end: datetime,
    practitioners: Iterable[str] | None = None,
    structures: Iterable[str] | None = None,
) -> tuple[list[Slot], int]:
    """Keep the slots starting within ``[start, end]`` of the asked ids; count the rest."""
    wanted_ps = set(practitioners) if practitioners is not None else None
    wanted_st = set(structures) if structures is not None else None
    kept: list[Slot] = []
    dropped = 0
    for slot in slots:
        if (
            start <= slot.start <= end
            and (wanted_ps is None or slot.practitioner in wanted_ps)
            and (wanted_st is None or slot.structure in wanted_st)
        ):
            kept.append(slot)
        else:
            dropped += 1
    return kept, dropped


def fetch_window(
    endpoint: Endpoint,
    resource: str,
    ids: Iterable[str],
    params_for: Callable[[list[str]], Sequence[tuple[str, str]]],
    read: Callable[[bytes], tuple[list[Slot], list[str]]],
    *,
    query: SlotQuery,
    owners: str,
    log: Any,
    transport: httpx.BaseTransport | None = None,
    pool: ClientPool | None = None,
) -> list[Slot]:
    """The search loop every guide-conformant connector runs: batches of ≤ 25 ids,
    tolerant reading (warnings logged), then only the asked owners' slots in the window.

    :param owners: ``"practitioners"`` or ``"structures"``: which ids the batch names.
    :param pool: the connector's :class:`ClientPool` (a one-off client without it).
    """
    source = endpoint.source
    slots: list[Slot] = []
    batches = search_batches(endpoint, resource, ids, params_for, transport=transport, pool=pool)
    for batch, body in batches:
        found, warnings = read(body)
        for warning in warnings:
            log.warning("%s : %s", source, warning)
        kept, dropped = select_slots(found, start=query.start, end=query.end, **{owners: batch})
        if dropped:
            log.warning(
                "%s a renvoyé %d créneau(x) hors fenêtre ou pour des identifiants non demandés "
                "(ignorés)",
                source,
                dropped,
            )
        slots.extend(kept)
    return slots
