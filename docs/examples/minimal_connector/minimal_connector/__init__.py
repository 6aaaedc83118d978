"""Connector for Agenda Minimal, a (fictitious) editor with a small JSON API:

- ``GET {base_url}/slots?practitioners=8…,8…&from=<ISO 8601>&to=<ISO 8601>``
  answers ``{"slots": [{"id", "practitioner", "start", "end", "teleconsultation"}]}``;
- ``POST {base_url}/bookings`` with ``{"slot": <id>, "regulator": <id>}`` answers
  201 ``{"reference": …}``, or 409 when the slot was taken meanwhile.

Configuration section ``CONNECTORS["minimal"]``: ``base_url``, ``timeout_s``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
from portal import (
    AuthError,
    Booking,
    BookingRequest,
    ConnectorError,
    ConnectorInfo,
    ConnectorTimeout,
    MalformedResponse,
    Slot,
    SlotNoLongerAvailable,
    SlotQuery,
    Unavailable,
    UpstreamRejected,
    hookimpl,
    source_plugin,
)

NAME = "minimal"  # entry-point name = configuration key = Slot.source
BATCH = 25  # the national rule: at most 25 ids per upstream request
log = logging.getLogger(__name__)

#: HTTP status → our error; other 5xx are Unavailable, other 4xx UpstreamRejected.
STATUS_ERRORS: dict[int, type[ConnectorError]] = {
    401: AuthError,
    403: AuthError,
    409: SlotNoLongerAvailable,
    410: SlotNoLongerAvailable,
}


@hookimpl
def connector_info() -> ConnectorInfo:
    return ConnectorInfo(
        name=NAME,
        label="Agenda Minimal",
        kind="editor",
        capabilities=frozenset({"slots", "booking_direct"}),
        requires_contract="1.1",  # hookspecs.CONTRACT_VERSION this was written against
    )


@hookimpl
def fetch_slots(query: SlotQuery, config: Mapping[str, Any]) -> list[Slot] | None:
    sources = {t.national_id: t.source for t in query.for_source(NAME) if t.kind == "practitioner"}
    if not sources:
        return None  # no target of ours in this query
    ids = list(sources)
    slots: list[Slot] = []
    with _client(config) as client:
        for i in range(0, len(ids), BATCH):
            batch = ids[i : i + BATCH]
            params = {
                "practitioners": ",".join(batch),
                "from": query.start.isoformat(),
                "to": query.end.isoformat(),
            }
            for entry in _request(client, "GET", "/slots", params=params).get("slots") or []:
                slot = _slot(entry, sources)
                if slot and slot.practitioner in batch and query.start <= slot.start <= query.end:
                    slots.append(slot)
    return slots


@hookimpl
def book_slot(slot: Slot, request: BookingRequest, config: Mapping[str, Any]) -> Booking | None:
    if source_plugin(slot.source) != NAME:
        return None  # someone else's slot
    body = {"slot": slot.id, "regulator": request.regulator_id}
    with _client(config) as client:
        reference = _request(client, "POST", "/bookings", json=body).get("reference")
    if not reference:
        raise MalformedResponse(f"{NAME} : réservation sans référence")
    return Booking(slot.source, slot.id, "confirmed", reference=str(reference))


def _client(config: Mapping[str, Any]) -> httpx.Client:
    if not str(config.get("base_url") or "").startswith(("http://", "https://")):
        raise ConnectorError(f"{NAME} : configuration incomplète (base_url)")
    timeout = float(config.get("timeout_s", 5.0))
    return httpx.Client(base_url=config["base_url"], timeout=timeout, trust_env=False)


def _request(client: httpx.Client, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """One call; the answer's JSON object, or the portal's error for what went wrong."""
    try:
        response = client.request(method, path, **kwargs)
    except httpx.TimeoutException as exc:
        raise ConnectorTimeout(f"{NAME} n'a pas répondu à temps") from exc
    except httpx.TransportError as exc:
        raise Unavailable(f"{NAME} est injoignable ({exc})") from exc
    status = response.status_code
    if response.is_error:
        error = STATUS_ERRORS.get(status, Unavailable if status >= 500 else UpstreamRejected)
        raise error(f"{NAME} : erreur HTTP {status}", diagnostics=response.text[:300] or None)
    try:
        data = response.json()
    except ValueError as exc:
        raise MalformedResponse(f"{NAME} : réponse illisible (pas du JSON)") from exc
    if not isinstance(data, dict):
        raise MalformedResponse(f"{NAME} : un objet JSON était attendu")
    return data


def _slot(entry: Any, sources: Mapping[str, str]) -> Slot | None:
    """One upstream entry as a normalised Slot; ``None`` (logged) when it is unusable."""
    try:
        return Slot(
            source=sources[entry["practitioner"]],
            id=str(entry["id"]),
            practitioner=entry["practitioner"],
            start=datetime.fromisoformat(entry["start"]),  # Slot refuses naive times
            end=datetime.fromisoformat(entry["end"]),
            modalities=("teleconsultation",) if entry.get("teleconsultation") else ("cabinet",),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        log.warning("%s : entrée ignorée (%r) : %.200s", NAME, exc, entry)
        return None
